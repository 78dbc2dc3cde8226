// Matrix products with block-quantized weights: the matrix-vector kernel (n <= 8, float or
// integer-dot), the tiled kernel (n > 8), range splitting over maxStorageBufferRange.
#include "matmul_quant.hpp"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "op_common.hpp"
#include "vkml/kernel.hpp"
#include "vkml/ops/matmul.hpp"
#include "vkml/ops/quant.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

constexpr const char* kOp = "matmul";
constexpr uint64_t kGemvMaxRows = 8;

// Mirrors `Params` in shaders/gemv_quant.comp (matmul_quant.comp uses the first eight fields).
struct GemvParams {
    uint32_t m, n, k;
    uint32_t w_off, x_off, y_off, ldy, row_bytes, xd_off;
};
struct TiledParams {
    uint32_t m, n, k;
    uint32_t w_off, x_off, y_off, ldy, row_bytes;
};
struct ActParams {
    uint32_t nblocks, x_off, xq_off, xd_off;
};

uint32_t pow2_floor(uint32_t v) {
    uint32_t p = 1;
    while (p * 2 <= v) p *= 2;
    return p;
}

bool use_int_dot(const Capabilities& c, IntDot mode) {
    if (!c.integer_dot_product || mode == IntDot::Off) return false;
    if (mode == IntDot::On) return true;
    if (const char* e = std::getenv("VKML_FORCE_INT_DOT")) {
        if (std::strcmp(e, "1") == 0) return true;
        if (std::strcmp(e, "0") == 0) return false;
    }
    return c.integer_dot_product_accelerated;
}

// The matrix-vector kernel of shaders/gemv_quant.comp for a flavour: the pipeline, rows of W per
// workgroup and rows of x per dispatch (nc).
struct GemvKernel {
    const Kernel* kernel;
    uint32_t rows, nc;
};

GemvKernel gemv_kernel(Device& dev, DType t, QuantKernel flavour, uint64_t n, bool dot) {
    const Capabilities& c = dev.caps();
    const uint32_t wg = pow2_floor(std::min<uint32_t>(64, c.max_workgroup_invocations));
    const uint32_t nc = n == 1 ? 1 : static_cast<uint32_t>(kGemvMaxRows);
    std::string name = "gemv_" + std::string(dtype_name(t)) + (dot ? "_dot" : "");
    const bool subgroup_ok = c.subgroup_basic && c.subgroup_arithmetic;
    // Whole rows per invocation measured slower on llvmpipe than split rows with 4 rows per
    // thread (0.13 vs 0.31 GB/s, q4_0 4096x14336, loaded machine), so split rows everywhere.
    if (flavour == QuantKernel::Gemv) flavour = subgroup_ok ? QuantKernel::GemvSubgroup : QuantKernel::GemvShared;
    if (flavour == QuantKernel::GemvSubgroup && !subgroup_ok) flavour = QuantKernel::GemvShared;
    // Rows per thread: each X element loaded serves this many weights. On CPU devices loads,
    // not arithmetic, bound the split-row flavours (measured: 4 rows about doubles them); GPUs
    // keep one row per thread and more threads in flight. The rows flavour has uniform X loads.
    uint32_t rpt = c.type == DeviceType::Cpu && flavour != QuantKernel::GemvRows ? 4 : 1;
    if (const char* e = std::getenv("VKML_QUANT_RPT_EXPERIMENT")) rpt = static_cast<uint32_t>(std::max(1, std::atoi(e)));
    uint32_t rows;  // rows of W per workgroup, a multiple of rpt
    if (flavour == QuantKernel::GemvRows) {
        name += "_rowwise";  // rpt rows per invocation
        rows = wg * rpt;
    } else if (flavour == QuantKernel::GemvSubgroup) {
        name += "_subgroup";  // one subgroup per group of rpt rows
        rows = std::max<uint32_t>(1, wg / std::max<uint32_t>(c.subgroup_size, 1)) * rpt;
    } else {
        rows = std::min<uint32_t>(4, wg) * rpt;  // wg / 4 threads per row group
    }
    return {&dev.kernel(name, {wg, rows, nc, rpt}), rows, nc};
}

