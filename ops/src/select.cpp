#include "vkml/ops/select.hpp"

#include "row_reduce.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct SelectParams {
    uint32_t rows, cols, k;
    uint32_t t_begin, t_end;  // this dispatch finds ranks [t_begin, t_end) of each row
    uint32_t segs, seg_cols;  // split argmax only
    uint32_t x_off, col0, seg_base, seg_count, part_off, o_off, idx_base;  // rows over one binding
};
static_assert(sizeof(SelectParams) <= 128);

void check_x(const char* name, const Tensor& x) {
    check_dtype(name, x, "x", {DType::f32});
    if (x.numel() == 0) fail(name, "x " + x.describe() + " is empty");
    check_u32(name, x.rows(), "row count");
    check_u32(name, x.cols(), "column count");
}

constexpr uint64_t kListLength = 4;  // M in shaders/select.comp

// Argmax of few long rows is split into segments (as softmax is; see softmax.cpp).
constexpr int64_t kSplitMaxRows = 64;
constexpr int64_t kSplitMinCols = 16384;
constexpr int64_t kSegCols = 2048;
constexpr int64_t kMaxSegs = 128;

// Worst-case loop iterations of one SIMD group (subgroup) of a top_k workgroup finding `steps`
// ranks, which is what llvmpipe's loop limit counts: the lanes' refills run one after another.
// Each refill scans a slice (the list insertion is unrolled); the subgroup's lanes refill at most
// min(steps, elements they own) / M times in all; each step runs the reduction's loops.
uint64_t top_k_iterations(int64_t cols, int64_t steps, uint32_t wg, uint32_t subgroup) {
    const uint64_t slice = (static_cast<uint64_t>(cols) + wg - 1) / wg;
    const uint64_t sg = std::max<uint32_t>(std::min(subgroup, wg), 1);
    const uint64_t owned = std::min<uint64_t>(static_cast<uint64_t>(steps), sg * slice);
    const uint64_t refills = (owned + kListLength - 1) / kListLength;
    uint64_t log_wg = 0;
    while ((1u << log_wg) < wg) ++log_wg;
    return slice * (1 + refills) + static_cast<uint64_t>(steps) * (2 + log_wg + wg / sg / sg);
}

struct TopKPlan {
    uint32_t wg;
    int64_t steps;  // ranks per dispatch
};

// One dispatch finds all k ranks, except under a loop limit (llvmpipe), where the ranks are
// split over dispatches that each resume after the previous dispatch's last winner.
TopKPlan plan_top_k(const Capabilities& c, int64_t cols, int64_t k) {
    const uint32_t first = preferred_row_workgroup_size(c), last = max_row_workgroup_size(c);
    if (!has_loop_limit(c)) return {first, k};
    for (uint32_t wg = first; wg <= last; wg *= 2)
        if (top_k_iterations(cols, k, wg, c.subgroup_size) <= kLoopBudget) return {wg, k};
    TopKPlan best{first, 0};
    for (uint32_t wg = first; wg <= last; wg *= 2) {
        int64_t lo = 0, hi = k;  // the most steps that fit, by bisection (cost grows with steps)
        while (lo < hi) {
            const int64_t mid = (lo + hi + 1) / 2;
            if (top_k_iterations(cols, mid, wg, c.subgroup_size) <= kLoopBudget) lo = mid;
            else hi = mid - 1;
        }
        if (lo > best.steps) best = {wg, lo};
    }
    if (best.steps == 0) fail_loop_limit(c, "top_k", top_k_iterations(cols, 1, last, c.subgroup_size));
    return best;
}

// top_k of one row of `cols` (at x_off in the bound x) into ranks at o_off of the bound outputs,
// in as many dispatches as the plan needs; written indices get idx_base added.
void top_k_row(Stream& s, int64_t cols, int64_t k, const Binding& xb, uint64_t x_off, const Binding& vb,
               const Binding& ib, uint64_t o_off, uint64_t idx_base) {
    Device& dev = s.device();
    const TopKPlan plan = plan_top_k(dev.caps(), cols, k);
    const Kernel& kern = dev.kernel(reduce_variant(dev, "top_k"), {plan.wg});
    for (int64_t t = 0; t < k; t += plan.steps) {
        const SelectParams p{1, static_cast<uint32_t>(cols), static_cast<uint32_t>(k), static_cast<uint32_t>(t),
                             static_cast<uint32_t>(std::min<int64_t>(k, t + plan.steps)), 1, static_cast<uint32_t>(cols),
                             static_cast<uint32_t>(x_off), 0, 0, 0, 0, static_cast<uint32_t>(o_off),
                             static_cast<uint32_t>(idx_base)};
        const Binding bs[] = {xb, vb, Binding{ib.buffer, ib.offset, ib.range, Access::ReadWrite}};
        s.dispatch_raw(kern, bs, 3, &p, sizeof(p), Groups{1, 1, 1}, "top_k");
    }
}

