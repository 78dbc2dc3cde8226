#include "vkml/ops/rnn.hpp"

#include <string>
#include <utility>

#include "ssm_common.hpp"
#include "vkml/kernel.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct RnnParams {
    uint32_t batch, len, heads, t_begin, t_end;
    uint32_t wx_shift, st_shift, y_shift;  // ranges (ssm_common.hpp): window shifts
};
static_assert(sizeof(RnnParams) <= 128);

constexpr int64_t kMaxHeadDim = 256;

// Under a loop-iteration limit (has_loop_limit: llvmpipe) a long sequence runs as several
// dispatches that hand the state over, each within this many iterations.
constexpr int64_t kRnnLoopBudget = 50000;

const char* cell_name(RnnCell c) {
    return c == RnnCell::Lstm ? "rnn(lstm)" : c == RnnCell::Gru ? "rnn(gru)" : "rnn(slstm)";
}

}  // namespace

int rnn_input_gates(RnnCell cell) { return cell == RnnCell::Gru ? 3 : 4; }
int rnn_recurrent_gates(RnnCell cell) { return cell == RnnCell::Gru ? 3 : 4; }
int rnn_state_count(RnnCell cell) { return cell == RnnCell::Lstm ? 2 : cell == RnnCell::Gru ? 1 : 4; }

void rnn(Stream& s, RnnCell cell, const Tensor& wx, const Tensor& R, const Tensor& bias,
         const Tensor& y, const Tensor& state) {
    const char* op = cell_name(cell);
    check_dtype(op, wx, "wx", {DType::f32});
    check_dtype(op, R, "R", {DType::f32});
    if (wx.rank() != 4) fail(op, "wx " + wx.describe() + " must be [Bt, L, Gw, H*dh]");
    if (R.rank() != 4) fail(op, "R " + R.describe() + " must be [H, Gr, dh, dh]");
    const int64_t batch = wx.dim(0), len = wx.dim(1), heads = R.dim(0), dh = R.dim(2);
    const int64_t gw = rnn_input_gates(cell), gr = rnn_recurrent_gates(cell), ns = rnn_state_count(cell);
    if (batch < 1 || len < 1 || heads < 1 || dh < 1) fail(op, "wx " + wx.describe() + " or R " + R.describe() + " is empty");
    if (dh > kMaxHeadDim) fail(op, "head size dh = " + std::to_string(dh) + " exceeds 256");
    check_inputs(op, wx, {{&wx, "wx", {batch, len, gw, heads * dh}},
                          {&R, "R", {heads, gr, dh, dh}},
                          {&bias, "bias", {4, heads, dh}},
                          {&y, "y", {batch, len, heads, dh}},
                          {&state, "state", {batch, ns, heads, dh}}});
    check_u32(op, wx.numel(), "element count");
    Device& dev = s.device();
    const Capabilities& caps = dev.caps();
    check_fits(op, R, "R");
    check_fits(op, bias, "bias");

    if (dh > caps.max_workgroup_size[0] || dh > caps.max_workgroup_invocations)
        throw Error(ErrorKind::Unsupported, std::string(op) + ": head size " + std::to_string(dh) +
                                                " exceeds the device's workgroup size");
    // Sequences per workgroup: up to 4, within the invocation limit (dh <= 256 always fits one).
    const uint32_t per_group = static_cast<uint32_t>(
        std::clamp<int64_t>(std::min<int64_t>(batch, caps.max_workgroup_invocations / dh), 1, 4));
    const uint64_t r_floats = static_cast<uint64_t>(gr * dh * dh);
    const uint64_t ybuf_bytes = 2ull * per_group * dh * 4;
    const bool r_shared = r_floats * 4 + ybuf_bytes + 256 <= caps.max_shared_memory;
    const std::vector<uint32_t> spec{static_cast<uint32_t>(dh), per_group, r_shared ? static_cast<uint32_t>(r_floats) : 1u};
    const char* kernel = cell == RnnCell::Lstm ? "rnn_lstm_f32" : cell == RnnCell::Gru ? "rnn_gru_f32" : "rnn_slstm_f32";
    // Iterations per step: the k-loop over dh plus the gate loops.
    const int64_t steps = has_loop_limit(caps) ? std::max<int64_t>(1, kRnnLoopBudget / (dh + 16)) : len;
    if (heads > caps.max_workgroup_count[0] || ceil_div(batch, per_group) > caps.max_workgroup_count[1])
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + wx.describe() + " needs more workgroups than the device allows");
    // Per token wx (Gw gates) and y; per sequence the state. The recurrence is sequential, so
    // time ranges need no alignment; per_group (a spec constant) stays that of the whole batch.
    const uint64_t unit = static_cast<uint64_t>(heads * dh) * 4;
    const auto ranges = plan_seq_ranges(op, batch, len, 1, [&](int64_t seqs, int64_t tokens) {
        return seq_fits(dev, seqs, tokens, static_cast<uint64_t>(gw) * unit, static_cast<uint64_t>(ns) * unit);
    });
    const Kernel& k = dev.kernel(kernel, spec);
    const int64_t tok_floats = heads * dh;
    for (const SeqRange& r : ranges) {
        const int64_t tok = r.b0 * len + r.t0, ntok = r.batch() * r.len();
        const Window ww = window(op, wx, tok * gw * tok_floats, ntok * gw * tok_floats);
        const Window yw = window(op, y, tok * tok_floats, ntok * tok_floats);
        const Window sw = window(op, state, r.b0 * ns * tok_floats, r.batch() * ns * tok_floats);
        for (int64_t t0 = 0; t0 < r.len(); t0 += steps) {
            const RnnParams p{static_cast<uint32_t>(r.batch()), static_cast<uint32_t>(r.len()),
                              static_cast<uint32_t>(heads), static_cast<uint32_t>(t0),
                              static_cast<uint32_t>(std::min(r.len(), t0 + steps)), ww.shift, sw.shift, yw.shift};
            s.dispatch(k, {in(ww.view), in(R), in(bias), inout(sw.view), out(yw.view)}, p,
                       Groups{static_cast<uint32_t>(heads), ceil_div(r.batch(), per_group), 1}, op);
        }
    }
}

void rnn_step(Stream& s, RnnCell cell, const Tensor& wx, const Tensor& R, const Tensor& bias,
              const Tensor& y, const Tensor& state) {
    const char* op = cell_name(cell);
    check_rank(op, wx, "step: wx [Bt, Gw, H*dh]", 3);
    check_rank(op, y, "step: y [Bt, H, dh]", 3);
    rnn(s, cell, one_token(wx), R, bias, one_token(y), state);
}

}  // namespace vkml::ops