void run_gemv(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y, QuantKernel flavour, bool dot) {
    Device& dev = s.device();
    const Capabilities& c = dev.caps();
    const DTypeInfo& info = dtype_info(w.dtype());
    const uint64_t m = static_cast<uint64_t>(w.dim(0)), k = static_cast<uint64_t>(w.dim(1));
    const uint64_t n = static_cast<uint64_t>(x.rows());
    const uint64_t row_bytes = k / info.block_elems * info.block_bytes;
    const GemvKernel gk = gemv_kernel(dev, w.dtype(), flavour, n, dot);
    const Kernel& kernel = *gk.kernel;
    const uint64_t rows = gk.rows, nc = gk.nc;

    const uint64_t cap = window_cap(dev);
    const uint64_t mc = std::min(m, cap / row_bytes);
    if (mc == 0 || cap / (k * 4) == 0 || cap / (m * 4) == 0)
        fail(kOp, "w " + w.describe() + " or x " + x.describe() + " has a row over maxStorageBufferRange " +
                      std::to_string(c.max_storage_buffer_range));
    // Rows of x (and of y) per dispatch: at most nc, and within one binding.
    const uint64_t xc = std::min<uint64_t>({nc, cap / (k * 4), cap / (m * 4)});

    // Integer-dot path: x quantized once into scratch the stream keeps alive.
    Tensor xq, xd;
    if (dot) {
        xq = Tensor::empty(dev, DType::u32, {static_cast<int64_t>(n), static_cast<int64_t>(k / 4)});
        xd = Tensor::empty(dev, DType::f32, {static_cast<int64_t>(n), static_cast<int64_t>(k / 32)});
        s.hold(xq.buffer());
        s.hold(xd.buffer());
        const Kernel& act = dev.kernel("quantize_act_q8", {64});
        const uint64_t blocks = n * k / 32, chunk = std::min<uint64_t>(cap / 128, UINT32_MAX / 64);
        for (uint64_t b0 = 0; b0 < blocks; b0 += chunk) {
            const uint64_t nb = std::min(chunk, blocks - b0);
            uint64_t xo = 0, qo = 0, dO = 0;
            const Binding bs[] = {window_binding(dev, x, b0 * 128, nb * 128, Access::Read, xo),
                                  window_binding(dev, xq, b0 * 32, nb * 32, Access::Write, qo),
                                  window_binding(dev, xd, b0 * 4, nb * 4, Access::Write, dO)};
            const ActParams p{static_cast<uint32_t>(nb), static_cast<uint32_t>(xo / 4),
                              static_cast<uint32_t>(qo / 4), static_cast<uint32_t>(dO / 4)};
            s.dispatch_raw(act, bs, 3, &p, sizeof(p), grid_1d(dev, ceil_div(nb, 64)), "quantize_act_q8");
        }
    }

    for_each_slice(n, xc, m, mc, [&](uint64_t n0, uint64_t nn, uint64_t m0, uint64_t mm) {
        uint64_t xo = 0, xdo = 0, wo = 0, yo = 0;
        Binding xb, xdb;
        if (dot) {
            xb = window_binding(dev, xq, n0 * k, nn * k, Access::Read, xo);
            xdb = window_binding(dev, xd, n0 * k / 8, nn * k / 8, Access::Read, xdo);
        } else {
            xb = window_binding(dev, x, n0 * k * 4, nn * k * 4, Access::Read, xo);
        }
        const Binding wb = window_binding(dev, w, m0 * row_bytes, mm * row_bytes, Access::Read, wo);
        const Binding yb = window_binding(dev, y, (n0 * m + m0) * 4, ((nn - 1) * m + mm) * 4, Access::Write, yo);
        const GemvParams p{static_cast<uint32_t>(mm), static_cast<uint32_t>(nn), static_cast<uint32_t>(k),
                           static_cast<uint32_t>(wo), static_cast<uint32_t>(xo / 4), static_cast<uint32_t>(yo / 4),
                           static_cast<uint32_t>(m), static_cast<uint32_t>(row_bytes), static_cast<uint32_t>(xdo / 4)};
        const Groups g = grid_1d(dev, ceil_div(mm, rows));
        if (dot) {
            const Binding bs[] = {wb, xb, xdb, yb};
            s.dispatch_raw(kernel, bs, 4, &p, sizeof(p), g, "gemv_quant_dot");
        } else {
            const Binding bs[] = {wb, xb, yb};
            s.dispatch_raw(kernel, bs, 3, &p, sizeof(p), g, "gemv_quant");
        }
    });
}

