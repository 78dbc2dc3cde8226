#include "random_models.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "vkml/models/llama.hpp"
#include "vkml_test.hpp"

namespace vkml::test {

using models::InMemoryWeights;
using models::llama_names::layer;

InMemoryWeights random_llama(int64_t vocab, int64_t dim, int64_t layers, int64_t heads, int64_t kv_heads, int64_t ffn,
                             bool tied, uint32_t seed) {
    InMemoryWeights w("random-llama");
    w.set("general.architecture", "llama");
    w.set("llama.embedding_length", static_cast<double>(dim));
    w.set("llama.block_count", static_cast<double>(layers));
    w.set("llama.attention.head_count", static_cast<double>(heads));
    w.set("llama.attention.head_count_kv", static_cast<double>(kv_heads));
    w.set("llama.feed_forward_length", static_cast<double>(ffn));
    w.set("llama.context_length", 64.0);
    w.set("llama.attention.layer_norm_rms_epsilon", 1e-5);
    const int64_t kvd = kv_heads * (dim / heads);
    uint32_t s = seed;
    auto mat = [&](const std::string& name, int64_t rows, int64_t cols, float scale) {
        w.add_floats(name, {rows, cols}, random_floats(rows * cols, ++s, -scale, scale));
    };
    auto vec = [&](const std::string& name, int64_t n) { w.add_floats(name, {n}, random_floats(n, ++s, 0.8f, 1.2f)); };
    mat("token_embd.weight", vocab, dim, 1.0f);
    vec("output_norm.weight", dim);
    if (!tied) mat("output.weight", vocab, dim, 0.2f);
    const float sd = 1.0f / std::sqrt(static_cast<float>(dim));
    for (int64_t i = 0; i < layers; ++i) {
        vec(layer(i, "attn_norm.weight"), dim);
        mat(layer(i, "attn_q.weight"), dim, dim, 2 * sd);
        mat(layer(i, "attn_k.weight"), kvd, dim, 2 * sd);
        mat(layer(i, "attn_v.weight"), kvd, dim, sd);
        mat(layer(i, "attn_output.weight"), dim, dim, sd);
        vec(layer(i, "ffn_norm.weight"), dim);
        mat(layer(i, "ffn_gate.weight"), ffn, dim, sd);
        mat(layer(i, "ffn_up.weight"), ffn, dim, sd);
        mat(layer(i, "ffn_down.weight"), dim, ffn, sd);
    }
    return w;
}

InMemoryWeights random_mamba(int64_t vocab, int64_t dim, int64_t layers, int64_t state, int64_t rank, bool tied,
                             uint32_t seed) {
    const int64_t inner = 2 * dim, conv = 4;
    InMemoryWeights w("random-mamba");
    w.set("general.architecture", "mamba");
    w.set("mamba.embedding_length", static_cast<double>(dim));
    w.set("mamba.block_count", static_cast<double>(layers));
    w.set("mamba.ssm.inner_size", static_cast<double>(inner));
    w.set("mamba.ssm.state_size", static_cast<double>(state));
    w.set("mamba.ssm.conv_kernel", static_cast<double>(conv));
    w.set("mamba.ssm.time_step_rank", static_cast<double>(rank));
    uint32_t s = seed;
    auto put = [&](const std::string& name, Shape shape, float lo, float hi) {
        w.add_floats(name, shape, random_floats(shape_numel(shape), ++s, lo, hi));
    };
    const float sd = 1.0f / std::sqrt(static_cast<float>(dim));
    put("token_embd.weight", {vocab, dim}, -1, 1);
    put("output_norm.weight", {dim}, 0.8f, 1.2f);
    if (!tied) put("output.weight", {vocab, dim}, -0.2f, 0.2f);
    for (int64_t i = 0; i < layers; ++i) {
        put(layer(i, "attn_norm.weight"), {dim}, 0.8f, 1.2f);
        put(layer(i, "ssm_in.weight"), {2 * inner, dim}, -2 * sd, 2 * sd);
        put(layer(i, "ssm_conv1d.weight"), {inner, conv}, -0.5f, 0.5f);
        put(layer(i, "ssm_conv1d.bias"), {inner}, -0.1f, 0.1f);
        put(layer(i, "ssm_x.weight"), {rank + 2 * state, inner}, -sd, sd);
        put(layer(i, "ssm_dt.weight"), {inner, rank}, -0.5f, 0.5f);
        put(layer(i, "ssm_dt.bias"), {inner}, -3.0f, -1.0f);
        put(layer(i, "ssm_a"), {inner, state}, -4.0f, -0.5f);  // = -exp(A_log), as GGUF stores it
        put(layer(i, "ssm_d"), {inner}, 0.5f, 1.5f);
        put(layer(i, "ssm_out.weight"), {dim, inner}, -sd, sd);
    }
    return w;
}

std::vector<float> expect_interleaving_is_exact(const std::function<std::vector<float>()>& logits) {
    const std::vector<float> interleaved = logits();
    ::setenv("VKML_INTERLEAVE_WEIGHTS", "0", 1);
    const std::vector<float> dense = logits();
    ::unsetenv("VKML_INTERLEAVE_WEIGHTS");
    EXPECT_EQ(interleaved.size(), dense.size());
    for (size_t i = 0; i < std::min(dense.size(), interleaved.size()); ++i)
        if (interleaved[i] != dense[i]) {
            ADD_FAILURE() << "logit " << i << ": " << interleaved[i] << " interleaved vs " << dense[i] << " dense";
            break;
        }
    return interleaved;
}

}  // namespace vkml::test
