// ops::matmul: checks, kernel choice (matrix-vector for n <= 8, tiled otherwise), tile sizes
// from the device's capabilities, and the split of tensors larger than one storage binding.
#include "vkml/ops/matmul.hpp"

#include <algorithm>
#include <string>

#include "matmul_quant.hpp"
#include "op_common.hpp"
#include "vkml/kernel.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

constexpr const char* kOp = "matmul";
constexpr int64_t kGemvMaxRows = 8;  // n up to this runs the matrix-vector kernel

// Mirrors `Params` in shaders/gemv.comp and shaders/matmul.comp. Offsets are in elements from
// the start of each binding, which may begin below the data (bindings start aligned).
struct MatmulParams {
    uint32_t m, n, k;
    uint32_t w_off, x_off, y_off;
    uint32_t ldy;
    uint32_t accumulate;  // gemv only: y += instead of y =
};
static_assert(sizeof(MatmulParams) <= 128);

// A kernel and how many rows of W (along m) and of X (along n) one workgroup covers.
struct Plan {
    const Kernel* kernel = nullptr;
    uint32_t group_m = 1, group_n = 1;
    bool gemv = false;
};

uint32_t pow2_floor(uint32_t v) {
    uint32_t p = 1;
    while (p * 2 <= v) p *= 2;
    return p;
}

// Most k-loop iterations one matrix-vector thread should run. llvmpipe silently ends a shader
// invocation's loops after 65535 iterations in total; rows longer than this many per thread are
// spread over a whole workgroup instead (which also suits few, very long rows on GPUs).
constexpr uint64_t kMaxLoopIterations = 16384;

Plan plan_gemv(Device& dev, bool f16, int64_t n, int64_t k, bool allow_subgroup) {
    const Capabilities& c = dev.caps();
    uint32_t wg = pow2_floor(std::min<uint32_t>(128, c.max_workgroup_invocations));
    // One accumulator per X row: a single-row build for n == 1 (the common decode case), a
    // guarded 8-row build for the rest, so at most two pipelines per weight type.
    const uint32_t nc = n == 1 ? 1 : static_cast<uint32_t>(kGemvMaxRows);
    const bool subgroup = allow_subgroup && c.subgroup_basic && c.subgroup_arithmetic;
    // One subgroup per row (the shader loops if the real subgroup size differs), or a
    // shared-memory tree reduction over wg / 4 threads per row (a power of two).
    uint32_t rows = subgroup ? std::max<uint32_t>(1, wg / std::max<uint32_t>(c.subgroup_size, 1))
                             : std::min<uint32_t>(4, wg);
    const uint64_t stride = subgroup ? std::max<uint32_t>(c.subgroup_size, 1) : wg / rows;
    std::string name = std::string(f16 ? "gemv_f16" : "gemv_f32") + (subgroup ? "_subgroup" : "");
    const uint64_t uk = static_cast<uint64_t>(k);  // scalar iterations; vec4 loads run k / 4
    if (uk > kMaxLoopIterations * stride) {
        // Long rows: one row per workgroup of the shared-reduction kernel, with enough threads
        // that each runs few iterations, within the workgroup and shared-memory limits (the
        // reduction holds wg * nc floats).
        const uint32_t max_wg = pow2_floor(std::min({c.max_workgroup_invocations, c.max_workgroup_size[0],
                                                     std::max<uint32_t>(c.max_shared_memory / (4 * nc), 1)}));
        wg = std::min<uint32_t>(wg, max_wg);
        while (wg < max_wg && uk > kMaxLoopIterations * wg) wg *= 2;
        rows = 1;
        name = f16 ? "gemv_f16" : "gemv_f32";
    }
    Plan p;
    p.kernel = &dev.kernel(name, {wg, rows, nc});
    p.group_m = rows;
    p.group_n = nc;
    p.gemv = true;
    return p;
}

Plan plan_tiled(Device& dev, bool f16) {
    const Capabilities& c = dev.caps();
    struct Tiles { uint32_t bm, bn, bk, tm, tn; };
    // Largest tiling whose workgroup and padded shared tiles fit the device.
    // (shaders/matmul.comp needs TM, TN and BK multiples of 4.)
    const Tiles options[] = {{64, 64, 16, 4, 4}, {32, 32, 16, 4, 4}, {16, 16, 16, 4, 4}};
    const Tiles* t = &options[2];
    for (const Tiles& o : options) {
        const uint32_t threads = (o.bm / o.tm) * (o.bn / o.tn);
        const uint32_t shared = o.bk * (o.bm + 4 + o.bn + 4) * 4;
        if (threads <= c.max_workgroup_invocations && threads <= c.max_workgroup_size[0] &&
            shared <= c.max_shared_memory) {
            t = &o;
            break;
        }
    }
    const uint32_t threads = (t->bm / t->tm) * (t->bn / t->tn);
    Plan p;
    p.kernel = &dev.kernel(f16 ? "matmul_f16" : "matmul_f32", {threads, t->bm, t->bn, t->bk, t->tm, t->tn});
    p.group_m = t->bm;
    p.group_n = t->bn;
    return p;
}

