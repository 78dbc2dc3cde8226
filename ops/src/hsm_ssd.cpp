#include <memory>
#include <string>

#include "op_common.hpp"
#include "vkml/kernel.hpp"
#include "vkml/ops/matmul.hpp"
#include "vkml/ops/ssm.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct HsmParams {
    uint32_t batch, len, states, channels;
};
static_assert(sizeof(HsmParams) <= 128);

struct DwParams {
    uint32_t batch, height, width, channels;
};
static_assert(sizeof(DwParams) <= 128);

void check_dims(const char* op, const Tensor& t, const char* name, const Shape& want) {
    check_dtype(op, t, name, {DType::f32});
    if (t.shape() != want)
        fail(op, std::string(name) + " " + t.describe() + " must have shape " + shape_string(want));
}

}  // namespace

void hsm_ssd(Stream& s, const Tensor& x, int64_t height, int64_t width, const HsmSsdWeights& w,
             const Tensor& y) {
    const char* op = "hsm_ssd";
    check_dtype(op, x, "x", {DType::f32});
    check_dtype(op, w.w_bcdt, "w_bcdt", {DType::f32});
    if (x.rank() != 3) fail(op, "x " + x.describe() + " must be [Bt, L, C]");
    if (w.w_bcdt.rank() != 2 || w.w_bcdt.dim(0) % 3 != 0)
        fail(op, "w_bcdt " + w.w_bcdt.describe() + " must be [3N, C]");
    const int64_t batch = x.dim(0), len = x.dim(1), ch = x.dim(2), n = w.w_bcdt.dim(0) / 3;
    if (height < 1 || width < 1 || height * width != len)
        fail(op, "grid " + std::to_string(height) + " x " + std::to_string(width) + " does not hold the " +
                     std::to_string(len) + " tokens of x " + x.describe());
    if (batch < 1 || ch < 1 || n < 1) fail(op, "x " + x.describe() + " or w_bcdt " + w.w_bcdt.describe() + " is empty");
    check_dims(op, w.w_bcdt, "w_bcdt", {3 * n, ch});
    check_dims(op, w.dw, "dw", {3 * n, 3, 3});
    check_dims(op, w.A_p, "A_p", {n});
    check_dims(op, w.w_hz, "w_hz", {2 * ch, ch});
    check_dims(op, w.D, "D", {ch});
    check_dims(op, w.w_out, "w_out", {ch, ch});
    check_dims(op, y, "y", {batch, len, ch});
    for (const Tensor* t : {&w.w_bcdt, &w.dw, &w.A_p, &w.w_hz, &w.D, &w.w_out, &y}) check_same_device(op, x, *t);
    check_u32(op, batch * len * 3 * n, "element count");
    check_u32(op, x.numel(), "element count");

    Device& dev = s.device();
    const Capabilities& caps = dev.caps();
    if (n > caps.max_workgroup_count[0] || batch > caps.max_workgroup_count[1])
        throw Error(ErrorKind::Unsupported, std::string(op) + ": too many states or images for one dispatch");
    auto scratch = [&](Shape shape) {
        auto t = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, std::move(shape)));
        s.hold(t);
        return t;
    };
    auto bcdt0 = scratch({batch * len, 3 * n}), bcdt = scratch({batch, len, 3 * n});
    auto h = scratch({batch * n, ch}), hz = scratch({batch * n, 2 * ch}), g = scratch({batch * n, ch});
    auto h2 = scratch({batch * n, ch});
    for (const Tensor* t : {&x, &y, static_cast<const Tensor*>(bcdt.get())})
        if (t->bytes() > caps.max_storage_buffer_range)
            throw Error(ErrorKind::Unsupported, std::string(op) + ": " + t->describe() + " exceeds maxStorageBufferRange");

    const uint32_t wg = std::min<uint32_t>(256, caps.max_workgroup_invocations);
    // The tree reductions in hsm_state need a power-of-two workgroup.
    uint32_t wg_pow2 = 1;
    while (wg_pow2 * 2 <= wg) wg_pow2 *= 2;
    const HsmParams p{static_cast<uint32_t>(batch), static_cast<uint32_t>(len), static_cast<uint32_t>(n),
                      static_cast<uint32_t>(ch)};

    matmul(s, w.w_bcdt, x.reshape({batch * len, ch}), *bcdt0);
    const DwParams dp{static_cast<uint32_t>(batch), static_cast<uint32_t>(height), static_cast<uint32_t>(width),
                      static_cast<uint32_t>(3 * n)};
    s.dispatch(dev.kernel("dwconv3x3_f32", {wg}), {in(*bcdt0), in(w.dw), out(*bcdt)}, dp,
               grid_1d(dev, ceil_div(static_cast<uint64_t>(batch * len * 3 * n), wg)), "hsm_ssd_dwconv");
    s.dispatch(dev.kernel("hsm_state_f32", {wg_pow2}), {in(*bcdt), in(w.A_p), in(x), out(*h)}, p,
               Groups{static_cast<uint32_t>(n), static_cast<uint32_t>(batch), 1}, "hsm_ssd_state");
    matmul(s, w.w_hz, *h, *hz);
    s.dispatch(dev.kernel("hsm_gate_f32", {wg}), {in(*hz), in(w.D), out(*g)}, p,
               grid_1d(dev, ceil_div(static_cast<uint64_t>(batch * n * ch), wg)), "hsm_ssd_gate");
    matmul(s, w.w_out, *g, *h2);
    s.dispatch(dev.kernel("hsm_out_f32", {wg}), {in(*bcdt), in(*h2), out(y)}, p,
               grid_1d(dev, ceil_div(static_cast<uint64_t>(batch * len * ch), wg)), op);
}

}  // namespace vkml::ops
