// KV-cache writes and fused attention against ops/reference: odd cache lengths, prefill and
// decode, grouped-query ratios 1/2/4, head_dim 42, 48, 64 and 128, causal and not, the length scale,
// forced split-K, a prefill+decode sequence, positions read on the device (one recording
// replayed at every decode step), and bad arguments.
#include <cmath>
#include <cstdlib>

#include "vkml/ops/attention.hpp"
#include "vkml/reference/attention.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Attention : public VkmlTest {};

// Runs the body with the narrow (CPU-style) and the wide (GPU-style) workgroup, so both kernel
// shapes are covered on any device.
template <class F>
void for_each_workgroup(F&& body) {
    for (const char* wg : {"narrow", "wide"}) {
        SCOPED_TRACE(std::string("VKML_ATTENTION_WG=") + wg);
        setenv("VKML_ATTENTION_WG", wg, 1);
        body();
    }
    unsetenv("VKML_ATTENTION_WG");
}

std::vector<float> round_f16(std::vector<float> v) {
    for (float& x : v) x = half_to_float(float_to_half(x));
    return v;
}

struct Case {
    int64_t n_q, kv_len, heads, kv_heads, head_dim;
    ops::AttentionOptions opts;
};

std::string describe(const Case& c) {
    return "n_q " + std::to_string(c.n_q) + " kv_len " + std::to_string(c.kv_len) + " heads " +
           std::to_string(c.heads) + "/" + std::to_string(c.kv_heads) + " d " + std::to_string(c.head_dim) +
           (c.opts.causal ? " causal" : "") + " n_train " + std::to_string(c.opts.n_train) + " splits " +
           std::to_string(c.opts.splits);
}

// Runs one case with a cache of max_ctx = kv_len + 3 rows (the extra rows hold garbage the
// kernel must not read) and compares with the reference fed the same f16-rounded K and V.
void check_case(Device& dev, Stream& s, const Case& c, uint32_t seed) {
    SCOPED_TRACE(describe(c));
    const int64_t max_ctx = c.kv_len + 3, d = c.head_dim;
    const auto qs = random_floats(static_cast<size_t>(c.n_q * c.heads * d), seed, -2.0f, 2.0f);
    const auto ks = round_f16(random_floats(static_cast<size_t>(max_ctx * c.kv_heads * d), seed + 1, -2.0f, 2.0f));
    const auto vs = round_f16(random_floats(static_cast<size_t>(max_ctx * c.kv_heads * d), seed + 2));
    Tensor q = Tensor::from_floats(dev, DType::f32, {c.n_q, c.heads, d}, qs);
    Tensor kc = Tensor::from_floats(dev, DType::f16, {max_ctx, c.kv_heads, d}, ks);
    Tensor vc = Tensor::from_floats(dev, DType::f16, {max_ctx, c.kv_heads, d}, vs);
    Tensor o = Tensor::empty(dev, DType::f32, {c.n_q, c.heads, d});
    ops::attention(s, q, kc, vc, c.kv_len, o, c.opts);
    s.finish();
    const auto ref = reference::attention(qs, ks, vs, c.n_q, c.heads, c.kv_heads, d, c.kv_len, c.opts);
    EXPECT_NMSE_LE(ref, o.to_floats(), 1e-5);
}

TEST_F(Attention, KvCacheWriteRoundsToF16AtPosition) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const int64_t max_ctx = 9, kvh = 2, d = 6, n = 3, pos = 5;
        const auto ks = random_floats(n * kvh * d, 1, -100.0f, 100.0f);
        const auto vs = random_floats(n * kvh * d, 2);
        Tensor k = Tensor::from_floats(*dev, DType::f32, {n, kvh, d}, ks);
        Tensor v = Tensor::from_floats(*dev, DType::f32, {n, kvh, d}, vs);
        Tensor kc = Tensor::from_floats(*dev, DType::f16, {max_ctx, kvh, d}, std::vector<float>(max_ctx * kvh * d, 7.0f));
        Tensor vc = Tensor::from_floats(*dev, DType::f16, {max_ctx, kvh, d}, std::vector<float>(max_ctx * kvh * d, 7.0f));
        ops::kv_cache_write(s, k, v, kc, vc, pos);
        s.finish();
        const auto kg = kc.to_floats(), vg = vc.to_floats();
        for (int64_t i = 0; i < max_ctx * kvh * d; ++i) {
            const int64_t j = i - pos * kvh * d;
            const bool written = j >= 0 && j < n * kvh * d;
            ASSERT_EQ(kg[i], written ? half_to_float(float_to_half(ks[j])) : 7.0f) << i;
            ASSERT_EQ(vg[i], written ? half_to_float(float_to_half(vs[j])) : 7.0f) << i;
        }
    }
}

