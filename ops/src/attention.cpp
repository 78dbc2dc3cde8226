// KV-cache writes and fused attention; see shaders/kv_cache.comp, shaders/attention.comp and
// shaders/attention_combine.comp.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>

#include "op_common.hpp"
#include "vkml/ops/attention.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct KvWriteParams {
    uint32_t n, first, row, limit;
};
static_assert(sizeof(KvWriteParams) <= 128);

struct AttentionParams {
    uint32_t n_q, heads, kv_heads, group, kv_len, causal, chunk;
    float scale, inv_log_n_train;
    uint32_t n_train;
};
static_assert(sizeof(AttentionParams) <= 128);

struct CombineParams {
    uint32_t rows, d, splits;
};
static_assert(sizeof(CombineParams) <= 128);

constexpr uint32_t kElementwiseWorkgroup = 256;
constexpr int64_t kMaxHeadDim = 256;

void check_fp16(const char* op, const Device& dev) {
    if (!dev.caps().fp16_storage)
        throw Error(ErrorKind::Unsupported,
                    std::string(op) + ": the f16 KV cache needs storageBuffer16BitAccess, which " +
                        dev.caps().name + " lacks");
}

void check_bindable(const char* op, const Device& dev, const Tensor& t, const char* what) {
    const uint64_t range = dev.caps().max_storage_buffer_range;
    if (t.bytes() > range)
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + what + " " + t.describe() +
                                                " (" + std::to_string(t.bytes()) +
                                                " bytes) exceeds maxStorageBufferRange " +
                                                std::to_string(range));
}

void check_cache(const char* op, const Tensor& c, const char* name) {
    check_dtype(op, c, name, {DType::f16});
    if (c.rank() != 3) fail(op, std::string(name) + " " + c.describe() + " must be [max_ctx, kv_heads, head_dim]");
    if (c.numel() == 0) fail(op, std::string(name) + " " + c.describe() + " is empty");
}

// Tiles: BR rows (query, head) x BK keys. Shared memory holds q [BR, D4] and one K or V tile
// [BK, D4 + 1] as vec4 (D4 = head_dim / 4 rounded up), the scores [BR, BK] and four per-row
// words.
struct Tiles {
    uint32_t br = 16, bk = 32;
};

uint64_t shared_bytes(Tiles t, uint64_t d) {
    const uint64_t d4 = (d + 3) / 4;
    return 16 * (t.br * d4 + t.bk * (d4 + 1)) + 4 * uint64_t{t.br} * t.bk + 16 * uint64_t{t.br};
}

Tiles choose_tiles(const Device& dev, int64_t d, int64_t rows_total) {
    const uint64_t limit = dev.caps().max_shared_memory;
    Tiles t;
    t.br = rows_total <= 4 ? 4 : 16;  // decode of a small group wastes little of a 4-row tile
    while (shared_bytes(t, d) > limit && (t.bk > 16 || t.br > 4)) {
        if (t.bk > 16) t.bk /= 2;
        else t.br /= 2;
    }
    if (shared_bytes(t, d) > limit)
        throw Error(ErrorKind::Unsupported,
                    "attention: head_dim " + std::to_string(d) + " needs " +
                        std::to_string(shared_bytes(t, d)) + " bytes of shared memory, more than " +
                        dev.caps().name + "'s " + std::to_string(limit));
    return t;
}

void check_positions(const char* op, const Tensor& positions, const Tensor& like, int64_t n) {
    check_dtype(op, positions, "positions", {DType::u32});
    check_same_device(op, like, positions);
    if (positions.rank() != 1 || positions.dim(0) != n)
        fail(op, "positions " + positions.describe() + " must be u32 [" + std::to_string(n) + "]");
}