// Whether shaders/gemv_quant_cpu.comp can take this product: q4_0, q8_0, q6_k or f16, any rows of x,
// chunks of 512 columns (18, 34 or 64 16-byte texels of each W row; q6_k: 105 words), x 16-byte
// aligned. W: q4_0, q8_0 and f16 16-byte aligned (whole texels); q6_k 2-byte (blocks' own
// alignment). k may end in a half chunk (k = 512 c + 256, c >= 1: Llama-2's 11008), which the
// kernel's HALF variant takes as one more column of partial sums.
// The CPU kernel binds W as a uniform texel buffer: a window starts at a texel-aligned offset
// and, with that alignment's slack, spans at most maxTexelBufferElements texels.
uint64_t cpu_w_align(const Device& dev) {
    return std::max<uint64_t>(16, dev.caps().min_texel_offset_alignment);
}
uint64_t cpu_w_texel_cap(const Device& dev) {
    const uint64_t bytes = dev.caps().max_texel_buffer_elements * 16, slack = cpu_w_align(dev) + 16;
    return bytes > slack ? bytes - slack : 0;
}

// Rows of W per lane of the CPU kernel: each workgroup's 512 x values serve lanes * this rows.
// With storage loads (sessions 3-6) 8 measured best on llvmpipe; reading W as texels, 16 is up to
// 15% faster than 8 (2 and 4: 15-80% slower, 32 no faster; session 8) at about 1 s more compile
// time per pipeline.
constexpr uint32_t kCpuRowsPerLane = 16;

// The CPU kernel's row order for the weights it reads fastest (upload_matmul_weight): groups of
// lanes * kCpuRowsPerLane rows, one workgroup's.
RowInterleave cpu_interleave(const Device& dev) { return {dev.caps().subgroup_size, kCpuRowsPerLane}; }

// The interleaved layout (upload_matmul_weight) in 16-byte units: a chunk of `cols` columns
// (512, or a last 256) of a row takes its bytes rounded up to whole units (q6_k: 420 -> 432,
// 210 -> 224; the others are whole already), so every chunk starts on a texel.
uint64_t il_units(DType t, uint64_t cols) { return (dtype_bytes(t, cols) + 15) / 16; }
uint64_t il_row_bytes(DType t, uint64_t k) {
    return 16 * (k / 512 * il_units(t, 512) + (k % 512 ? il_units(t, 256) : 0));
}

// Whether the CPU kernel takes W of this type and row length (its rows bind as texels).
bool cpu_gemv_takes(const Device& dev, DType t, int64_t k) {
    const bool quant = t == DType::q4_0 || t == DType::q8_0 || t == DType::q6_k;
    const bool k_fits = k % 256 == 0 && k >= 512;
    return (quant || t == DType::f16) && k_fits && dtype_bytes(t, static_cast<uint64_t>(k)) <= cpu_w_texel_cap(dev) &&
           dev.caps().subgroup_size >= 1;
}