// Rows longer than one binding: the k best of each window of the row (candidates, with their
// column indices), the k best of the candidates, then candidate positions -> column indices.
// On equal values the lower column wins, as in one pass: candidates are in column order by
// window and, within a window, in rank order.
void top_k_long_rows(Stream& s, const Tensor& x, int64_t k, const Tensor& values, const Tensor& indices) {
    const char* name = "top_k";
    Device& dev = s.device();
    const int64_t rows = x.rows(), cols = x.cols();
    const int64_t wmax = static_cast<int64_t>(window_cap(dev) / 8);
    const int64_t windows = (cols + wmax - 1) / wmax, wcols = (cols + windows - 1) / windows;
    const int64_t last = cols - (windows - 1) * wcols;
    const uint64_t cand_bytes = 4 * static_cast<uint64_t>(windows * k);
    if (last < k || cand_bytes > window_cap(dev))
        throw Error(ErrorKind::Unsupported,
                    std::string(name) + ": k = " + std::to_string(k) + " is too large for rows of " +
                        std::to_string(cols) + " columns, longer than one binding (maxStorageBufferRange " +
                        std::to_string(dev.caps().max_storage_buffer_range) + "), on x " + x.describe());
    const Tensor cv = Tensor::empty(dev, DType::f32, {rows, windows * k});
    const Tensor ci = Tensor::empty(dev, DType::u32, {rows, windows * k});
    s.hold(cv.buffer());
    s.hold(ci.buffer());
    const Tensor x1 = x.reshape({rows * cols});
    const Tensor v1 = values.reshape({rows * k}), i1 = indices.reshape({rows * k});
    const Kernel& map = dev.kernel("top_k_map", {64});
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t w = 0; w < windows; ++w) {
            const int64_t c0 = w * wcols, c1 = std::min(cols, c0 + wcols);
            uint64_t xo = 0, vo = 0, io = 0;
            const Binding xb = window_binding(dev, x1, static_cast<uint64_t>(r * cols + c0) * 4,
                                              static_cast<uint64_t>(c1 - c0) * 4, Access::Read, xo);
            const uint64_t at = static_cast<uint64_t>(r * windows * k + w * k) * 4, n = 4 * static_cast<uint64_t>(k);
            const Binding vb = window_binding(dev, cv, at, n, Access::Write, vo);
            const Binding ib = window_binding(dev, ci, at, n, Access::Write, io);
            if (vo != io) fail(name, "internal: candidate buffers bound at different offsets");
            top_k_row(s, c1 - c0, k, xb, xo / 4, vb, ib, vo / 4, static_cast<uint64_t>(c0));
        }
        uint64_t xo = 0, vo = 0, io = 0;
        const uint64_t at = static_cast<uint64_t>(r * windows * k) * 4;
        const Binding cb = window_binding(dev, cv, at, cand_bytes, Access::Read, xo);
        const Binding vb = window_binding(dev, v1, static_cast<uint64_t>(r * k) * 4, 4 * static_cast<uint64_t>(k), Access::Write, vo);
        const Binding ib = window_binding(dev, i1, static_cast<uint64_t>(r * k) * 4, 4 * static_cast<uint64_t>(k), Access::Write, io);
        if (vo != io)
            throw Error(ErrorKind::Unsupported,
                        std::string(name) + ": for rows longer than one binding, values " + values.describe() +
                            " and indices " + indices.describe() + " must start at the same offset modulo " +
                            std::to_string(window_alignment(dev)) + " bytes");
        top_k_row(s, windows * k, k, cb, xo / 4, vb, ib, vo / 4, 0);
        uint64_t co = 0;
        const Binding bs[] = {window_binding(dev, ci, at, cand_bytes, Access::Read, co),
                              Binding{ib.buffer, ib.offset, ib.range, Access::ReadWrite}};
        const SelectParams p{1, static_cast<uint32_t>(windows * k), static_cast<uint32_t>(k), 0, 0, 0, 0,
                             static_cast<uint32_t>(co / 4), 0, 0, 0, 0, static_cast<uint32_t>(io / 4), 0};
        s.dispatch_raw(map, bs, 2, &p, sizeof(p), grid_1d(dev, ceil_div(static_cast<uint64_t>(k), 64)), name);
    }
}

}  // namespace