// Shapes, types and devices of a cache write; returns n.
int64_t check_kv_write(const char* name, const Tensor& k, const Tensor& v, const Tensor& k_cache,
                       const Tensor& v_cache) {
    check_dtype(name, k, "k", {DType::f32});
    check_dtype(name, v, "v", {DType::f32});
    check_cache(name, k_cache, "k_cache");
    check_cache(name, v_cache, "v_cache");
    check_same_shape(name, k, "k", v, "v");
    check_same_shape(name, k_cache, "k_cache", v_cache, "v_cache");
    check_same_device(name, k, v);
    check_same_device(name, k, k_cache);
    check_same_device(name, k, v_cache);
    if (k.rank() != 3 || k.dim(1) != k_cache.dim(1) || k.dim(2) != k_cache.dim(2) || k.numel() == 0)
        fail(name, "k " + k.describe() + " must be [n, kv_heads, head_dim] with n >= 1 matching k_cache " +
                       k_cache.describe());
    return k.dim(0);
}

}  // namespace

void kv_cache_write(Stream& s, const Tensor& k, const Tensor& v, const Tensor& k_cache,
                    const Tensor& v_cache, int64_t pos) {
    const char* name = "kv_cache_write";
    const int64_t n = check_kv_write(name, k, v, k_cache, v_cache), max_ctx = k_cache.dim(0);
    if (pos < 0 || pos + n > max_ctx)
        fail(name, "rows [" + std::to_string(pos) + ", " + std::to_string(pos + n) +
                       ") do not fit the cache " + k_cache.describe());
    Device& dev = s.device();
    check_fp16(name, dev);
    check_bindable(name, dev, k, "k");
    // Bind the cache from the last row before pos whose offset meets the storage-buffer
    // alignment, so caches larger than one binding work; the kernel adds the remaining rows.
    const int64_t row = k.dim(1) * k.dim(2);
    const uint64_t align = window_alignment(dev, 1);
    int64_t step = 1;
    while ((static_cast<uint64_t>(step * row) * 2) % align != 0) ++step;
    const int64_t start = pos / step * step;
    const Tensor kw = k_cache.reshape({max_ctx, row}).row_slice(start, pos + n - start);
    const Tensor vw = v_cache.reshape({max_ctx, row}).row_slice(start, pos + n - start);
    check_bindable(name, dev, kw, "the cache rows written");
    const KvWriteParams p{static_cast<uint32_t>(k.numel()), static_cast<uint32_t>((pos - start) * row), 0, 0};
    s.dispatch(dev.kernel("kv_cache", {kElementwiseWorkgroup}),
               {in(k), in(v), out(kw), out(vw)}, p,
               grid_1d(dev, ceil_div(static_cast<uint64_t>(k.numel()), kElementwiseWorkgroup)), name);
}

void kv_cache_write(Stream& s, const Tensor& k, const Tensor& v, const Tensor& k_cache,
                    const Tensor& v_cache, const Tensor& positions) {
    const char* name = "kv_cache_write";
    const int64_t n = check_kv_write(name, k, v, k_cache, v_cache);
    check_positions(name, positions, k, n);
    Device& dev = s.device();
    check_fp16(name, dev);
    check_bindable(name, dev, k, "k");
    check_bindable(name, dev, k_cache, "k_cache (bound whole when the position is read on the device)");
    check_u32(name, k_cache.numel(), "cache elements");
    const KvWriteParams p{static_cast<uint32_t>(k.numel()), 0, static_cast<uint32_t>(k.dim(1) * k.dim(2)),
                          static_cast<uint32_t>(k_cache.numel())};
    s.dispatch(dev.kernel("kv_cache_at", {kElementwiseWorkgroup}),
               {in(k), in(v), out(k_cache), out(v_cache), in(positions)}, p,
               grid_1d(dev, ceil_div(static_cast<uint64_t>(k.numel()), kElementwiseWorkgroup)), name);
}