bool cpu_gemv_fits(const Device& dev, const Tensor& w, const Tensor& x) {
    const DType t = w.dtype();
    const uint64_t align = t == DType::q6_k ? 2 : 16;
    return cpu_gemv_takes(dev, t, w.dim(1)) && w.offset() % align == 0 && x.offset() % 16 == 0;
}

// Partial sums of the CPU kernel held at once (the rows of x are taken in slices to stay within).
constexpr uint64_t kCpuPartBytes = 16ull << 20;

void run_gemv_cpu(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y) {
    Device& dev = s.device();
    const Capabilities& c = dev.caps();
    const uint64_t m = static_cast<uint64_t>(w.dim(0)), k = static_cast<uint64_t>(w.dim(1));
    const uint64_t n = static_cast<uint64_t>(x.rows());
    const bool q6 = w.dtype() == DType::q6_k;
    // Interleaved W (upload_matmul_weight): slices of whole groups of `rows` rows, each group's
    // rows (the last one's padded) bound whole; rows of il_row_bytes, every chunk on a texel.
    const bool il = static_cast<bool>(w.interleave());
    const uint64_t chunks = k / 512, row_bytes = il ? il_row_bytes(w.dtype(), k) : dtype_bytes(w.dtype(), k);
    // k = 512 chunks + 256: the last 256 columns go to the HALF variant as one more chunk of
    // partial sums. q6_k rows (or W) 2-byte but not 4-byte aligned take the PHASED variant;
    // q4_0, q8_0 and f16 rows are always whole 16-byte texels.
    const uint64_t tail = k % 512, all_chunks = chunks + (tail ? 1 : 0);
    const uint64_t row_align = q6 ? 4 : 16;
    const bool phased = !il && (row_bytes % row_align != 0 || w.offset() % row_align != 0);
    const uint32_t lanes = c.subgroup_size;
    const uint64_t rows = uint64_t{lanes} * kCpuRowsPerLane;  // per workgroup
    const std::string name = "gemv_" + std::string(dtype_name(w.dtype())) + "_cpu";
    const std::vector<uint32_t> spec = {lanes, kCpuRowsPerLane, phased ? 1u : 0u, il ? 1u : 0u};
    const Kernel& kernel = dev.kernel(name, spec);
    const Kernel& reduce = dev.kernel("gemv_cpu_reduce", {64});
    const uint64_t w_align = cpu_w_align(dev);
    const uint64_t cap = std::min(window_cap(dev, w_align), cpu_w_texel_cap(dev));
    uint64_t mc = std::min({m, cap / row_bytes, cap / (all_chunks * 4),
                            static_cast<uint64_t>(c.max_workgroup_count[1]) * rows});
    if (il) {  // whole groups, padding included, within the binding
        mc = std::min(mc, cap / row_bytes / rows * rows);
        if (mc < m) mc = mc / rows * rows;
    }
    if (mc == 0 || cap / (k * 4) == 0 || chunks > c.max_workgroup_count[0])
        fail(kOp, "w " + w.describe() + " or x " + x.describe() + " has a row over maxStorageBufferRange " +
                      std::to_string(c.max_storage_buffer_range));
    // Rows of x per slice: their partial sums, x rows and y rows each fit a binding (a slice of
    // nc rows of y spans (nc - 1) * m + mc elements) and the grid's z.
    const uint64_t part_row = all_chunks * mc * 4;
    const uint64_t nc = std::min({n, std::max<uint64_t>(1, std::min(cap, kCpuPartBytes) / part_row), cap / (k * 4),
                                  1 + (cap / 4 - mc) / m, static_cast<uint64_t>(c.max_workgroup_count[2])});
    // Partial sums per (chunk, row of x, row of W), summed in chunk order by gemv_cpu_reduce
    // (deterministic).
    const Tensor part = Tensor::empty(dev, DType::f32, {static_cast<int64_t>(nc), static_cast<int64_t>(all_chunks * mc)});
    s.hold(part.buffer());
    // The half chunk, columns [512 chunks, k) of each row: the kernel's HALF variant (8 blocks;
    // q6_k: one super-block).
    const std::string half_name = name + "_half";
    const Kernel* half_kernel = tail ? &dev.kernel(half_name, spec) : nullptr;
    const uint64_t col_bytes = il ? il_row_bytes(w.dtype(), 512 * chunks) : dtype_bytes(w.dtype(), 512 * chunks);
    for_each_slice(n, nc, m, mc, [&](uint64_t n0, uint64_t nn, uint64_t m0, uint64_t mm) {
        uint64_t xo = 0, wo = 0, po = 0, yo = 0;
        const Binding xb = window_binding(dev, x, n0 * k * 4, nn * k * 4, Access::Read, xo);
        const uint64_t w_rows = il ? ceil_div(mm, rows) * rows : mm;
        const Binding wb = window_binding(dev, w, m0 * row_bytes, w_rows * row_bytes, Access::Read, wo, w_align);
        // Chunk-major partial sums: the HALF variant writes a range of its own after the others'.
        uint64_t hpo = 0;
        const Binding pw = window_binding(dev, part, 0, chunks * nn * mm * 4, Access::Write, po);
        const Binding ph_w = window_binding(dev, part, chunks * nn * mm * 4, nn * mm * 4, Access::Write, hpo);
        const Binding pr = window_binding(dev, part, 0, all_chunks * nn * mm * 4, Access::Read, po);
        const Binding yb = window_binding(dev, y, (n0 * m + m0) * 4, ((nn - 1) * m + mm) * 4, Access::Write, yo);
        if (wo % (phased ? row_align / 2 : row_align) != 0 || (phased && !q6) || xo % 16 != 0)
            fail(kOp, "internal: misaligned binding for the CPU kernel");
        struct {
            uint32_t m, chunks, w_off, row_bytes, w_texels, x_off, part_off, y_off, x_stride, ldy;
            uint32_t nib[16];  // the identity table of uniform_id() in the shader
        } p{static_cast<uint32_t>(mm), static_cast<uint32_t>(all_chunks), static_cast<uint32_t>(wo),
            static_cast<uint32_t>(row_bytes), static_cast<uint32_t>((wb.range + 15) / 16),
            static_cast<uint32_t>(xo / 16), static_cast<uint32_t>(po / 4), static_cast<uint32_t>(yo / 4),
            static_cast<uint32_t>(k / 4), static_cast<uint32_t>(m), {}};
        for (uint32_t i = 0; i < 16; ++i) p.nib[i] = i;
        static_assert(sizeof(p) <= 128);
        const uint32_t rgroups = ceil_div(mm, rows), zn = static_cast<uint32_t>(nn);
        const Binding bs[] = {wb, xb, pw};
        s.dispatch_raw(kernel, bs, 3, &p, sizeof(p), Groups{static_cast<uint32_t>(chunks), rgroups, zn}, name.c_str());
        if (half_kernel) {
            // The last 256 columns of each row, into partial-sum chunk `chunks`: chunk 0 of
            // a dispatch whose W and x start at column 512 chunks.
            auto ph = p;
            ph.w_off += static_cast<uint32_t>(il ? col_bytes * rows : col_bytes);  // interleaved: past every row's chunks
            ph.x_off += static_cast<uint32_t>(chunks * 512 / 4);
            ph.part_off = static_cast<uint32_t>(hpo / 4);
            const Binding hb[] = {wb, xb, ph_w};
            s.dispatch_raw(*half_kernel, hb, 3, &ph, sizeof(ph), Groups{1, rgroups, zn}, half_name.c_str());
        }
        const Binding rs[] = {pr, yb};
        s.dispatch_raw(reduce, rs, 2, &p, sizeof(p), Groups{ceil_div(mm, 64), 1, zn}, "gemv_cpu_reduce");
    });
}

