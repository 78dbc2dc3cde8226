#include <string>

#include "op_common.hpp"
#include "vkml/kernel.hpp"
#include "vkml/ops/ssm.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct Conv1dParams {
    uint32_t batch, len, dim, width, has_bias, has_state, act_silu;
};
static_assert(sizeof(Conv1dParams) <= 128);

constexpr int64_t kMaxWidth = 16;  // shaders/conv1d.comp: kMaxWidth

void check_dims(const char* op, const Tensor& t, const char* name, const Shape& want) {
    if (t.shape() != want)
        fail(op, std::string(name) + " " + t.describe() + " must have shape " + shape_string(want));
}

void check_fits(const char* op, const Tensor& t, const char* name) {
    if (t && t.bytes() > t.device().caps().max_storage_buffer_range)
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + name + " " + t.describe() +
                                                " exceeds maxStorageBufferRange");
}

uint32_t workgroup_size(const Device& dev) { return std::min<uint32_t>(256, dev.caps().max_workgroup_invocations); }

}  // namespace

void causal_conv1d(Stream& s, const Tensor& x, const Tensor& w, const Tensor& bias,
                   const Tensor& y, const Tensor& state, bool silu) {
    const char* op = "causal_conv1d";
    check_dtype(op, x, "x", {DType::f32});
    check_dtype(op, w, "w", {DType::f32});
    check_dtype(op, y, "y", {DType::f32});
    if (x.rank() != 3) fail(op, "x " + x.describe() + " must be [B, L, D]");
    if (w.rank() != 2) fail(op, "w " + w.describe() + " must be [D, K]");
    const int64_t batch = x.dim(0), len = x.dim(1), dim = x.dim(2), width = w.dim(1);
    if (batch < 1 || len < 1 || dim < 1) fail(op, "x " + x.describe() + " is empty");
    if (width < 1 || width > kMaxWidth)
        fail(op, "w " + w.describe() + ": width K must be in [1, " + std::to_string(kMaxWidth) + "]");
    check_dims(op, w, "w", {dim, width});
    check_same_shape(op, x, "x", y, "y");
    if (bias) {
        check_dtype(op, bias, "bias", {DType::f32});
        check_dims(op, bias, "bias", {dim});
    }
    if (state) {
        check_dtype(op, state, "state", {DType::f32});
        if (width < 2) fail(op, "a state needs width K >= 2, got w " + w.describe());
        check_dims(op, state, "state", {batch, width - 1, dim});
    }
    for (const Tensor* t : {&w, &y, &bias, &state})
        if (*t) check_same_device(op, x, *t);
    check_u32(op, x.numel(), "element count");
    for (auto [t, n] : {std::pair{&x, "x"}, {&y, "y"}, {&state, "state"}}) check_fits(op, *t, n);

    Device& dev = s.device();
    const uint32_t wg = workgroup_size(dev);
    const Conv1dParams p{static_cast<uint32_t>(batch), static_cast<uint32_t>(len),
                         static_cast<uint32_t>(dim),   static_cast<uint32_t>(width),
                         bias ? 1u : 0u,               state ? 1u : 0u,
                         silu ? 1u : 0u};
    // Unused optional bindings are bound to x (read-only; never read by the shader).
    const Tensor& b_or = bias ? bias : x;
    const Tensor& s_or = state ? state : x;
    s.dispatch(dev.kernel("conv1d_f32", {wg}), {in(x), in(w), in(b_or), in(s_or), out(y)}, p,
               grid_1d(dev, ceil_div(static_cast<uint64_t>(x.numel()), wg)), op);
    if (state)
        s.dispatch(dev.kernel("conv1d_state_f32", {wg}), {in(x), inout(state)}, p,
                   grid_1d(dev, ceil_div(static_cast<uint64_t>(batch * dim), wg)), "causal_conv1d_state");
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