namespace {

// Both forms of attention: kv_len known when recording (positions == nullptr), or read on the
// device as positions[0] + n_q, in which case kv_len is the cache's row count (an upper bound
// that sizes the key slices) and the caches are bound whole.
void attention_impl(Stream& s, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, int64_t kv_len,
                    const Tensor* positions, const Tensor& out_t, const AttentionOptions& o) {
    const char* name = "attention";
    check_dtype(name, q, "q", {DType::f32});
    check_dtype(name, out_t, "out", {DType::f32});
    check_cache(name, k_cache, "k_cache");
    check_cache(name, v_cache, "v_cache");
    check_same_shape(name, q, "q", out_t, "out");
    check_same_shape(name, k_cache, "k_cache", v_cache, "v_cache");
    check_same_device(name, q, out_t);
    check_same_device(name, q, k_cache);
    check_same_device(name, q, v_cache);
    if (q.rank() != 3 || q.numel() == 0) fail(name, "q " + q.describe() + " must be [n_q, heads, head_dim], non-empty");
    const int64_t n_q = q.dim(0), heads = q.dim(1), d = q.dim(2);
    const int64_t max_ctx = k_cache.dim(0), kv_heads = k_cache.dim(1);
    if (k_cache.dim(2) != d)
        fail(name, "head_dim of q " + q.describe() + " and k_cache " + k_cache.describe() + " differ");
    if (heads % kv_heads != 0)
        fail(name, "heads of q " + q.describe() + " must be a multiple of the kv_heads of k_cache " +
                       k_cache.describe());
    if (positions) check_positions(name, *positions, q, n_q);
    if (positions && max_ctx < n_q)
        fail(name, "k_cache " + k_cache.describe() + " has fewer rows than the " + std::to_string(n_q) + " queries");
    if (kv_len < 1 || kv_len > max_ctx)
        fail(name, "kv_len " + std::to_string(kv_len) + " must be in [1, max_ctx] for k_cache " + k_cache.describe());
    if ((o.causal || o.n_train > 0) && kv_len < n_q)
        fail(name, "kv_len " + std::to_string(kv_len) + " < n_q " + std::to_string(n_q) +
                       ": a causal query needs its own key in the cache");
    if (o.n_train != 0 && o.n_train < 2)
        fail(name, "n_train " + std::to_string(o.n_train) + " must be >= 2 (or 0 to disable the length scale)");
    if (o.splits < 0) fail(name, "splits " + std::to_string(o.splits) + " is negative");
    if (!std::isfinite(o.scale)) fail(name, "scale must be finite");
    if (d % 2 != 0) fail(name, "head_dim of q " + q.describe() + " must be even");
    if (d > kMaxHeadDim)
        throw Error(ErrorKind::Unsupported, "attention: head_dim " + std::to_string(d) + " exceeds " +
                                                std::to_string(kMaxHeadDim));
    check_u32(name, o.n_train, "n_train");

    Device& dev = s.device();
    const Capabilities& caps = dev.caps();
    check_fp16(name, dev);
    check_bindable(name, dev, q, "q");
    const Tensor kc = k_cache.reshape({max_ctx, kv_heads * d}).row_slice(0, kv_len);
    const Tensor vc = v_cache.reshape({max_ctx, kv_heads * d}).row_slice(0, kv_len);
    check_bindable(name, dev, kc, "the first kv_len rows of k_cache");

    // The kernel needs a workgroup that is a multiple of head_dim / 4 and at least BK (32).
    // GPUs get about 128 invocations. CPU devices run a workgroup's invocations one SIMD vector
    // after another, so parallel width buys nothing there while every shared-memory access is
    // a separate load per lane: a narrow workgroup (one score row group, one output row group)
    // reuses each loaded K/V quad for all rows. VKML_ATTENTION_WG=wide|narrow forces either
    // (tests cover both kernels on any device).
    const int64_t d4 = (d + 3) / 4;
    bool narrow = caps.type == DeviceType::Cpu;
    if (const char* f = std::getenv("VKML_ATTENTION_WG")) {
        if (std::string(f) == "wide") narrow = false;
        else if (std::string(f) == "narrow") narrow = true;
    }
    const uint32_t wg = static_cast<uint32_t>(narrow ? d4 * ((32 + d4 - 1) / d4)
                                                     : d4 * std::max<int64_t>(1, 128 / d4));
    if (wg > caps.max_workgroup_invocations || wg > caps.max_workgroup_size[0])
        throw Error(ErrorKind::Unsupported, "attention: head_dim " + std::to_string(d) + " needs " +
                                                std::to_string(wg) + " invocations per workgroup, more than " +
                                                caps.name + " allows");
    const int64_t group = heads / kv_heads;
    const int64_t rows_total = n_q * group;
    const Tiles t = choose_tiles(dev, d, rows_total);
    const int64_t row_blocks = (rows_total + t.br - 1) / t.br;
    if (row_blocks > caps.max_workgroup_count[0] || kv_heads > caps.max_workgroup_count[1])
        throw Error(ErrorKind::Unsupported, "attention: " + std::to_string(row_blocks) + " x " +
                                                std::to_string(kv_heads) + " workgroups exceed the device's limits");

    // Split the keys when (query block, KV head) pairs alone would leave the device idle
    // (decode), keeping at least four key blocks per slice.
    int64_t splits = o.splits;
    const int64_t max_splits = std::max<int64_t>(1, kv_len / (4 * t.bk));
    if (splits == 0) {
        const int64_t target = caps.type == DeviceType::Cpu ? 8 : 256;
        splits = std::clamp<int64_t>((target + row_blocks * kv_heads - 1) / (row_blocks * kv_heads), 1, max_splits);
    }
    splits = std::min<int64_t>({splits, kv_len, caps.max_workgroup_count[2]});
    int64_t chunk = (kv_len + splits - 1) / splits;
    chunk = (chunk + t.bk - 1) / t.bk * t.bk;
    splits = (kv_len + chunk - 1) / chunk;

    const float scale = o.scale != 0.0f ? o.scale : static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
    const AttentionParams p{static_cast<uint32_t>(n_q),      static_cast<uint32_t>(heads),
                            static_cast<uint32_t>(kv_heads), static_cast<uint32_t>(group),
                            static_cast<uint32_t>(kv_len),   o.causal ? 1u : 0u,
                            static_cast<uint32_t>(chunk),    scale,
                            o.n_train > 0 ? static_cast<float>(1.0 / std::log(static_cast<double>(o.n_train))) : 0.0f,
                            static_cast<uint32_t>(o.n_train)};
    const std::vector<uint32_t> spec{wg, static_cast<uint32_t>(d), t.br, t.bk};
    const Groups groups{static_cast<uint32_t>(row_blocks), static_cast<uint32_t>(kv_heads),
                        static_cast<uint32_t>(splits)};
    if (splits == 1) {
        if (positions)
            s.dispatch(dev.kernel("attention_f16_at", spec), {in(q), in(kc), in(vc), out(out_t), in(*positions)}, p,
                       groups, name);
        else
            s.dispatch(dev.kernel("attention_f16", spec), {in(q), in(kc), in(vc), out(out_t)}, p, groups, name);
        return;
    }
    const int64_t rows_all = n_q * heads;
    Tensor part_o = Tensor::empty(dev, DType::f32, {splits, rows_all, d});
    Tensor part_ml = Tensor::empty(dev, DType::f32, {splits, rows_all, 2});
    check_bindable(name, dev, part_o, "the split-K scratch");
    s.hold(part_o.buffer());
    s.hold(part_ml.buffer());
    if (positions)
        s.dispatch(dev.kernel("attention_f16_split_at", spec),
                   {in(q), in(kc), in(vc), out(part_o), out(part_ml), in(*positions)}, p, groups, name);
    else
        s.dispatch(dev.kernel("attention_f16_split", spec), {in(q), in(kc), in(vc), out(part_o), out(part_ml)},
                   p, groups, name);
    const CombineParams cp{static_cast<uint32_t>(rows_all), static_cast<uint32_t>(d), static_cast<uint32_t>(splits)};
    s.dispatch(dev.kernel("attention_combine", {kElementwiseWorkgroup}), {in(part_o), in(part_ml), out(out_t)}, cp,
               grid_1d(dev, ceil_div(static_cast<uint64_t>(rows_all * d), kElementwiseWorkgroup)), name);
}

}  // namespace

void attention(Stream& s, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, int64_t kv_len,
               const Tensor& out, const AttentionOptions& opts) {
    attention_impl(s, q, k_cache, v_cache, kv_len, nullptr, out, opts);
}

void attention(Stream& s, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, const Tensor& positions,
               const Tensor& out, const AttentionOptions& opts) {
    attention_impl(s, q, k_cache, v_cache, k_cache.rank() == 3 ? k_cache.dim(0) : 0, &positions, out, opts);
}

}  // namespace vkml::ops