// Bindings start at multiples of the device's offset alignment and of at least 16 bytes, so the
// kernels' vec4 arrays start 16-byte aligned (the residue goes into the element offsets).
constexpr uint64_t kVec4Align = 16;

// window_binding (op_common.hpp) for the gemv shaders, with the element offset of `begin`.
std::pair<Binding, uint32_t> bind_range(const Device& dev, const Tensor& t, uint64_t begin,
                                        uint64_t bytes, uint64_t elem_bytes, Access access) {
    uint64_t offset = 0;
    const Binding b = window_binding(dev, t, begin, bytes, access, offset, kVec4Align);
    return {b, static_cast<uint32_t>(offset / elem_bytes)};
}

// Rows of w or x longer than one binding: k is cut into chunks that bind, and every
// (row of w, row of x) pair is a one-element matrix-vector product per chunk, the chunks after
// the first added into y (accumulate) in order. Many small dispatches, but only for rows of
// more than maxStorageBufferRange bytes (128 MiB and up on real devices).
void matmul_long_rows(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y, uint64_t cap) {
    Device& dev = s.device();
    const bool f16 = w.dtype() == DType::f16;
    const uint64_t m = static_cast<uint64_t>(w.dim(0)), k = static_cast<uint64_t>(w.dim(1));
    const uint64_t n = static_cast<uint64_t>(x.rows()), wb = f16 ? 2 : 4;
    const uint64_t want = cap / 8;  // elements of a chunk: x (4 bytes) binds with room to spare
    const uint64_t chunks = (k + want - 1) / want, kc = (k + chunks - 1) / chunks;
    const Plan plan = plan_gemv(dev, f16, 1, static_cast<int64_t>(kc), true);
    for (uint64_t k0 = 0; k0 < k; k0 += kc) {
        const uint64_t kk = std::min(kc, k - k0);
        for (uint64_t i = 0; i < m; ++i) {
            const auto [wbind, w_off] = bind_range(dev, w, (i * k + k0) * wb, kk * wb, wb, Access::Read);
            for (uint64_t j = 0; j < n; ++j) {
                const auto [xb, x_off] = bind_range(dev, x, (j * k + k0) * 4, kk * 4, 4, Access::Read);
                const auto [yb, y_off] = bind_range(dev, y, (j * m + i) * 4, 4, 4,
                                                    k0 == 0 ? Access::Write : Access::ReadWrite);
                const MatmulParams p{1, 1, static_cast<uint32_t>(kk), w_off, x_off, y_off,
                                     static_cast<uint32_t>(m), k0 == 0 ? 0u : 1u};
                const Binding bindings[] = {wbind, xb, yb};
                s.dispatch_raw(*plan.kernel, bindings, 3, &p, sizeof(p), Groups{1, 1, 1}, "gemv");
            }
        }
    }
}

}  // namespace

void matmul(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y) { matmul(s, w, x, y, {}); }

