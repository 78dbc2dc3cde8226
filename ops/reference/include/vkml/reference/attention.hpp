// CPU references of RoPE and attention (double accumulation, full score matrix), for tests and
// benchmarks only. Options and conventions follow vkml/ops/attention.hpp.
#pragma once

#include <cstdint>
#include <vector>

#include "vkml/ops/attention.hpp"

namespace vkml::reference {

// x: [tokens, heads, head_dim]; positions: one per token.
std::vector<float> rope(const std::vector<float>& x, int64_t heads, int64_t head_dim,
                        const std::vector<uint32_t>& positions, const ops::RopeOptions& opts = {});

// q: [n_q, heads, head_dim]; k, v: [kv_len, kv_heads, head_dim] (the valid cache rows, already
// rounded to f16 where the device's cache is f16). Returns [n_q, heads, head_dim].
std::vector<float> attention(const std::vector<float>& q, const std::vector<float>& k,
                             const std::vector<float>& v, int64_t n_q, int64_t heads,
                             int64_t kv_heads, int64_t head_dim, int64_t kv_len,
                             const ops::AttentionOptions& opts = {});

}  // namespace vkml::reference