void argmax(Stream& s, const Tensor& x, const Tensor& idx) {
    const char* name = "argmax";
    check_x(name, x);
    check_dtype(name, idx, "idx", {DType::u32});
    check_same_device(name, x, idx);
    const int64_t rows = x.rows(), cols = x.cols();
    if (idx.numel() != rows)
        fail(name, "idx " + idx.describe() + " must hold one index per row of x " + x.describe() +
                       " (" + std::to_string(rows) + ")");
    Device& dev = s.device();
    const Tensor x2 = x.reshape({rows, cols}), i2 = idx.reshape({rows, 1});
    const uint64_t x_row_bytes = 4 * static_cast<uint64_t>(cols);
    const bool long_rows = x_row_bytes > window_cap(dev);

    if (long_rows || (rows <= kSplitMaxRows && cols >= kSplitMinCols)) {
        // Few long rows (greedy decoding over a vocabulary): segments, then a merge.
        int64_t segs = std::min(kMaxSegs, (cols + kSegCols - 1) / kSegCols);
        if (long_rows) segs = long_row_segments(dev, cols, segs);
        const int64_t seg_cols = (cols + segs - 1) / segs;
        segs = (cols + seg_cols - 1) / seg_cols;  // no empty segments
        const uint32_t wg = row_workgroup_size(dev, name, [&](uint32_t w) {
            return row_passes(1, static_cast<uint64_t>(seg_cols), w);
        });
        const Kernel& part = dev.kernel(reduce_variant(dev, "argmax_part"), {wg});
        const Kernel& finish = dev.kernel(reduce_variant(dev, "argmax_finish"), {wg});
        const Tensor scratch = Tensor::empty(dev, DType::u32, {rows, segs * 2});  // (key, index)
        s.hold(scratch.buffer());
        if (long_rows) {
            const Tensor x1 = x2.reshape({rows * cols}), i1 = i2.reshape({rows});
            const uint64_t part_bytes = 8 * static_cast<uint64_t>(segs);
            for (int64_t r = 0; r < rows; ++r) {
                SelectParams p{1, static_cast<uint32_t>(cols), 1, 0, 1, static_cast<uint32_t>(segs),
                               static_cast<uint32_t>(seg_cols), 0, 0, 0, 0, 0, 0, 0};
                uint64_t po = 0, oo = 0;
                const Binding pw = window_binding(dev, scratch, r * part_bytes, part_bytes, Access::Write, po);
                const Binding pr = window_binding(dev, scratch, r * part_bytes, part_bytes, Access::Read, po);
                p.part_off = static_cast<uint32_t>(po / 4);
                for_each_segment_window(dev, cols, segs, seg_cols, [&](int64_t g0, int64_t gc, int64_t c0, int64_t c1) {
                    uint64_t xo = 0;
                    const Binding bs[] = {window_binding(dev, x1, static_cast<uint64_t>(r * cols + c0) * 4,
                                                         static_cast<uint64_t>(c1 - c0) * 4, Access::Read, xo),
                                          pw};
                    p.x_off = static_cast<uint32_t>(xo / 4);
                    p.col0 = static_cast<uint32_t>(c0);
                    p.seg_base = static_cast<uint32_t>(g0);
                    p.seg_count = static_cast<uint32_t>(gc);
                    s.dispatch_raw(part, bs, 2, &p, sizeof(p), grid_1d(dev, static_cast<uint64_t>(gc)), name);
                });
                const Binding bs[] = {pr, window_binding(dev, i1, static_cast<uint64_t>(r) * 4, 4, Access::Write, oo)};
                p.o_off = static_cast<uint32_t>(oo / 4);
                s.dispatch_raw(finish, bs, 2, &p, sizeof(p), Groups{1, 1, 1}, name);
            }
            return;
        }
        for_each_row_chunk(dev, name, rows, {x_row_bytes, 4, 8 * static_cast<uint64_t>(segs)},
                           [&](int64_t first, int64_t count) {
            const SelectParams p{static_cast<uint32_t>(count), static_cast<uint32_t>(cols), 1, 0, 1,
                                 static_cast<uint32_t>(segs), static_cast<uint32_t>(seg_cols), 0, 0, 0, 0, 0, 0, 0};
            const Tensor pc = scratch.row_slice(first, count);
            s.dispatch(part, {in(x2.row_slice(first, count)), out(pc)}, p,
                       grid_1d(dev, static_cast<uint64_t>(count * segs)), name);
            s.dispatch(finish, {in(pc), out(i2.row_slice(first, count))}, p,
                       grid_1d(dev, static_cast<uint64_t>(count)), name);
        });
        return;
    }

    const uint32_t wg = row_workgroup_size(dev, name, [&](uint32_t w) {
        return row_passes(1, static_cast<uint64_t>(cols), w);
    });
    const Kernel& kern = dev.kernel(reduce_variant(dev, "argmax"), {wg});
    for_each_row_chunk(dev, name, rows, {x_row_bytes, 4}, [&](int64_t first, int64_t count) {
        const SelectParams p{static_cast<uint32_t>(count), static_cast<uint32_t>(cols), 1, 0, 1, 1,
                             static_cast<uint32_t>(cols), 0, 0, 0, 0, 0, 0, 0};
        s.dispatch(kern, {in(x2.row_slice(first, count)), out(i2.row_slice(first, count))}, p,
                   grid_1d(dev, static_cast<uint64_t>(count)), name);
    });
}

