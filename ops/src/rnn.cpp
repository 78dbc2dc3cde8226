#include "vkml/ops/rnn.hpp"

#include <string>
#include <utility>

#include "op_common.hpp"
#include "vkml/kernel.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct RnnParams {
    uint32_t batch, len, heads, t_begin, t_end;
};
static_assert(sizeof(RnnParams) <= 128);

constexpr int64_t kMaxHeadDim = 256;

// llvmpipe (lavapipe) silently ends a shader invocation's loops after 65535 iterations in
// total; there a long sequence runs as several dispatches that hand the state over.
bool has_loop_limit(const Capabilities& c) {
    return c.name.find("llvmpipe") != std::string::npos || c.driver_name.find("llvmpipe") != std::string::npos;
}
constexpr int64_t kLoopBudget = 50000;

const char* cell_name(RnnCell c) {
    return c == RnnCell::Lstm ? "rnn(lstm)" : c == RnnCell::Gru ? "rnn(gru)" : "rnn(slstm)";
}

void check_dims(const char* op, const Tensor& t, const char* name, const Shape& want) {
    check_dtype(op, t, name, {DType::f32});
    if (t.shape() != want)
        fail(op, std::string(name) + " " + t.describe() + " must have shape " + shape_string(want));
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
    check_dims(op, wx, "wx", {batch, len, gw, heads * dh});
    check_dims(op, R, "R", {heads, gr, dh, dh});
    check_dims(op, bias, "bias", {4, heads, dh});
    check_dims(op, y, "y", {batch, len, heads, dh});
    check_dims(op, state, "state", {batch, ns, heads, dh});
    for (const Tensor* t : {&R, &bias, &y, &state}) check_same_device(op, wx, *t);
    check_u32(op, wx.numel(), "element count");
    Device& dev = s.device();
    const Capabilities& caps = dev.caps();
    for (auto [t, nm] : {std::pair{&wx, "wx"}, {&y, "y"}, {&R, "R"}})
        if (t->bytes() > caps.max_storage_buffer_range)
            throw Error(ErrorKind::Unsupported, std::string(op) + ": " + nm + " " + t->describe() + " exceeds maxStorageBufferRange");

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
    const int64_t window = has_loop_limit(caps) ? std::max<int64_t>(1, kLoopBudget / (dh + 16)) : len;
    if (heads > caps.max_workgroup_count[0] || ceil_div(batch, per_group) > caps.max_workgroup_count[1])
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + wx.describe() + " needs more workgroups than the device allows");
    const Kernel& k = dev.kernel(kernel, spec);
    for (int64_t t0 = 0; t0 < len; t0 += window) {
        const RnnParams p{static_cast<uint32_t>(batch), static_cast<uint32_t>(len), static_cast<uint32_t>(heads),
                          static_cast<uint32_t>(t0), static_cast<uint32_t>(std::min(len, t0 + window))};
        s.dispatch(k, {in(wx), in(R), in(bias), inout(state), out(y)}, p,
                   Groups{static_cast<uint32_t>(heads), ceil_div(batch, per_group), 1}, op);
    }
}

void rnn_step(Stream& s, RnnCell cell, const Tensor& wx, const Tensor& R, const Tensor& bias,
              const Tensor& y, const Tensor& state) {
    const char* op = cell_name(cell);
    check_present(op, wx, "wx");
    check_present(op, y, "y");
    if (wx.rank() != 3 || y.rank() != 3)
        fail(op, "step: wx " + wx.describe() + " must be [Bt, Gw, H*dh] and y " + y.describe() + " [Bt, H, dh]");
    rnn(s, cell, wx.reshape({wx.dim(0), 1, wx.dim(1), wx.dim(2)}), R, bias,
        y.reshape({y.dim(0), 1, y.dim(1), y.dim(2)}), state);
}

}  // namespace vkml::ops
