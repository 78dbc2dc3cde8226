#include <memory>
#include <string>
#include <utility>

#include "ssm_common.hpp"
#include "vkml/kernel.hpp"
#include "vkml/ops/ssm.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct S5Params {
    uint32_t batch, len, states, hdim, seg, block, nblocks, write_back;
    uint32_t u_shift, y_shift, st_shift, c_shift;  // ranges: window shifts (state ones in vec2s)
};
static_assert(sizeof(S5Params) <= 128);

constexpr uint32_t kStatesPerGroup = 8;  // x: consecutive states, so loads coalesce
constexpr uint32_t kTokensPerInvocation = 16;

}  // namespace

void s5(Stream& s, const Tensor& u, const S5Weights& w, const Tensor& y, const Tensor& state) {
    const char* op = "s5";
    check_dtype(op, u, "u", {DType::f32});
    check_dtype(op, w.lambda, "lambda", {DType::f32});
    if (u.rank() != 3) fail(op, "u " + u.describe() + " must be [Bt, L, H]");
    if (w.lambda.rank() != 2) fail(op, "lambda " + w.lambda.describe() + " must be [P, 2]");
    const int64_t batch = u.dim(0), len = u.dim(1), hdim = u.dim(2), states = w.lambda.dim(0);
    if (batch < 1 || len < 1 || hdim < 1 || states < 1) fail(op, "u " + u.describe() + " or lambda " + w.lambda.describe() + " is empty");
    check_inputs(op, u, {{&w.lambda, "lambda", {states, 2}},
                         {&w.log_step, "log_step", {states}},
                         {&w.B, "B", {states, hdim, 2}},
                         {&w.C, "C", {hdim, states, 2}},
                         {&w.D, "D", {hdim}},
                         {&y, "y", {batch, len, hdim}},
                         {&state, "state", {batch, states, 2}}});
    check_u32(op, batch * len * std::max(hdim, states), "element count");
    for (auto [t, nm] : {std::pair{&w.lambda, "lambda"}, {&w.B, "B"}, {&w.C, "C"}}) check_fits(op, *t, nm);

    Device& dev = s.device();
    const Capabilities& caps = dev.caps();
    const uint32_t segs = std::min<uint32_t>(32, caps.max_workgroup_invocations / kStatesPerGroup);
    const uint32_t block = segs * kTokensPerInvocation;
    // Ranges start at block boundaries, so a split run computes exactly what an unsplit one does.
    // Per token: u, y (H floats) and the scan scratch (P complex); per sequence the state.
    const uint64_t token_bytes = static_cast<uint64_t>(std::max(hdim, 2 * states)) * 4;
    const auto ranges = plan_seq_ranges(op, batch, len, block, [&](int64_t seqs, int64_t tokens) {
        return seq_fits(dev, seqs, tokens, token_bytes, static_cast<uint64_t>(states) * 8);
    });
    const SeqRange& big = ranges.front();  // the largest range sizes the scratch
    const int64_t max_blocks = (big.len() + block - 1) / block;
    if (max_blocks > caps.max_workgroup_count[1] || big.batch() > caps.max_workgroup_count[2])
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + u.describe() + " needs more workgroups than the device allows");
    auto xs = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, {big.batch(), big.len(), states, 2}));
    s.hold(xs);
    // One block for the whole sequence: the scan pass reads and writes `state` itself. Otherwise
    // every range takes the block and carry passes, even a range of one block, as the unsplit
    // run does.
    const bool single = len <= block;
    std::shared_ptr<Tensor> carry;
    if (!single) {
        carry = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, {big.batch(), max_blocks, states, 2}));
        s.hold(carry);
    }

    const uint32_t wg = std::min<uint32_t>(256, caps.max_workgroup_invocations);
    const std::vector<uint32_t> spec1d{wg, 1}, spec2d{kStatesPerGroup, segs};
    for (const SeqRange& r : ranges) {
        const int64_t nblocks = (r.len() + block - 1) / block;
        const int64_t tok = r.b0 * len + r.t0, ntok = r.batch() * r.len();
        const Window uw = window(op, u, tok * hdim, ntok * hdim), yw = window(op, y, tok * hdim, ntok * hdim);
        const Window sw = window(op, state, r.b0 * states, r.batch() * states, 8);
        S5Params p{static_cast<uint32_t>(r.batch()), static_cast<uint32_t>(r.len()), static_cast<uint32_t>(states),
                   static_cast<uint32_t>(hdim), kTokensPerInvocation, block, static_cast<uint32_t>(nblocks), 0u,
                   uw.shift, yw.shift, sw.shift, 0u};
        const Groups scan_groups{ceil_div(states, kStatesPerGroup), static_cast<uint32_t>(nblocks),
                                 static_cast<uint32_t>(r.batch())};
        s.dispatch(dev.kernel("s5_bu_f32", spec1d), {in(w.lambda), in(w.log_step), in(w.B), in(uw.view), out(*xs)}, p,
                   grid_1d(dev, ceil_div(static_cast<uint64_t>(ntok * states), wg)), "s5_bu");
        if (single) {
            p.write_back = 1;
            p.c_shift = sw.shift;
            s.dispatch(dev.kernel("s5_out_f32", spec2d), {in(w.lambda), in(w.log_step), inout(*xs), inout(sw.view)}, p,
                       scan_groups, "s5_scan");
        } else {
            s.dispatch(dev.kernel("s5_block_f32", spec2d), {in(w.lambda), in(w.log_step), in(*xs), out(*carry)}, p,
                       scan_groups, "s5_block");
            s.dispatch(dev.kernel("s5_carry_f32", spec1d), {in(w.lambda), in(w.log_step), inout(*carry), inout(sw.view)},
                       p, grid_1d(dev, ceil_div(static_cast<uint64_t>(r.batch() * states), wg)), "s5_carry");
            s.dispatch(dev.kernel("s5_out_f32", spec2d), {in(w.lambda), in(w.log_step), inout(*xs), inout(*carry)}, p,
                       scan_groups, "s5_scan");
        }
        s.dispatch(dev.kernel("s5_y_f32", spec1d), {in(w.C), in(w.D), in(uw.view), in(*xs), out(yw.view)}, p,
                   grid_1d(dev, ceil_div(static_cast<uint64_t>(ntok * hdim), wg)), "s5_y");
    }
}

void s5_step(Stream& s, const Tensor& u, const S5Weights& w, const Tensor& y, const Tensor& state) {
    const char* op = "s5_step";
    check_present(op, u, "u");
    check_present(op, y, "y");
    if (u.rank() != 2 || y.rank() != 2) fail(op, "u " + u.describe() + " and y " + y.describe() + " must be [Bt, H]");
    s5(s, one_token(u), w, one_token(y), state);
}

}  // namespace vkml::ops
