#include "vkml/ops/softmax.hpp"

#include "row_reduce.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct SoftmaxParams {
    uint32_t rows, cols, row_base, q_dim, mode, causal, offset;
    float scale;
    uint32_t segs, seg_cols;  // split-row kernels only, as the rest
    uint32_t x_off, y_off, part_off, col0, seg_base, seg_count;
};
static_assert(sizeof(SoftmaxParams) <= 128);

enum Mode : uint32_t { kSoftmax = 0, kLogSoftmax = 1, kEntropy = 2 };

// Few long rows are split into segments so that they fill a GPU (32 x 32000 logits would
// otherwise be 32 workgroups): segments of about kSegCols columns, at most kMaxSegs per row.
constexpr int64_t kSplitMaxRows = 64;
constexpr int64_t kSplitMinCols = 16384;
constexpr int64_t kSegCols = 2048;
constexpr int64_t kMaxSegs = 128;

void run(Stream& s, const char* name, const Tensor& x, const Tensor& y, Mode mode,
         const SoftmaxOptions& o) {
    check_dtype(name, x, "x", {DType::f32});
    check_dtype(name, y, "y", {DType::f32});
    check_same_device(name, x, y);
    if (x.numel() == 0) fail(name, "x " + x.describe() + " is empty");
    const int64_t rows = x.rows(), cols = x.cols();
    if (mode == kEntropy) {
        if (y.numel() != rows)
            fail(name, "h " + y.describe() + " must hold one value per row of x " + x.describe() +
                           " (" + std::to_string(rows) + ")");
    } else {
        check_same_shape(name, x, "x", y, "y");
    }
    check_u32(name, rows, "row count");
    check_u32(name, cols, "column count");
    if (o.causal && o.causal_offset < 0)
        fail(name, "causal_offset " + std::to_string(o.causal_offset) +
                       " is negative: every column of query row 0 of x " + x.describe() +
                       " would be masked");
    const int64_t q_dim = x.rank() >= 2 ? x.dim(-2) : 1;
    // i + offset + 1 must not wrap in 32 bits; beyond cols the mask changes nothing.
    const uint32_t offset = static_cast<uint32_t>(std::min<int64_t>(o.causal ? o.causal_offset : 0, cols));

    Device& dev = s.device();
    const Tensor x2 = x.reshape({rows, cols});
    const Tensor y2 = mode == kEntropy ? y.reshape({rows, 1}) : y.reshape({rows, cols});
    const uint64_t x_row_bytes = 4 * static_cast<uint64_t>(cols);
    const uint64_t y_row_bytes = mode == kEntropy ? 4 : x_row_bytes;
    SoftmaxParams p{0, static_cast<uint32_t>(cols), 0, static_cast<uint32_t>(q_dim), mode,
                    o.causal ? 1u : 0u, offset, o.scale, 1, static_cast<uint32_t>(cols), 0, 0, 0, 0, 0, 0};

    // A row longer than one binding always takes the split kernels, walked in windows.
    const uint64_t cap = window_cap(dev);
    const bool long_rows = x_row_bytes > cap;
    if (long_rows || (rows <= kSplitMaxRows && cols >= kSplitMinCols)) {
        int64_t segs = std::min(kMaxSegs, (cols + kSegCols - 1) / kSegCols);
        if (long_rows) segs = long_row_segments(dev, cols, segs);
        const int64_t seg_cols = (cols + segs - 1) / segs;
        segs = (cols + seg_cols - 1) / seg_cols;  // no empty segments
        p.segs = static_cast<uint32_t>(segs);
        p.seg_cols = static_cast<uint32_t>(seg_cols);
        const uint32_t wg = row_workgroup_size(dev, name, [&](uint32_t w) {
            return row_passes(2, static_cast<uint64_t>(seg_cols), w) + static_cast<uint64_t>(segs) / w;
        });
        const Kernel& part = dev.kernel(reduce_variant(dev, "softmax_part"), {wg});
        const Kernel& finish = dev.kernel(reduce_variant(dev, "softmax_finish"), {wg});
        // Per-segment (max, sum, entropy term), kept alive until the recording has run.
        const Tensor scratch = Tensor::empty(dev, DType::f32, {rows, segs * 3});
        s.hold(scratch.buffer());
        if (long_rows) {
            const Tensor y1 = y2.reshape({y2.numel()});
            const uint64_t part_bytes = 12 * static_cast<uint64_t>(segs);
            for (int64_t r = 0; r < rows; ++r) {
                p.rows = 1;
                p.row_base = static_cast<uint32_t>(r % q_dim);
                uint64_t po = 0, yo = 0;
                const Binding pw = window_binding(dev, scratch, r * part_bytes, part_bytes, Access::Write, po);
                const Binding pr = window_binding(dev, scratch, r * part_bytes, part_bytes, Access::Read, po);
                p.part_off = static_cast<uint32_t>(po / 4);
                // Binds x over the window and points the parameters at it.
                auto window = [&](int64_t g0, int64_t gc, int64_t c0, int64_t c1) {
                    uint64_t xo = 0;
                    const Binding b = window_binding(dev, x2, (r * cols + c0) * 4, (c1 - c0) * 4, Access::Read, xo);
                    p.x_off = static_cast<uint32_t>(xo / 4);
                    p.col0 = static_cast<uint32_t>(c0);
                    p.seg_base = static_cast<uint32_t>(g0);
                    p.seg_count = static_cast<uint32_t>(gc);
                    return b;
                };
                for_each_segment_window(dev, cols, segs, seg_cols, [&](int64_t g0, int64_t gc, int64_t c0, int64_t c1) {
                    const Binding bs[] = {window(g0, gc, c0, c1), pw};
                    s.dispatch_raw(part, bs, 2, &p, sizeof(p), grid_1d(dev, static_cast<uint64_t>(gc)), name);
                });
                for_each_segment_window(dev, cols, segs, seg_cols, [&](int64_t g0, int64_t gc, int64_t c0, int64_t c1) {
                    const Binding xb = window(g0, gc, c0, c1);
                    const Binding yb = mode == kEntropy
                                           ? window_binding(dev, y1, r * 4, 4, Access::Write, yo)
                                           : window_binding(dev, y1, (r * cols + c0) * 4, (c1 - c0) * 4, Access::Write, yo);
                    p.y_off = static_cast<uint32_t>(yo / 4);
                    const Binding bs[] = {xb, pr, yb};
                    s.dispatch_raw(finish, bs, 3, &p, sizeof(p), grid_1d(dev, static_cast<uint64_t>(gc)), name);
                });
            }
            return;
        }
        for_each_row_chunk(dev, name, rows, {x_row_bytes, y_row_bytes, 12 * static_cast<uint64_t>(segs)},
                           [&](int64_t first, int64_t count) {
            p.rows = static_cast<uint32_t>(count);
            p.row_base = static_cast<uint32_t>(first % q_dim);  // only (row % q_dim) matters
            const Tensor xc = x2.row_slice(first, count), pc = scratch.row_slice(first, count);
            const Groups groups = grid_1d(dev, static_cast<uint64_t>(count * segs));
            s.dispatch(part, {in(xc), out(pc)}, p, groups, name);
            s.dispatch(finish, {in(xc), in(pc), out(y2.row_slice(first, count))}, p, groups, name);
        });
        return;
    }

    const uint32_t wg = row_workgroup_size(dev, name, [&](uint32_t w) {
        return row_passes(mode == kEntropy ? 1 : 2, static_cast<uint64_t>(cols), w);
    });
    const Kernel& k = dev.kernel(reduce_variant(dev, "softmax"), {wg});
    for_each_row_chunk(dev, name, rows, {x_row_bytes, y_row_bytes}, [&](int64_t first, int64_t count) {
        p.rows = static_cast<uint32_t>(count);
        p.row_base = static_cast<uint32_t>(first % q_dim);  // only (row % q_dim) matters
        s.dispatch(k, {in(x2.row_slice(first, count)), out(y2.row_slice(first, count))}, p,
                   grid_1d(dev, static_cast<uint64_t>(count)), name);
    });
}

}  // namespace

void softmax(Stream& s, const Tensor& x, const Tensor& y, SoftmaxOptions opts) {
    run(s, "softmax", x, y, kSoftmax, opts);
}

void log_softmax(Stream& s, const Tensor& x, const Tensor& y, SoftmaxOptions opts) {
    run(s, "log_softmax", x, y, kLogSoftmax, opts);
}

void entropy(Stream& s, const Tensor& x, const Tensor& h, float scale) {
    run(s, "entropy", x, h, kEntropy, SoftmaxOptions{.scale = scale});
}

}  // namespace vkml::ops
