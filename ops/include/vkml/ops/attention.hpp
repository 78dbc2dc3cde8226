// Attention building blocks: rotary position embedding (RoPE), the f16 KV cache, and fused
// attention (online softmax over KV blocks, causal mask, grouped-query heads, split-K decode).
//
// Layouts: q, k, v activations are f32 [tokens, heads, head_dim]; a KV cache is one f16 tensor
// per layer for K and one for V, [max_ctx, kv_heads, head_dim]. Every op records into a Stream
// and returns at once; results are ready after Stream::finish().
#pragma once

#include <cstdint>

#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml::ops {

enum class RopeMode {
    Adjacent,   // pairs (x[2i], x[2i+1]): llama.cpp's LLAMA ("normal") mode, GGUF llama models
    HalfSplit,  // pairs (x[i], x[i + rot/2]): GPT-NeoX / Hugging Face rotate_half
};

struct RopeOptions {
    RopeMode mode = RopeMode::Adjacent;
    float theta = 10000.0f;    // frequency base: pair i turns by pos * theta^(-2i / rot_dims)
    int64_t rot_dims = 0;      // rotated leading dimensions (even, <= head_dim); 0 = head_dim
    float freq_scale = 1.0f;   // linear position interpolation: positions are multiplied by it
};

// y = RoPE(x) for x, y f32 [tokens, heads, head_dim] (head_dim even; y may be x). Token t is at
// positions[t] (u32 [tokens]) or at start_pos + t.
void rope(Stream& s, const Tensor& x, const Tensor& y, const Tensor& positions,
          const RopeOptions& opts = {});
void rope(Stream& s, const Tensor& x, const Tensor& y, int64_t start_pos,
          const RopeOptions& opts = {});

// Writes k, v (f32 [n, kv_heads, head_dim]) into rows [pos, pos + n) of the f16 caches
// k_cache, v_cache [max_ctx, kv_heads, head_dim], rounding to nearest even.
void kv_cache_write(Stream& s, const Tensor& k, const Tensor& v, const Tensor& k_cache,
                    const Tensor& v_cache, int64_t pos);
// The same with pos = positions[0] read on the device (positions u32 [n], as rope() takes it), so
// one recording can be replayed at every step. The caches are bound whole (each must fit one
// storage binding); rows past the cache are dropped, never written out of bounds.
void kv_cache_write(Stream& s, const Tensor& k, const Tensor& v, const Tensor& k_cache,
                    const Tensor& v_cache, const Tensor& positions);

struct AttentionOptions {
    float scale = 0.0f;   // logit scale; 0 = 1/sqrt(head_dim)
    bool causal = true;   // query t (of n_q) sits at position kv_len - n_q + t
    // Length-dependent logit scale (Qwen "logn"): when > 0, the logits of a query at 1-based
    // position i = kv_len - n_q + t + 1 are multiplied by max(1, ln(i) / ln(n_train)). >= 2.
    int64_t n_train = 0;
    // Key-range slices per (query block, KV head), merged by a second pass. 0 = chosen from the
    // device and the shape (decode splits long caches; prefill usually does not); 1 = never.
    int64_t splits = 0;
};

// out = softmax(scale * q K^T + mask) V over the first kv_len rows of the caches.
// q, out: f32 [n_q, heads, head_dim]; k_cache, v_cache: f16 [max_ctx, kv_heads, head_dim] with
// heads % kv_heads == 0, 1 <= kv_len <= max_ctx, and kv_len >= n_q when causal. head_dim even,
// up to 256 (as far as the device's shared memory allows; else ErrorKind::Unsupported). The
// first kv_len cache rows must fit one storage-buffer binding.
void attention(Stream& s, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
               int64_t kv_len, const Tensor& out, const AttentionOptions& opts = {});
// The same with kv_len = positions[0] + n_q read on the device (positions u32 [n_q]: the
// queries' positions, as rope() takes them), for recordings replayed at growing lengths. The
// caches are bound whole; the key slices are sized for a full cache (slices past kv_len find no
// key), and a position past the cache is clamped to it.
void attention(Stream& s, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
               const Tensor& positions, const Tensor& out, const AttentionOptions& opts = {});

}  // namespace vkml::ops
