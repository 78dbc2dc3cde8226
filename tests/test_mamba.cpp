// The Mamba model on the GPU against the CPU reference forward, on small random models.
#include <cmath>

#include "vkml/models/llama.hpp"
#include "vkml/models/mamba.hpp"
#include "vkml/reference/mamba.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

using models::InMemoryWeights;
using models::llama_names::layer;

class MambaTest : public VkmlTest {};

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

TEST_F(MambaTest, PrefillMatchesTheCpuReference) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        for (bool tied : {false, true}) {
            const InMemoryWeights w = random_mamba(53, 32, 2, 16, 4, tied, tied ? 10 : 20);
            models::Mamba model(*dev, w);
            EXPECT_EQ(model.config().inner, 64);
            const std::vector<int32_t> tokens = {1, 50, 7, 7, 0, 33, 12, 9, 41};
            auto session = model.new_session();
            const auto got = model.logits(session, tokens, true);
            EXPECT_NMSE_LE(reference::mamba_forward(w, tokens), got, 1e-4);
        }
    }
}

TEST_F(MambaTest, PrefillThenStepsEqualOneLongPrefill) {
    const auto& dev = devices()[0];
    const InMemoryWeights w = random_mamba(41, 24, 2, 8, 3, false, 30);
    models::Mamba model(*dev, w);
    const std::vector<int32_t> tokens = {2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5};
    auto full = model.new_session();
    const auto all = model.logits(full, tokens, true);
    auto inc = model.new_session();
    auto last = model.logits(inc, std::vector<int32_t>(tokens.begin(), tokens.begin() + 5));
    EXPECT_NMSE_LE(std::vector<float>(all.begin() + 4 * 41, all.begin() + 5 * 41), last, 1e-6);
    for (size_t t = 5; t < tokens.size(); ++t) {
        SCOPED_TRACE("position " + std::to_string(t));
        last = model.logits(inc, {tokens[t]});
        EXPECT_NMSE_LE(std::vector<float>(all.begin() + static_cast<long>(t) * 41, all.begin() + static_cast<long>(t + 1) * 41),
                       last, 1e-6);
    }
}

TEST_F(MambaTest, BadFilesAreClearErrors) {
    const auto& dev = devices()[0];
    InMemoryWeights w = random_mamba(17, 16, 1, 4, 2, false, 40);
    w.set("general.architecture", "llama");
    EXPECT_VKML_ERROR(models::Mamba(*dev, w), ErrorKind::Unsupported, "not mamba");
    InMemoryWeights missing = random_mamba(17, 16, 1, 4, 2, false, 41);
    missing.add_floats("blk.0.ssm_a", {4, 4}, std::vector<float>(16, -1.0f));
    EXPECT_VKML_ERROR(models::Mamba(*dev, missing), ErrorKind::BadFile, "blk.0.ssm_a");
}

}  // namespace
}  // namespace vkml::test