TEST_F(Attention, DecodeMatchesReference) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        for_each_workgroup([&] {
            uint32_t seed = 100;
            for (int64_t kv_len : {1, 7, 33, 257, 1000})
                for (int64_t ratio : {1, 2, 4})
                    check_case(*dev, s, {1, kv_len, 4, 4 / ratio, 64, {}}, seed++);
            // Decode with the length scale: positions past n_train = 100 get log(i)/log(100).
            check_case(*dev, s, {1, 1000, 8, 2, 64, {.n_train = 100}}, seed++);
            check_case(*dev, s, {1, 257, 4, 1, 48, {.n_train = 16}}, seed++);
            check_case(*dev, s, {1, 33, 2, 2, 48, {}}, seed++);
            check_case(*dev, s, {1, 1000, 4, 1, 128, {}}, seed++);
            check_case(*dev, s, {1, 300, 4, 1, 128, {.splits = 1}}, seed++);
            check_case(*dev, s, {1, 257, 4, 2, 42, {}}, seed++);  // head_dim % 4 == 2: a half quad
        });
    }
}

TEST_F(Attention, PrefillMatchesReference) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        for_each_workgroup([&] {
            uint32_t seed = 200;
            // Prefill from an empty cache (kv_len == n_q) and a chunk after cached rows.
            for (int64_t ratio : {1, 2, 4}) {
                check_case(*dev, s, {7, 7, 4, 4 / ratio, 64, {}}, seed++);
                check_case(*dev, s, {33, 257, 4, 4 / ratio, 64, {}}, seed++);
            }
            check_case(*dev, s, {5, 1000, 4, 2, 64, {}}, seed++);
            check_case(*dev, s, {33, 33, 2, 1, 48, {}}, seed++);
            check_case(*dev, s, {17, 257, 4, 2, 48, {.n_train = 64}}, seed++);
            check_case(*dev, s, {40, 1000, 4, 1, 64, {.n_train = 500}}, seed++);
            // Not causal (e.g. an encoder), more queries than keys allowed.
            check_case(*dev, s, {9, 7, 2, 1, 64, {.causal = false}}, seed++);
            check_case(*dev, s, {3, 257, 2, 2, 64, {.scale = 0.3f, .causal = false}}, seed++);
            // Forced split-K on a causal prefill: later slices are empty for early queries.
            check_case(*dev, s, {33, 257, 4, 2, 64, {.splits = 3}}, seed++);
            check_case(*dev, s, {20, 1000, 4, 4, 48, {.n_train = 300, .splits = 7}}, seed++);
            check_case(*dev, s, {19, 33, 6, 2, 42, {}}, seed++);
        });
    }
}