void matmul(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y, const MatmulOptions& opts) {
    check_present(kOp, w, "w");
    check_dtype(kOp, x, "x", {DType::f32});
    check_dtype(kOp, y, "y", {DType::f32});
    if (!is_quantized(w.dtype())) check_dtype(kOp, w, "w", {DType::f32, DType::f16}, /*interleaved_ok=*/true);
    if (w.rank() != 2) fail(kOp, "w " + w.describe() + " must be [m, k]");
    check_same_device(kOp, w, x);
    check_same_device(kOp, w, y);
    const int64_t m = w.dim(0), k = w.dim(1), n = x.rows();
    if (x.cols() != k)
        fail(kOp, "x " + x.describe() + " has k = " + std::to_string(x.cols()) + " but w " +
                      w.describe() + " has k = " + std::to_string(k));
    if (y.cols() != m || y.rows() != n)
        fail(kOp, "y " + y.describe() + " must hold [" + std::to_string(n) + ", " + std::to_string(m) +
                      "] for x " + x.describe() + " and w " + w.describe());
    if (is_quantized(w.dtype())) {
        detail::matmul_quantized(s, w, x, y);
        return;
    }
    if (n == 0 || m == 0) return;
    if (k == 0) {
        s.fill_zero(y);
        return;
    }
    Device& dev = s.device();
    const Capabilities& caps = dev.caps();
    const bool f16 = w.dtype() == DType::f16;
    if (f16 && !caps.fp16_storage)
        throw Error(ErrorKind::Unsupported, std::string(kOp) + ": device '" + caps.name +
                                                "' lacks storageBuffer16BitAccess for f16 weights " +
                                                w.describe());
    check_u32(kOp, m, "m");
    check_u32(kOp, k, "k");
    if (w.interleave()) {  // f16 rows interleaved by upload_matmul_weight: the CPU kernel alone reads them
        detail::gemv_cpu_interleaved(s, w, x, y);
        return;
    }

    // Each binding must fit maxStorageBufferRange, keeping room for the alignment slack of
    // bindings that start below their data.
    const uint64_t cap = window_cap(dev, kVec4Align);
    if (static_cast<uint64_t>(k) * 4 > cap) {  // a row of x (and so of w: 4 or 2 bytes) does not bind
        matmul_long_rows(s, w, x, y, cap);
        return;
    }
    MatmulKernel choice = opts.kernel;
    // f16 decode and prompts on CPU devices (llvmpipe): the CPU-shaped kernel where it fits (2x
    // the others and more).
    if (choice == MatmulKernel::Auto && f16 && caps.type == DeviceType::Cpu && detail::gemv_cpu(s, w, x, y)) return;
    if (choice == MatmulKernel::Auto) choice = n <= kGemvMaxRows ? MatmulKernel::Gemv : MatmulKernel::Tiled;
    const Plan plan = choice == MatmulKernel::Tiled
                          ? plan_tiled(dev, f16)
                          : plan_gemv(dev, f16, n, k, choice == MatmulKernel::Gemv);
    const uint64_t wb = f16 ? 2 : 4;

    // Split so each binding fits within cap and each grid fits maxComputeWorkGroupCount.
    const uint64_t um = static_cast<uint64_t>(m), un = static_cast<uint64_t>(n), uk = static_cast<uint64_t>(k);
    // The matrix-vector grid is spread over x and y (grid_1d), the tiled one uses x for m.
    const uint64_t max_m = plan.gemv ? um : static_cast<uint64_t>(caps.max_workgroup_count[0]) * plan.group_m;
    const uint64_t mc = std::min({um, cap / (uk * wb), cap / 4, max_m});
    if (mc == 0)
        fail(kOp, "one row of w " + w.describe() + " (" + std::to_string(uk * wb) +
                      " bytes) exceeds maxStorageBufferRange " + std::to_string(caps.max_storage_buffer_range));
    const uint64_t max_n = plan.gemv ? plan.group_n
                                     : static_cast<uint64_t>(caps.max_workgroup_count[1]) * plan.group_n;
    // A chunk of nc rows of Y spans (nc - 1) * m + mc elements of its binding.
    const uint64_t nc = std::min({un, cap / (uk * 4), 1 + (cap / 4 - mc) / um, max_n});
    if (cap / (uk * 4) == 0)
        fail(kOp, "one row of x " + x.describe() + " exceeds maxStorageBufferRange " + std::to_string(caps.max_storage_buffer_range));

    for_each_slice(un, nc, um, mc, [&](uint64_t n0, uint64_t nn, uint64_t m0, uint64_t mm) {
        const auto [xb, x_off] = bind_range(dev, x, n0 * uk * 4, nn * uk * 4, 4, Access::Read);
        const auto [wbind, w_off] = bind_range(dev, w, m0 * uk * wb, mm * uk * wb, wb, Access::Read);
        const auto [yb, y_off] = bind_range(dev, y, (n0 * um + m0) * 4, ((nn - 1) * um + mm) * 4, 4, Access::Write);
        const MatmulParams p{static_cast<uint32_t>(mm), static_cast<uint32_t>(nn),
                             static_cast<uint32_t>(k), w_off, x_off, y_off, static_cast<uint32_t>(m), 0};
        const Groups groups = plan.gemv ? grid_1d(dev, ceil_div(mm, plan.group_m))
                                        : Groups{ceil_div(mm, plan.group_m), ceil_div(nn, plan.group_n), 1};
        const Binding bindings[] = {wbind, xb, yb};
        s.dispatch_raw(*plan.kernel, bindings, 3, &p, sizeof(p), groups, plan.gemv ? "gemv" : "matmul");
    });
}

}  // namespace vkml::ops
