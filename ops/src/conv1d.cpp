#include <string>
#include <vector>

#include "ssm_common.hpp"
#include "vkml/kernel.hpp"
#include "vkml/ops/ssm.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct Conv1dParams {
    uint32_t batch, len, dim, width, has_bias, has_state, act_silu;
    // Ranges (ssm_common.hpp): element shifts of the windows, and x_hist, the rows of x before
    // the first output row that the x window holds (the K-1 inputs a later time range needs).
    uint32_t x_shift, x_hist, s_shift, y_shift;
};
static_assert(sizeof(Conv1dParams) <= 128);

constexpr int64_t kMaxWidth = 16;  // shaders/conv1d.comp: kMaxWidth

uint32_t workgroup_size(const Device& dev) { return std::min<uint32_t>(256, dev.caps().max_workgroup_invocations); }

}  // namespace

void causal_conv1d(Stream& s, const Tensor& x, const Tensor& w, const Tensor& bias,
                   const Tensor& y, const Tensor& state, bool silu) {
    const char* op = "causal_conv1d";
    check_dtype(op, x, "x", {DType::f32});
    check_dtype(op, w, "w", {DType::f32});
    if (x.rank() != 3) fail(op, "x " + x.describe() + " must be [B, L, D]");
    if (w.rank() != 2) fail(op, "w " + w.describe() + " must be [D, K]");
    const int64_t batch = x.dim(0), len = x.dim(1), dim = x.dim(2), width = w.dim(1);
    if (batch < 1 || len < 1 || dim < 1) fail(op, "x " + x.describe() + " is empty");
    if (width < 1 || width > kMaxWidth)
        fail(op, "w " + w.describe() + ": width K must be in [1, " + std::to_string(kMaxWidth) + "]");
    check_f32_dims(op, w, "w", {dim, width});
    check_f32_dims(op, y, "y", {batch, len, dim});
    if (bias) check_f32_dims(op, bias, "bias", {dim});
    if (state) {
        if (width < 2) fail(op, "a state needs width K >= 2, got w " + w.describe());
        check_f32_dims(op, state, "state", {batch, width - 1, dim});
    }
    for (const Tensor* t : {&w, &y, &bias, &state})
        if (*t) check_same_device(op, x, *t);
    check_u32(op, x.numel(), "element count");
    check_fits(op, w, "w");
    check_fits(op, bias, "bias");

    Device& dev = s.device();
    const uint32_t wg = workgroup_size(dev);
    const int64_t hist = width - 1;
    const uint64_t row = static_cast<uint64_t>(dim) * 4;
    // A time range after the first also binds the hist rows before it.
    const auto ranges = plan_seq_ranges(op, batch, len, 1, [&](int64_t seqs, int64_t tokens) {
        return seq_fits(dev, seqs, tokens + (tokens < len ? hist : 0), row, state ? hist * row : 0);
    });
    const Kernel& conv = dev.kernel("conv1d_f32", {wg});
    for (const SeqRange& r : ranges) {
        const int64_t x_hist = std::min(r.t0, hist);
        const Window xw = window(op, x, (r.b0 * len + r.t0 - x_hist) * dim, (r.batch() * r.len() + x_hist) * dim);
        const Window yw = window(op, y, (r.b0 * len + r.t0) * dim, r.batch() * r.len() * dim);
        const Window sw = state ? window(op, state, r.b0 * hist * dim, r.batch() * hist * dim) : Window{xw.view, 0};
        const Conv1dParams p{static_cast<uint32_t>(r.batch()), static_cast<uint32_t>(r.len()),
                             static_cast<uint32_t>(dim), static_cast<uint32_t>(width),
                             bias ? 1u : 0u, state ? 1u : 0u, silu ? 1u : 0u,
                             xw.shift, static_cast<uint32_t>(x_hist), sw.shift, yw.shift};
        // Unused optional bindings are bound to x (read-only; never read by the shader).
        s.dispatch(conv, {in(xw.view), in(w), in(bias ? bias : xw.view), in(sw.view), out(yw.view)}, p,
                   grid_1d(dev, ceil_div(static_cast<uint64_t>(r.batch() * r.len() * dim), wg)), op);
    }
    if (!state) return;
    // After every range has read the old window: the new one is the last hist inputs of each
    // sequence (fewer when the sequence is shorter; the kernel then keeps older state entries).
    const Kernel& upd = dev.kernel("conv1d_state_f32", {wg});
    for (const SeqRange& r : ranges) {
        if (r.t1 != len) continue;
        const int64_t tail = r.t0 == 0 ? len : std::min(len, hist);  // whole sequences or the last rows
        const Window xw = window(op, x, (r.b0 * len + len - tail) * dim, r.batch() * tail * dim);
        const Window sw = window(op, state, r.b0 * hist * dim, r.batch() * hist * dim);
        const Conv1dParams p{static_cast<uint32_t>(r.batch()), static_cast<uint32_t>(tail),
                             static_cast<uint32_t>(dim), static_cast<uint32_t>(width), 0u, 1u, 0u,
                             xw.shift, 0u, sw.shift, 0u};
        s.dispatch(upd, {in(xw.view), inout(sw.view)}, p,
                   grid_1d(dev, ceil_div(static_cast<uint64_t>(r.batch() * dim), wg)), "causal_conv1d_state");
    }
}

void causal_conv1d_step(Stream& s, const Tensor& x, const Tensor& w, const Tensor& bias,
                        const Tensor& y, const Tensor& state, bool silu) {
    const char* op = "causal_conv1d_step";
    check_present(op, x, "x");
    check_present(op, y, "y");
    check_present(op, state, "state");
    if (x.rank() != 2 || y.rank() != 2)
        fail(op, "x " + x.describe() + " and y " + y.describe() + " must be [B, D]");
    causal_conv1d(s, x.reshape({x.dim(0), 1, x.dim(1)}), w, bias, y.reshape({y.dim(0), 1, y.dim(1)}),
                  state, silu);
}

}  // namespace vkml::ops