// RoPE + cache writes + attention over a token sequence: a prefill of 11 tokens then 6 decode
// steps give the outputs of one 17-token prefill.
TEST_F(Attention, PrefillThenDecodeEqualsOnePrefill) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const int64_t n = 17, first = 11, heads = 4, kvh = 2, d = 64, max_ctx = 32;
        const auto qs = random_floats(n * heads * d, 31, -2.0f, 2.0f);
        const auto ks = random_floats(n * kvh * d, 32, -2.0f, 2.0f);
        const auto vs = random_floats(n * kvh * d, 33);
        Tensor q = Tensor::from_floats(*dev, DType::f32, {n, heads, d}, qs);
        Tensor k = Tensor::from_floats(*dev, DType::f32, {n, kvh, d}, ks);
        Tensor v = Tensor::from_floats(*dev, DType::f32, {n, kvh, d}, vs);
        Tensor qr = Tensor::empty(*dev, DType::f32, {n, heads, d});
        Tensor kr = Tensor::empty(*dev, DType::f32, {n, kvh, d});
        ops::rope(s, q, qr, 0, {});
        ops::rope(s, k, kr, 0, {});
        // One prefill over all tokens.
        Tensor kc = Tensor::empty(*dev, DType::f16, {max_ctx, kvh, d});
        Tensor vc = Tensor::empty(*dev, DType::f16, {max_ctx, kvh, d});
        Tensor full = Tensor::empty(*dev, DType::f32, {n, heads, d});
        ops::kv_cache_write(s, kr, v, kc, vc, 0);
        ops::attention(s, qr, kc, vc, n, full, {});
        // Prefill of `first` tokens, then one token at a time, into a second cache.
        Tensor kc2 = Tensor::empty(*dev, DType::f16, {max_ctx, kvh, d});
        Tensor vc2 = Tensor::empty(*dev, DType::f16, {max_ctx, kvh, d});
        Tensor steps = Tensor::empty(*dev, DType::f32, {n, heads, d});
        auto rows = [](const Tensor& t, int64_t r0, int64_t cnt) {
            return t.reshape({t.dim(0), t.dim(1) * t.dim(2)}).row_slice(r0, cnt).reshape({cnt, t.dim(1), t.dim(2)});
        };
        ops::kv_cache_write(s, rows(kr, 0, first), rows(v, 0, first), kc2, vc2, 0);
        ops::attention(s, rows(qr, 0, first), kc2, vc2, first, rows(steps, 0, first), {});
        for (int64_t t = first; t < n; ++t) {
            ops::kv_cache_write(s, rows(kr, t, 1), rows(v, t, 1), kc2, vc2, t);
            ops::attention(s, rows(qr, t, 1), kc2, vc2, t + 1, rows(steps, t, 1), {});
        }
        s.finish();
        const auto fv = full.to_floats();
        EXPECT_NMSE_LE(fv, steps.to_floats(), 1e-10);
        // And both match the reference on the rotated, f16-rounded inputs.
        std::vector<uint32_t> pos(n);
        for (int64_t t = 0; t < n; ++t) pos[t] = static_cast<uint32_t>(t);
        const auto qref = reference::rope(qs, heads, d, pos);
        const auto kref = round_f16(reference::rope(ks, kvh, d, pos));
        EXPECT_NMSE_LE(reference::attention(qref, kref, round_f16(vs), n, heads, kvh, d, n), fv, 1e-5);
    }
}

// A cache larger than one storage-buffer binding: writes bind only an aligned window of rows,
// attention binds the first kv_len rows and says so when even those do not fit.
TEST_F(Attention, CacheLargerThanOneBinding) {
    for (const auto& dev0 : devices()) {
        SCOPED_TRACE(dev0->caps().name);
        auto dev = Device::open_index(dev0->index(), DeviceOptions{.max_buffer_range = 1 << 16});
        Stream s(*dev);
        const int64_t max_ctx = 2048, kvh = 2, d = 16, n = 3, pos = 1501;  // 128 KiB per cache
        const auto ks = random_floats(n * kvh * d, 41), vs = random_floats(n * kvh * d, 42);
        const auto kc_init = round_f16(random_floats(max_ctx * kvh * d, 43));
        const auto vc_init = round_f16(random_floats(max_ctx * kvh * d, 44));
        Tensor k = Tensor::from_floats(*dev, DType::f32, {n, kvh, d}, ks);
        Tensor v = Tensor::from_floats(*dev, DType::f32, {n, kvh, d}, vs);
        Tensor kc = Tensor::from_floats(*dev, DType::f16, {max_ctx, kvh, d}, kc_init);
        Tensor vc = Tensor::from_floats(*dev, DType::f16, {max_ctx, kvh, d}, vc_init);
        ops::kv_cache_write(s, k, v, kc, vc, pos);
        const int64_t kv_len = 1000;  // 62.5 KiB of each cache: fits
        Tensor q = Tensor::from_floats(*dev, DType::f32, {2, 4, d}, random_floats(2 * 4 * d, 45));
        Tensor o = Tensor::empty(*dev, DType::f32, {2, 4, d});
        ops::attention(s, q, kc, vc, kv_len, o);
        s.finish();
        auto k_exp = kc_init, v_exp = vc_init;
        for (int64_t i = 0; i < n * kvh * d; ++i) {
            k_exp[pos * kvh * d + i] = half_to_float(float_to_half(ks[i]));
            v_exp[pos * kvh * d + i] = half_to_float(float_to_half(vs[i]));
        }
        EXPECT_EQ(kc.to_floats(), k_exp);
        EXPECT_EQ(vc.to_floats(), v_exp);
        EXPECT_NMSE_LE(reference::attention(q.to_floats(), kc_init, vc_init, 2, 4, kvh, d, kv_len), o.to_floats(), 1e-5);
        EXPECT_VKML_ERROR(ops::attention(s, q, kc, vc, 1504, o), ErrorKind::Unsupported, "maxStorageBufferRange");
    }
}

