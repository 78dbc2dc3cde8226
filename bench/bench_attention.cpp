// Attention cases (Llama-3-8B-like heads: 32 query heads, 8 KV heads, head_dim 128).
// bytes = the KV rows the op must read (f16) + q read + out written; flops = 2 * 2 * heads *
// head_dim per visible (query, key) pair (the q.k dot and the p.v update).
#include "bench_common.hpp"
#include "vkml/ops/attention.hpp"

namespace vkml::bench {
namespace {

constexpr int64_t kHeads = 32, kKvHeads = 8, kDim = 128;

void register_attention(const std::string& name, int64_t n_q, int64_t kv_len, int64_t splits) {
    register_gpu(name, [=](Device& dev) {
        Tensor q = Tensor::from_floats(dev, DType::f32, {n_q, kHeads, kDim},
                                       std::vector<float>(static_cast<size_t>(n_q * kHeads * kDim), 0.1f));
        Tensor kc = Tensor::from_floats(dev, DType::f16, {kv_len, kKvHeads, kDim},
                                        std::vector<float>(static_cast<size_t>(kv_len * kKvHeads * kDim), 0.05f));
        Tensor vc = Tensor::from_floats(dev, DType::f16, {kv_len, kKvHeads, kDim},
                                        std::vector<float>(static_cast<size_t>(kv_len * kKvHeads * kDim), 0.5f));
        Tensor o = Tensor::empty(dev, DType::f32, {n_q, kHeads, kDim});
        GpuCase c;
        c.record = [=](Stream& s) { ops::attention(s, q, kc, vc, kv_len, o, {.splits = splits}); };
        // Causal: query t sees kv_len - n_q + t + 1 keys.
        double pairs = 0;
        for (int64_t t = 0; t < n_q; ++t) pairs += static_cast<double>(kv_len - n_q + t + 1);
        c.bytes = 2.0 * 2.0 * static_cast<double>(kv_len * kKvHeads * kDim) +
                  2.0 * 4.0 * static_cast<double>(n_q * kHeads * kDim);
        c.flops = 4.0 * kHeads * kDim * pairs;
        c.items = static_cast<double>(n_q);
        return c;
    });
}

const bool registered = [] {
    register_attention("attention/f16kv/decode/h32_kv8_d128/kv4096", 1, 4096, 0);
    register_attention("attention/f16kv/decode/h32_kv8_d128/kv4096/no_split", 1, 4096, 1);
    register_attention("attention/f16kv/prefill/h32_kv8_d128/n512", 512, 512, 0);
    register_gpu("rope/f32/512x32x128/adjacent", [](Device& dev) {
        Tensor x = Tensor::from_floats(dev, DType::f32, {512, kHeads, kDim},
                                       std::vector<float>(512 * kHeads * kDim, 0.5f));
        GpuCase c;
        c.record = [x](Stream& s) { ops::rope(s, x, x, 0); };
        c.bytes = 8.0 * 512 * kHeads * kDim;
        c.flops = 3.0 * 512 * kHeads * kDim;  // per element: two multiplies and an add
        c.items = 512;
        return c;
    });
    return true;
}();

}  // namespace
}  // namespace vkml::bench