void run_tiled(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y) {
    Device& dev = s.device();
    const Capabilities& c = dev.caps();
    const DTypeInfo& info = dtype_info(w.dtype());
    const uint64_t m = static_cast<uint64_t>(w.dim(0)), k = static_cast<uint64_t>(w.dim(1));
    const uint64_t n = static_cast<uint64_t>(x.rows());
    const uint64_t row_bytes = k / info.block_elems * info.block_bytes;
    struct Tiles { uint32_t bm, bn, tm, tn; };
    const Tiles options[] = {{64, 64, 4, 4}, {32, 32, 4, 4}, {16, 16, 2, 2}};
    const Tiles* t = &options[2];
    for (const Tiles& o : options) {
        const uint32_t threads = (o.bm / o.tm) * (o.bn / o.tn);
        const uint32_t shared = 32 * (o.bm + 1 + o.bn + 1) * 4;
        if (threads <= c.max_workgroup_invocations && threads <= c.max_workgroup_size[0] &&
            shared <= c.max_shared_memory) {
            t = &o;
            break;
        }
    }
    const uint32_t threads = (t->bm / t->tm) * (t->bn / t->tn);
    const Kernel& kernel =
        dev.kernel("matmul_" + std::string(dtype_name(w.dtype())), {threads, t->bm, t->bn, t->tm, t->tn});

    const uint64_t cap = window_cap(dev);
    const uint64_t mc = std::min({m, cap / row_bytes, static_cast<uint64_t>(c.max_workgroup_count[0]) * t->bm});
    if (mc == 0 || cap / (k * 4) == 0 || cap / (m * 4) == 0)
        fail(kOp, "w " + w.describe() + " or x " + x.describe() + " has a row over maxStorageBufferRange " +
                      std::to_string(c.max_storage_buffer_range));
    const uint64_t nc = std::min({n, cap / (k * 4), cap / (m * 4), static_cast<uint64_t>(c.max_workgroup_count[1]) * t->bn});
    for_each_slice(n, nc, m, mc, [&](uint64_t n0, uint64_t nn, uint64_t m0, uint64_t mm) {
        uint64_t xo = 0, wo = 0, yo = 0;
        const Binding xb = window_binding(dev, x, n0 * k * 4, nn * k * 4, Access::Read, xo);
        const Binding wb = window_binding(dev, w, m0 * row_bytes, mm * row_bytes, Access::Read, wo);
        const Binding yb = window_binding(dev, y, (n0 * m + m0) * 4, ((nn - 1) * m + mm) * 4, Access::Write, yo);
        const TiledParams p{static_cast<uint32_t>(mm), static_cast<uint32_t>(nn), static_cast<uint32_t>(k),
                            static_cast<uint32_t>(wo), static_cast<uint32_t>(xo / 4), static_cast<uint32_t>(yo / 4),
                            static_cast<uint32_t>(m), static_cast<uint32_t>(row_bytes)};
        const Binding bs[] = {wb, xb, yb};
        s.dispatch_raw(kernel, bs, 3, &p, sizeof(p), Groups{ceil_div(mm, t->bm), ceil_div(nn, t->bn), 1},
                       "matmul_quant");
    });
}

}  // namespace

