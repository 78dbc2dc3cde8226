#include "vkml/ops/elementwise.hpp"

#include <numeric>

#include "op_common.hpp"
#include "vkml/kernel.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct UnaryParams {
    uint32_t n, op;
    float alpha, beta;
};
static_assert(sizeof(UnaryParams) <= 128);

struct BinaryParams {
    uint32_t n, b_n, op;
};
static_assert(sizeof(BinaryParams) <= 128);

struct CastParams {
    uint32_t n;
};

enum UnaryOp : uint32_t { kScale = 0, kSilu = 1, kGelu = 2, kSelu = 3 };
enum BinaryOp : uint32_t { kAdd = 0, kMul = 1 };

uint32_t workgroup_size(const Device& dev) {
    return std::min<uint32_t>(256, dev.caps().max_workgroup_invocations);
}

// Calls fn(first, count) over element ranges that fit one storage-buffer binding of
// `elem_bytes`-sized elements. Range starts are multiples of `multiple` and of the offset
// alignment (in elements), so bindings of any element size start aligned.
template <class F>
void for_each_range(const Device& dev, const char* op, int64_t n, uint64_t elem_bytes,
                    int64_t multiple, F&& fn) {
    const int64_t align = static_cast<int64_t>(window_alignment(dev, 1));
    const int64_t step = std::lcm(multiple, align);
    const int64_t chunk = static_cast<int64_t>(dev.caps().max_storage_buffer_range / elem_bytes) / step * step;
    if (chunk <= 0) fail(op, "rows of " + std::to_string(multiple) + " elements do not fit one binding");
    for (int64_t first = 0; first < n; first += chunk) fn(first, std::min(chunk, n - first));
}

Tensor flat(const Tensor& t) { return t.reshape({t.numel(), 1}); }

void unary(Stream& s, const char* name, const Tensor& x, const Tensor& y, uint32_t op, float alpha,
           float beta) {
    check_dtype(name, x, "x", {DType::f32});
    check_dtype(name, y, "y", {DType::f32});
    check_same_shape(name, x, "x", y, "y");
    check_same_device(name, x, y);
    check_u32(name, x.numel(), "element count");
    Device& dev = s.device();
    const uint32_t wg = workgroup_size(dev);
    const Kernel& k = dev.kernel("unary", {wg});
    const Tensor fx = flat(x), fy = flat(y);
    for_each_range(dev, name, x.numel(), 4, 1, [&](int64_t first, int64_t count) {
        const UnaryParams p{static_cast<uint32_t>(count), op, alpha, beta};
        s.dispatch(k, {in(fx.row_slice(first, count)), out(fy.row_slice(first, count))}, p,
                   grid_1d(dev, ceil_div(count, wg)), name);
    });
}

void binary(Stream& s, const char* name, const Tensor& a, const Tensor& b, const Tensor& y,
            uint32_t op) {
    check_dtype(name, a, "a", {DType::f32});
    check_dtype(name, b, "b", {DType::f32});
    check_dtype(name, y, "y", {DType::f32});
    check_same_shape(name, a, "a", y, "y");
    check_same_device(name, a, b);
    check_same_device(name, a, y);
    const bool broadcast = b.shape() != a.shape();
    if (broadcast && b.numel() != a.cols())
        fail(name, "b " + b.describe() + " must have the shape of a " + a.describe() +
                       " or hold one row of " + std::to_string(a.cols()) + " elements");
    check_u32(name, a.numel(), "element count");
    Device& dev = s.device();
    const uint32_t wg = workgroup_size(dev);
    const Kernel& k = dev.kernel("binary", {wg});
    const Tensor fa = flat(a), fb = flat(b), fy = flat(y);
    // A broadcast b repeats every cols() elements: ranges start at multiples of it.
    for_each_range(dev, name, a.numel(), 4, broadcast ? a.cols() : 1, [&](int64_t first, int64_t count) {
        const Tensor bb = broadcast ? fb : fb.row_slice(first, count);
        const BinaryParams p{static_cast<uint32_t>(count), static_cast<uint32_t>(bb.numel()), op};
        s.dispatch(k, {in(fa.row_slice(first, count)), in(bb), out(fy.row_slice(first, count))}, p,
                   grid_1d(dev, ceil_div(count, wg)), name);
    });
}

}  // namespace

void add(Stream& s, const Tensor& a, const Tensor& b, const Tensor& y) { binary(s, "add", a, b, y, kAdd); }
void mul(Stream& s, const Tensor& a, const Tensor& b, const Tensor& y) { binary(s, "mul", a, b, y, kMul); }
void scale(Stream& s, const Tensor& x, const Tensor& y, float alpha, float beta) {
    unary(s, "scale", x, y, kScale, alpha, beta);
}
void silu(Stream& s, const Tensor& x, const Tensor& y) { unary(s, "silu", x, y, kSilu, 1.0f, 0.0f); }
void gelu(Stream& s, const Tensor& x, const Tensor& y) { unary(s, "gelu", x, y, kGelu, 1.0f, 0.0f); }
void selu(Stream& s, const Tensor& x, const Tensor& y) { unary(s, "selu", x, y, kSelu, 1.0f, 0.0f); }

void cast(Stream& s, const Tensor& x, const Tensor& y) {
    const char* name = "cast";
    check_dtype(name, x, "x", {DType::f32, DType::f16});
    check_dtype(name, y, "y", {DType::f32, DType::f16});
    check_same_shape(name, x, "x", y, "y");
    check_same_device(name, x, y);
    if (x.dtype() == y.dtype()) {
        s.copy(x, y);
        return;
    }
    Device& dev = s.device();
    if (!dev.caps().fp16_storage)
        throw Error(ErrorKind::Unsupported, "cast: device '" + dev.caps().name +
                                                "' lacks storageBuffer16BitAccess for f16 tensors");
    check_u32(name, x.numel(), "element count");
    const uint32_t wg = workgroup_size(dev);
    const Kernel& k = dev.kernel(x.dtype() == DType::f32 ? "cast_f32_f16" : "cast_f16_f32", {wg});
    const Tensor fx = flat(x), fy = flat(y);
    // Ranges sized by the wider (f32) element so both bindings fit.
    for_each_range(dev, name, x.numel(), 4, 2, [&](int64_t first, int64_t count) {
        s.dispatch(k, {in(fx.row_slice(first, count)), out(fy.row_slice(first, count))},
                   CastParams{static_cast<uint32_t>(count)}, grid_1d(dev, ceil_div(count, wg)), name);
    });
}

}  // namespace vkml::ops
