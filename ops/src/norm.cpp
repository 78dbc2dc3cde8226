#include "vkml/ops/norm.hpp"

#include "row_reduce.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct NormParams {
    uint32_t rows, cols, mode, has_w, has_b;
    float eps;
};
static_assert(sizeof(NormParams) <= 128);

enum Mode : uint32_t { kRms = 0, kLayer = 1 };

void check_row_param(const char* op, const Tensor& p, const char* pn, const Tensor& x) {
    if (!p) return;
    check_dtype(op, p, pn, {DType::f32});
    check_same_device(op, p, x);
    if (p.numel() != x.cols())
        fail(op, std::string(pn) + " " + p.describe() + " must hold one row of " +
                     std::to_string(x.cols()) + " values for x " + x.describe());
}

void run(Stream& s, const char* name, const Tensor& x, const Tensor& w, const Tensor& b,
         const Tensor& y, float eps, Mode mode) {
    check_dtype(name, x, "x", {DType::f32});
    check_dtype(name, y, "y", {DType::f32});
    check_same_shape(name, x, "x", y, "y");
    check_same_device(name, x, y);
    if (x.numel() == 0) fail(name, "x " + x.describe() + " is empty");
    check_row_param(name, w, "weight", x);
    check_row_param(name, b, "bias", x);
    if (!(eps >= 0.0f)) fail(name, "eps " + std::to_string(eps) + " must be >= 0");
    const int64_t rows = x.rows(), cols = x.cols();
    check_u32(name, rows, "row count");
    check_u32(name, cols, "column count");

    Device& dev = s.device();
    const uint32_t wg = row_workgroup_size(dev, name, [&](uint32_t w) {
        return row_passes(mode == kLayer ? 3 : 2, static_cast<uint64_t>(cols), w);
    });
    const Kernel& k = dev.kernel(reduce_variant(dev, "norm"), {wg});
    const Tensor x2 = x.reshape({rows, cols}), y2 = y.reshape({rows, cols});
    const uint64_t row_bytes = 4 * static_cast<uint64_t>(cols);
    for_each_row_chunk(dev, name, rows, {row_bytes}, [&](int64_t first, int64_t count) {
        const Tensor xc = x2.row_slice(first, count);
        // An absent weight or bias binds x again (never read: has_w / has_b are 0).
        const NormParams p{static_cast<uint32_t>(count), static_cast<uint32_t>(cols), mode,
                           w ? 1u : 0u, b ? 1u : 0u, eps};
        s.dispatch(k, {in(xc), in(w ? w : xc), in(b ? b : xc), out(y2.row_slice(first, count))}, p,
                   grid_1d(dev, static_cast<uint64_t>(count)), name);
    });
}

}  // namespace

void rms_norm(Stream& s, const Tensor& x, const Tensor& weight, const Tensor& y, float eps) {
    run(s, "rms_norm", x, weight, Tensor(), y, eps, kRms);
}

void layer_norm(Stream& s, const Tensor& x, const Tensor& weight, const Tensor& bias,
                const Tensor& y, float eps) {
    run(s, "layer_norm", x, weight, bias, y, eps, kLayer);
}

}  // namespace vkml::ops