void matmul_quantized(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y, const QuantMatmulOptions& opts) {
    check_dtype(kOp, w, "w", {DType::q8_0, DType::q4_0, DType::q6_k}, /*interleaved_ok=*/true);
    check_dtype(kOp, x, "x", {DType::f32});
    check_dtype(kOp, y, "y", {DType::f32});
    if (w.rank() != 2) fail(kOp, "w " + w.describe() + " must be [m, k]");
    check_same_device(kOp, w, x);
    check_same_device(kOp, w, y);
    const int64_t m = w.dim(0), k = w.dim(1), n = x.rows();
    const DTypeInfo& info = dtype_info(w.dtype());
    if (k % info.block_elems != 0)
        fail(kOp, "w " + w.describe() + ": k must be a multiple of the " + std::string(info.name) +
                      " block of " + std::to_string(info.block_elems));
    if (x.cols() != k)
        fail(kOp, "x " + x.describe() + " has k = " + std::to_string(x.cols()) + " but w " + w.describe() +
                      " has k = " + std::to_string(k));
    if (y.cols() != m || y.rows() != n)
        fail(kOp, "y " + y.describe() + " must hold [" + std::to_string(n) + ", " + std::to_string(m) +
                      "] for x " + x.describe() + " and w " + w.describe());
    if (w.bytes() < dtype_bytes(w.dtype(), static_cast<uint64_t>(m * k)))
        fail(kOp, "w " + w.describe() + " holds " + std::to_string(w.bytes()) + " bytes, fewer than its blocks need");
    if (n == 0 || m == 0) return;
    if (k == 0) {
        s.fill_zero(y);
        return;
    }
    check_u32(kOp, m, "m");
    check_u32(kOp, k, "k");
    check_u32(kOp, static_cast<int64_t>(static_cast<uint64_t>(n) * static_cast<uint64_t>(k)), "n * k");
    if (w.interleave()) {  // only the CPU kernel reads it, whatever opts ask
        detail::gemv_cpu_interleaved(s, w, x, y);
        return;
    }
    QuantKernel choice = opts.kernel;
    const Capabilities& caps = s.device().caps();
    const bool dot = use_int_dot(caps, opts.int_dot);
    // CPU devices (llvmpipe) take the CPU-shaped kernel where it fits, for decode (unless the
    // integer-dot path is asked for) and prompts: 2.6-10x the other kernels there.
    const bool cpu_auto = choice == QuantKernel::Auto && caps.type == DeviceType::Cpu &&
                          (static_cast<uint64_t>(n) > kGemvMaxRows || !dot);
    if (cpu_auto || (choice == QuantKernel::GemvCpu && !dot)) {
        if (cpu_gemv_fits(s.device(), w, x)) {
            run_gemv_cpu(s, w, x, y);
            return;
        }
    }
    if (choice == QuantKernel::GemvCpu) choice = QuantKernel::Gemv;
    if (choice == QuantKernel::Auto)
        choice = static_cast<uint64_t>(n) <= kGemvMaxRows ? QuantKernel::Gemv : QuantKernel::Tiled;
    if (choice == QuantKernel::Tiled) {
        run_tiled(s, w, x, y);
        return;
    }
    run_gemv(s, w, x, y, choice, dot);
}

