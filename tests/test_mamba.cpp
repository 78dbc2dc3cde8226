// The Mamba model on the GPU against the CPU reference forward, on small random models.
#include <cmath>

#include "vkml/models/llama.hpp"
#include "vkml/models/mamba.hpp"
#include "vkml/reference/mamba.hpp"
#include "random_models.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

using models::InMemoryWeights;
using models::llama_names::layer;

class MambaTest : public VkmlTest {};

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