void top_k(Stream& s, const Tensor& x, int k, const Tensor& values, const Tensor& indices) {
    const char* name = "top_k";
    check_x(name, x);
    check_dtype(name, values, "values", {DType::f32});
    check_dtype(name, indices, "indices", {DType::u32});
    check_same_device(name, x, values);
    check_same_device(name, x, indices);
    const int64_t rows = x.rows(), cols = x.cols();
    if (k < 1 || k > cols)
        fail(name, "k = " + std::to_string(k) + " must be in [1, " + std::to_string(cols) +
                       "] for x " + x.describe());
    for (const auto& [t, tn] : {std::pair{&values, "values"}, std::pair{&indices, "indices"}}) {
        if (t->cols() != k || t->rows() != rows)
            fail(name, std::string(tn) + " " + t->describe() + " must be [" + std::to_string(rows) +
                           ", " + std::to_string(k) + "] for x " + x.describe() + " and k = " +
                           std::to_string(k));
    }
    Device& dev = s.device();
    if (4 * static_cast<uint64_t>(cols) > window_cap(dev)) {
        top_k_long_rows(s, x, k, values, indices);
        return;
    }
    const TopKPlan plan = plan_top_k(dev.caps(), cols, k);
    const Kernel& kern = dev.kernel(reduce_variant(dev, "top_k"), {plan.wg});
    const Tensor x2 = x.reshape({rows, cols});
    const Tensor v2 = values.reshape({rows, k}), i2 = indices.reshape({rows, k});
    const uint64_t out_row = 4 * static_cast<uint64_t>(k);
    for_each_row_chunk(dev, name, rows, {4 * static_cast<uint64_t>(cols), out_row},
                       [&](int64_t first, int64_t count) {
        for (int64_t t = 0; t < k; t += plan.steps) {
            const SelectParams p{static_cast<uint32_t>(count), static_cast<uint32_t>(cols),
                                 static_cast<uint32_t>(k), static_cast<uint32_t>(t),
                                 static_cast<uint32_t>(std::min<int64_t>(k, t + plan.steps)), 1,
                                 static_cast<uint32_t>(cols), 0, 0, 0, 0, 0, 0, 0};
            // indices is read back by the next dispatch of a split (its last winner).
            s.dispatch(kern, {in(x2.row_slice(first, count)), out(v2.row_slice(first, count)),
                              inout(i2.row_slice(first, count))},
                       p, grid_1d(dev, static_cast<uint64_t>(count)), name);
        }
    });
}

}  // namespace vkml::ops