namespace detail {

bool gemv_cpu(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y) {
    if (w.interleave()) {
        gemv_cpu_interleaved(s, w, x, y);
        return true;
    }
    if (!cpu_gemv_fits(s.device(), w, x)) return false;
    run_gemv_cpu(s, w, x, y);
    return true;
}

void gemv_cpu_interleaved(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y) {
    const RowInterleave want = cpu_interleave(s.device());
    if (w.interleave() != want)
        fail(kOp, "w " + w.describe() + " was interleaved for another device: '" + s.device().caps().name +
                      "' reads groups of " + std::to_string(want.lanes) + "x" + std::to_string(want.rows_per_lane));
    if (!cpu_gemv_fits(s.device(), w, x))
        fail(kOp, "w " + w.describe() + " has interleaved rows, which only the CPU kernel reads, and x " + x.describe() +
                      " at byte " + std::to_string(x.offset()) + " of its buffer is not 16-byte aligned");
    run_gemv_cpu(s, w, x, y);
}

void matmul_quantized(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y) {
    ops::matmul_quantized(s, w, x, y, {});
}

}  // namespace detail

namespace {

// Rows of W (dense, m rows of dtype_bytes(t, k)) into the CPU kernel's interleaved order: row j
// is row jj = r * lanes + l of group j / G (G = lanes * rows_per_lane); its column chunk c (512
// columns, or a last 256) is cut into nt 16-byte units (il_units: the last one zero-padded), and
// unit i goes to unit G * c * NT + (r * nt + i) * lanes + l of the group (NT: the units of a
// whole chunk). So one texel fetch of the kernel's 8 lanes reads adjacent units. The last
// group's missing rows are zero.
std::vector<uint8_t> interleave_rows(DType t, uint64_t m, uint64_t k, const uint8_t* src, RowInterleave il) {
    const uint64_t g_rows = il.group_rows(), lanes = il.lanes;
    const uint64_t dense_row = dtype_bytes(t, k), il_row = il_row_bytes(t, k), chunks = k / 512;
    const uint64_t nt_full = il_units(t, 512), cb_full = dtype_bytes(t, 512), cb_tail = dtype_bytes(t, 256);
    std::vector<uint8_t> out((m + g_rows - 1) / g_rows * g_rows * il_row, 0);
    for (uint64_t j = 0; j < m; ++j) {
        const uint64_t jj = j % g_rows, l = jj % lanes, r = jj / lanes;
        uint8_t* group = out.data() + j / g_rows * g_rows * il_row;
        for (uint64_t c = 0; c <= chunks; ++c) {
            const uint64_t cb = c < chunks ? cb_full : (k % 512 ? cb_tail : 0), nt = (cb + 15) / 16;
            const uint8_t* chunk = src + j * dense_row + c * cb_full;
            for (uint64_t i = 0; i < nt; ++i)
                std::memcpy(group + (g_rows * c * nt_full + (r * nt + i) * lanes + l) * 16, chunk + 16 * i,
                            std::min<uint64_t>(16, cb - 16 * i));
        }
    }
    return out;
}

}  // namespace