// One recording of "write this token's K/V, attend over the cache" replayed at every decode
// step, the position read on the device: each replay must equal the reference at its own
// length, for the unsplit kernel, the automatic split and a forced split; a position past the
// cache drops the write and clamps the length instead of touching memory out of bounds.
TEST_F(Attention, PositionsOnTheDeviceReplayAcrossSteps) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        const int64_t max_ctx = 300, heads = 4, kvh = 2, d = 48, row = kvh * d;
        for (int64_t splits : {1, 0, 3}) {
            SCOPED_TRACE("splits " + std::to_string(splits));
            Stream s(*dev);
            const int64_t prompt = 37;
            auto ks = round_f16(random_floats(static_cast<size_t>(max_ctx * row), 7, -2.0f, 2.0f));
            auto vs = round_f16(random_floats(static_cast<size_t>(max_ctx * row), 8));
            for (size_t i = static_cast<size_t>(prompt * row); i < ks.size(); ++i) ks[i] = vs[i] = 0.0f;
            Tensor kc = Tensor::from_floats(*dev, DType::f16, {max_ctx, kvh, d}, ks);
            Tensor vc = Tensor::from_floats(*dev, DType::f16, {max_ctx, kvh, d}, vs);
            Tensor q = Tensor::empty(*dev, DType::f32, {1, heads, d});
            Tensor k = Tensor::empty(*dev, DType::f32, {1, kvh, d});
            Tensor v = Tensor::empty(*dev, DType::f32, {1, kvh, d});
            Tensor o = Tensor::empty(*dev, DType::f32, {1, heads, d});
            Tensor positions = Tensor::empty(*dev, DType::u32, {1});
            const ops::AttentionOptions opts{.splits = splits};
            bool recorded = false;
            uint32_t seed = 20;
            for (const int64_t pos : {prompt, prompt + 1, int64_t{100}, max_ctx - 1, int64_t{5000}}) {
                SCOPED_TRACE("pos " + std::to_string(pos));
                const auto qs = random_floats(static_cast<size_t>(heads * d), seed++, -2.0f, 2.0f);
                const auto kn = random_floats(static_cast<size_t>(row), seed++, -2.0f, 2.0f);
                const auto vn = random_floats(static_cast<size_t>(row), seed++);
                q.upload(qs.data(), qs.size() * 4);
                k.upload(kn.data(), kn.size() * 4);
                v.upload(vn.data(), vn.size() * 4);
                const uint32_t p32 = static_cast<uint32_t>(pos);
                positions.upload(&p32, 4);
                if (!recorded) {
                    ops::kv_cache_write(s, k, v, kc, vc, positions);
                    ops::attention(s, q, kc, vc, positions, o, opts);
                    s.finish();
                    recorded = true;
                } else {
                    s.replay();
                }
                if (pos < max_ctx)
                    for (int64_t i = 0; i < row; ++i) {
                        ks[static_cast<size_t>(pos * row + i)] = half_to_float(float_to_half(kn[static_cast<size_t>(i)]));
                        vs[static_cast<size_t>(pos * row + i)] = half_to_float(float_to_half(vn[static_cast<size_t>(i)]));
                    }
                ASSERT_EQ(kc.to_floats(), ks);
                ASSERT_EQ(vc.to_floats(), vs);
                const int64_t kv_len = std::min(pos, max_ctx - 1) + 1;
                const auto ref = reference::attention(qs, ks, vs, 1, heads, kvh, d, kv_len, opts);
                EXPECT_NMSE_LE(ref, o.to_floats(), 1e-5);
            }
        }
    }
}

