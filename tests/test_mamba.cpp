// The Mamba model on the GPU against the CPU reference forward, on small random models.
#include <cmath>

#include "vkml/models/hf_weights.hpp"
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

TEST_F(MambaTest, InterleavedWeightsGiveTheDenseLogits) {
    // dim 256 (inner 512): on CPU devices x_proj's three row ranges and out_proj (k = 512) are
    // uploaded interleaved for the CPU kernel, in_proj (k = 256) dense; q8_0, q4_0 and q6_k.
    const auto& dev = devices()[0];
    if (dev->caps().type != DeviceType::Cpu) GTEST_SKIP() << "interleaving is for CPU devices";
    const InMemoryWeights f32 = random_mamba(53, 256, 1, 16, 16, false, 40);
    const std::vector<int32_t> tokens = {1, 50, 7, 7, 0, 33};
    for (DType type : {DType::q8_0, DType::q4_0, DType::q6_k}) {
        SCOPED_TRACE(std::string(dtype_name(type)));
        const models::QuantizedWeights w(f32, type);
        const auto got = expect_interleaving_is_exact([&] {
            models::Mamba model(*dev, w);
            return prompt_then_step(model, tokens, 9);
        });
        EXPECT_NMSE_LE(reference::mamba_forward(w, tokens), std::vector<float>(got.begin(), got.end() - 53), 5e-4);
    }
}

TEST_F(MambaTest, PrefillThenStepsEqualOneLongPrefill) {
    const auto& dev = devices()[0];
    const InMemoryWeights w = random_mamba(41, 24, 2, 8, 3, false, 30);
    const std::vector<int32_t> tokens = {2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5};
    auto row = [](const std::vector<float>& all, size_t t) {
        return std::vector<float>(all.begin() + static_cast<long>(t) * 41, all.begin() + static_cast<long>(t + 1) * 41);
    };
    for (bool replay : {false, true}) {
        SCOPED_TRACE(replay ? "replayed" : "recorded");
        models::Mamba model(*dev, w, models::RecurrentOptions{.replay = replay});
        auto full = model.new_session();
        const auto all = model.logits(full, tokens, true);
        auto inc = model.new_session();
        EXPECT_NMSE_LE(row(all, 4), model.logits(inc, std::vector<int32_t>(tokens.begin(), tokens.begin() + 5)), 1e-6);
        for (size_t t = 5; t < tokens.size(); ++t) {
            SCOPED_TRACE("position " + std::to_string(t));
            EXPECT_NMSE_LE(row(all, t), model.logits(inc, {tokens[t]}), 1e-6);
        }
    }
}

TEST_F(MambaTest, BatchedSequencesMatchSeparateRuns) {
    const auto& dev = devices()[0];
    const InMemoryWeights w = random_mamba(43, 24, 2, 8, 3, true, 50);
    models::Mamba model(*dev, w);
    // Three sequences after different prefixes decode one token each as one batch (their states
    // gathered into one [3, ...] tensor per layer), then two prompts of unequal lengths run as
    // one batch of rows with the conv and scan per sequence.
    const std::vector<std::vector<int32_t>> prefixes = {{1, 2, 3}, {9}, {4, 4, 4, 4, 4, 4}};
    const std::vector<std::vector<int32_t>> steps = {{5}, {6}, {7}}, more = {{8, 9, 10}, {12, 13, 14, 15, 16}};
    std::vector<float> sep, sep_more;
    for (size_t i = 0; i < 3; ++i) {
        auto s = model.new_session();
        model.logits(s, prefixes[i]);
        const auto l = model.logits(s, steps[i], true);
        sep.insert(sep.end(), l.begin(), l.end());
        if (i < 2) {
            const auto m = model.logits(s, more[i], true);
            sep_more.insert(sep_more.end(), m.begin(), m.end());
        }
    }
    std::vector<models::Mamba::Session> sessions;
    for (const auto& p : prefixes) {
        sessions.push_back(model.new_session());
        model.logits(sessions.back(), p);
    }
    Stream s(*dev);
    Tensor batched = model.forward_batch(s, {&sessions[0], &sessions[1], &sessions[2]}, steps);
    s.finish();
    EXPECT_EQ(batched.shape(), (Shape{3, 43}));
    EXPECT_NMSE_LE(sep, batched.to_floats(), 1e-10);
    Tensor unequal = model.forward_batch(s, {&sessions[0], &sessions[1]}, more);
    s.finish();
    EXPECT_EQ(unequal.shape(), (Shape{8, 43}));
    EXPECT_NMSE_LE(sep_more, unequal.to_floats(), 1e-10);
    EXPECT_EQ(sessions[0].pos, 7);
    EXPECT_EQ(sessions[1].pos, 7);
    EXPECT_EQ(sessions[2].pos, 7);
    EXPECT_VKML_ERROR(model.forward_batch(s, {&sessions[0], &sessions[0]}, {{1}, {2}}), ErrorKind::InvalidArgument,
                      "appears twice");
    EXPECT_VKML_ERROR(model.forward_batch(s, {&sessions[0]}, {{1}, {2}}), ErrorKind::InvalidArgument, "1 sessions for 2");
    EXPECT_VKML_ERROR(model.forward_batch(s, {&sessions[0], &sessions[1]}, {{1}, {}}), ErrorKind::InvalidArgument,
                      "sequence 1 has no tokens");
}

TEST_F(MambaTest, LayersSplitOverTwoDevicesMatchOneDevice) {
    // Two logical devices (a second handle on the same physical device when only one exists).
    const auto& dev0 = devices()[0];
    auto dev1 = Device::open_index(devices().size() > 1 ? devices()[1]->index() : dev0->index());
    const InMemoryWeights w = random_mamba(37, 16, 3, 8, 2, true, 60);
    models::Mamba one(*dev0, w);
    models::Mamba two(*dev0, w, models::RecurrentOptions{.more_devices = {dev1}});
    auto s1 = one.new_session(), s2 = two.new_session();
    ASSERT_EQ(s2.state.size(), 6u);
    EXPECT_EQ(&s2.state[0].device(), dev0.get());
    EXPECT_EQ(&s2.state[5].device(), dev1.get()) << "the last layer's state lives on the second device";
    const std::vector<int32_t> prompt = {1, 9, 17, 33, 36}, next = {4};
    EXPECT_NMSE_LE(one.logits(s1, prompt, true), two.logits(s2, prompt, true), 1e-10);
    EXPECT_NMSE_LE(one.logits(s1, next), two.logits(s2, next), 1e-10);
    // A batch of decode steps across the split (states gathered on each device).
    auto a = two.new_session(), b = two.new_session();
    two.logits(a, prompt);
    Stream s(*dev0);
    const std::vector<float> batched = two.forward_batch(s, {&a, &b}, {next, {2}}).to_floats();
    auto ra = one.new_session(), rb = one.new_session();
    one.logits(ra, prompt);
    std::vector<float> sep = one.logits(ra, next);
    const std::vector<float> lb = one.logits(rb, {2});
    sep.insert(sep.end(), lb.begin(), lb.end());
    EXPECT_NMSE_LE(sep, batched, 1e-10);
    EXPECT_VKML_ERROR(models::Mamba(*dev0, w, models::RecurrentOptions{.more_devices = {dev1, dev1, dev1}}),
                      ErrorKind::InvalidArgument, "4 devices for 3 layers");
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