Tensor upload_matmul_weight(Device& dev, DType dtype, const Shape& shape, const void* data, uint64_t bytes,
                            WeightLayout layout) {
    const char* op = "upload_matmul_weight";
    if (shape.size() != 2 || shape[0] <= 0 || shape[1] <= 0)
        fail(op, std::string(dtype_name(dtype)) + shape_string(shape) + " must be [m, k] with m, k > 0");
    if (layout == WeightLayout::Auto) {
        const char* e = std::getenv("VKML_INTERLEAVE_WEIGHTS");
        const bool off = e && std::strcmp(e, "0") == 0;
        layout = dev.caps().type == DeviceType::Cpu && !off ? WeightLayout::Interleave : WeightLayout::Dense;
    }
    // A group of rows must bind whole.
    const RowInterleave ri = cpu_interleave(dev);
    const uint64_t group_bytes = ri.group_rows() * il_row_bytes(dtype, static_cast<uint64_t>(shape[1]));
    const bool il = layout == WeightLayout::Interleave && cpu_gemv_takes(dev, dtype, shape[1]) &&
                    group_bytes <= std::min(window_cap(dev, cpu_w_align(dev)), cpu_w_texel_cap(dev));
    if (!il) return Tensor::from_host(dev, dtype, shape, data, bytes, Pool::Weights);
    const uint64_t m = static_cast<uint64_t>(shape[0]), k = static_cast<uint64_t>(shape[1]);
    if (bytes != dtype_bytes(dtype, m * k))
        fail(op, std::to_string(bytes) + " bytes for " + std::string(dtype_name(dtype)) + shape_string(shape) +
                     ", which holds " + std::to_string(dtype_bytes(dtype, m * k)));
    const std::vector<uint8_t> packed = interleave_rows(dtype, m, k, static_cast<const uint8_t*>(data), ri);
    return Tensor::from_host_interleaved(dev, dtype, shape, ri, packed.data(), packed.size());
}

}  // namespace vkml::ops