TEST_F(Attention, RejectsBadArguments) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        Tensor q = Tensor::empty(*dev, DType::f32, {4, 6, 16});
        Tensor o = Tensor::empty(*dev, DType::f32, {4, 6, 16});
        Tensor kc = Tensor::empty(*dev, DType::f16, {8, 2, 16});
        Tensor vc = Tensor::empty(*dev, DType::f16, {8, 2, 16});
        Tensor kc4 = Tensor::empty(*dev, DType::f16, {8, 4, 16});
        Tensor kc32 = Tensor::empty(*dev, DType::f32, {8, 2, 16});
        Tensor kcd = Tensor::empty(*dev, DType::f16, {8, 2, 8});
        Tensor o5 = Tensor::empty(*dev, DType::f32, {5, 6, 16});
        const auto bad = ErrorKind::InvalidArgument;
        EXPECT_VKML_ERROR(ops::attention(s, q, kc4, kc4, 4, o), bad, "multiple of the kv_heads");
        EXPECT_VKML_ERROR(ops::attention(s, q, kc32, kc32, 4, o), bad, "f16");
        EXPECT_VKML_ERROR(ops::attention(s, q, kcd, kcd, 4, o), bad, "head_dim");
        EXPECT_VKML_ERROR(ops::attention(s, q, kc, vc, 0, o), bad, "kv_len");
        EXPECT_VKML_ERROR(ops::attention(s, q, kc, vc, 9, o), bad, "kv_len");
        EXPECT_VKML_ERROR(ops::attention(s, q, kc, vc, 3, o), bad, "n_q");
        EXPECT_VKML_ERROR(ops::attention(s, q, kc, vc, 4, o5), bad, "same shape");
        EXPECT_VKML_ERROR(ops::attention(s, q, kc, kc4, 4, o), bad, "same shape");
        EXPECT_VKML_ERROR(ops::attention(s, q, kc, vc, 4, o, {.n_train = 1}), bad, "n_train");
        EXPECT_VKML_ERROR(ops::attention(s, q.reshape({24, 16}), kc, vc, 4, o.reshape({24, 16})), bad, "[n_q, heads, head_dim]");
        Tensor qo = Tensor::empty(*dev, DType::f32, {1, 2, 15});
        Tensor co = Tensor::empty(*dev, DType::f16, {4, 2, 15});
        EXPECT_VKML_ERROR(ops::attention(s, qo, co, co, 4, qo), bad, "even");
        Tensor qb = Tensor::empty(*dev, DType::f32, {1, 2, 512});
        Tensor cb = Tensor::empty(*dev, DType::f16, {4, 2, 512});
        EXPECT_VKML_ERROR(ops::attention(s, qb, cb, cb, 4, qb), ErrorKind::Unsupported, "head_dim");

        Tensor k = Tensor::empty(*dev, DType::f32, {3, 2, 16});
        Tensor k4 = Tensor::empty(*dev, DType::f32, {3, 4, 16});
        EXPECT_VKML_ERROR(ops::kv_cache_write(s, k, k, kc, vc, 6), bad, "do not fit");
        EXPECT_VKML_ERROR(ops::kv_cache_write(s, k, k, kc, vc, -1), bad, "do not fit");
        EXPECT_VKML_ERROR(ops::kv_cache_write(s, k4, k4, kc, vc, 0), bad, "kv_heads");
        EXPECT_VKML_ERROR(ops::kv_cache_write(s, k, k, kc32, kc32, 0), bad, "f16");
        EXPECT_VKML_ERROR(ops::kv_cache_write(s, k, k4, kc, vc, 0), bad, "same shape");
        Tensor pos3 = Tensor::empty(*dev, DType::u32, {3});
        Tensor pos4 = Tensor::empty(*dev, DType::u32, {4});
        Tensor pos4f = Tensor::empty(*dev, DType::f32, {4});
        EXPECT_VKML_ERROR(ops::kv_cache_write(s, k, k, kc, vc, pos4), bad, "positions");
        EXPECT_VKML_ERROR(ops::attention(s, q, kc, vc, pos3, o), bad, "positions");
        EXPECT_VKML_ERROR(ops::attention(s, q, kc, vc, pos4f, o), bad, "u32");
        Tensor kc2 = Tensor::empty(*dev, DType::f16, {2, 2, 16});
        EXPECT_VKML_ERROR(ops::attention(s, q, kc2, kc2, pos4, o), bad, "fewer rows");
    }
}

}  // namespace
}  // namespace vkml::test
