#include "vkml/ops/norm.hpp"

#include "row_reduce.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct NormParams {
    uint32_t rows, cols, mode, has_w, has_b;
    float eps;
    uint32_t segs, seg_cols, col0, seg_base;  // split-row kernels only, as the rest
    uint32_t x_off, w_off, b_off, y_off, part_off;
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

// Rows longer than one binding: per row, segment partials (norm_part), then merge + normalize
// (norm_finish), each dispatch over a window of whole segments bound from its first column.
void run_long_rows(Stream& s, const char* name, const Tensor& x, const Tensor& w, const Tensor& b,
                   const Tensor& y, float eps, Mode mode) {
    Device& dev = s.device();
    const int64_t rows = x.rows(), cols = x.cols();
    const int64_t want = long_row_segments(dev, cols, 1);
    const int64_t seg_cols = (cols + want - 1) / want, segs = (cols + seg_cols - 1) / seg_cols;
    const uint32_t wg = row_workgroup_size(dev, name, [&](uint32_t n) {
        return row_passes(mode == kLayer ? 2 : 1, static_cast<uint64_t>(seg_cols), n) + 2 * static_cast<uint64_t>(segs);
    });
    const Kernel& part = dev.kernel(reduce_variant(dev, "norm_part"), {wg});
    const Kernel& finish = dev.kernel(reduce_variant(dev, "norm_finish"), {wg});
    const Tensor scratch = Tensor::empty(dev, DType::f32, {segs * 3});
    s.hold(scratch.buffer());
    const Tensor x1 = x.reshape({x.numel()}), y1 = y.reshape({y.numel()});
    NormParams p{1, static_cast<uint32_t>(cols), mode, w ? 1u : 0u, b ? 1u : 0u, eps,
                 static_cast<uint32_t>(segs), static_cast<uint32_t>(seg_cols), 0, 0, 0, 0, 0, 0, 0};
    uint64_t po = 0;
    const Binding pw = window_binding(dev, scratch, 0, scratch.bytes(), Access::Write, po);
    const Binding pr = window_binding(dev, scratch, 0, scratch.bytes(), Access::Read, po);
    p.part_off = static_cast<uint32_t>(po / 4);
    for (int64_t r = 0; r < rows; ++r) {
        // x (and the others) over columns [c0, c1) of row r; the offsets go to the parameters.
        auto bind = [&](const Tensor& t, int64_t row, int64_t c0, int64_t c1, Access a, uint32_t& off) {
            uint64_t o = 0;
            const Binding bnd = window_binding(dev, t, static_cast<uint64_t>(row * cols + c0) * 4,
                                               static_cast<uint64_t>(c1 - c0) * 4, a, o);
            off = static_cast<uint32_t>(o / 4);
            return bnd;
        };
        auto window = [&](int64_t g0, int64_t gc, int64_t c0) {
            p.col0 = static_cast<uint32_t>(c0);
            p.seg_base = static_cast<uint32_t>(g0);
            return grid_1d(dev, static_cast<uint64_t>(gc));
        };
        for_each_segment_window(dev, cols, segs, seg_cols, [&](int64_t g0, int64_t gc, int64_t c0, int64_t c1) {
            const Binding bs[] = {bind(x1, r, c0, c1, Access::Read, p.x_off), pw};
            s.dispatch_raw(part, bs, 2, &p, sizeof(p), window(g0, gc, c0), name);
        });
        for_each_segment_window(dev, cols, segs, seg_cols, [&](int64_t g0, int64_t gc, int64_t c0, int64_t c1) {
            const Binding xb = bind(x1, r, c0, c1, Access::Read, p.x_off);
            // An absent weight or bias binds x's window again (never read).
            const Binding wb = w ? bind(w, 0, c0, c1, Access::Read, p.w_off) : xb;
            const Binding bb = b ? bind(b, 0, c0, c1, Access::Read, p.b_off) : xb;
            const Binding bs[] = {xb, wb, bb, bind(y1, r, c0, c1, Access::Write, p.y_off), pr};
            s.dispatch_raw(finish, bs, 5, &p, sizeof(p), window(g0, gc, c0), name);
        });
    }
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
    if (4 * static_cast<uint64_t>(cols) > window_cap(dev)) {
        run_long_rows(s, name, x, w, b, y, eps, mode);
        return;
    }
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
                           w ? 1u : 0u, b ? 1u : 0u, eps, 0, 0, 0, 0, 0, 0, 0, 0, 0};
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
