// The Llama decoder on the GPU against the CPU reference forward, on small random models.
#include <cmath>

#include "vkml/models/llama.hpp"
#include "vkml/ops/quant_cpu.hpp"
#include "vkml/reference/llama.hpp"
#include "random_models.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

using models::InMemoryWeights;
using models::Llama;
using models::LlamaConfig;
using models::llama_names::layer;

class LlamaTest : public VkmlTest {};

std::vector<float> row(const std::vector<float>& m, int64_t r, int64_t cols) {
    return std::vector<float>(m.begin() + r * cols, m.begin() + (r + 1) * cols);
}

TEST_F(LlamaTest, PrefillMatchesTheCpuReference) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        for (bool tied : {false, true}) {
            const InMemoryWeights w = random_llama(97, 64, 2, 4, 2, 96, tied, tied ? 100 : 200);
            const LlamaConfig c = LlamaConfig::from_gguf(w);
            EXPECT_EQ(c.head_dim, 16);
            EXPECT_EQ(c.tied_output, tied);
            Llama model(*dev, w);
            const std::vector<int32_t> tokens = {1, 5, 96, 0, 42, 42, 7, 13, 60, 2, 88};
            auto session = model.new_session();
            const auto got = model.logits(session, tokens, /*all_logits=*/true);
            const auto ref = reference::llama_forward(reference::LlamaF32::load(w, c), tokens);
            EXPECT_NMSE_LE(ref, got, 1e-4);
            EXPECT_EQ(session.pos, 11);
        }
    }
}

TEST_F(LlamaTest, PrefillThenDecodeStepsEqualOneLongPrefill) {
    for (const auto& dev : devices()) {
        const InMemoryWeights w = random_llama(61, 48, 2, 6, 3, 80, false, 300);
        Llama model(*dev, w);
        const std::vector<int32_t> tokens = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9};
        auto full = model.new_session();
        const auto all = model.logits(full, tokens, true);
        auto inc = model.new_session();
        const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + 6);
        auto last = model.logits(inc, prompt);
        EXPECT_NMSE_LE(row(all, 5, 61), last, 1e-6);
        for (size_t t = 6; t < tokens.size(); ++t) {
            SCOPED_TRACE("position " + std::to_string(t));
            last = model.logits(inc, {tokens[t]});
            EXPECT_NMSE_LE(row(all, static_cast<int64_t>(t), 61), last, 1e-6);
        }
    }
}

// Every matrix quantized to `type`: the GPU forward runs the quantized kernels, the reference
// runs on the dequantized weights.
InMemoryWeights quantized(const InMemoryWeights& src, const std::vector<std::string>& names, DType type) {
    InMemoryWeights w = src;
    for (const std::string& name : names) {
        const auto info = *src.find(name);
        const auto q = ops::quantize_cpu(type, models::weight_to_floats(info));
        w.add(name, type, info.shape, q);
    }
    return w;
}

TEST_F(LlamaTest, QuantizedWeightsMatchTheDequantizedReference) {
    const auto& dev = devices()[0];
    for (DType type : {DType::q8_0, DType::q4_0, DType::q6_k}) {
        SCOPED_TRACE(std::string(dtype_name(type)));
        const InMemoryWeights f32 = random_llama(64, 256, 1, 4, 2, 256, false, 500);
        std::vector<std::string> names = {"output.weight"};
        for (const char* m : {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight", "ffn_gate.weight",
                              "ffn_up.weight", "ffn_down.weight"})
            names.push_back(layer(0, m));
        const InMemoryWeights w = quantized(f32, names, type);
        const LlamaConfig c = LlamaConfig::from_gguf(w);
        Llama model(*dev, w);
        const std::vector<int32_t> tokens = {5, 9, 63, 0, 17, 33, 2};
        auto session = model.new_session();
        const auto got = model.logits(session, tokens, true);
        const auto ref = reference::llama_forward(reference::LlamaF32::load(w, c), tokens);
        EXPECT_NMSE_LE(ref, got, 5e-4);
    }
}

TEST_F(LlamaTest, InterleavedWeightsGiveTheDenseLogits) {
    // dim 512 and ffn 768: on CPU devices the model uploads its q4_0, q8_0, q6_k and f16 matrices with
    // rows interleaved for the CPU kernel (k = 512, and 768 with a half chunk; the 64-row output
    // padded to a group); the logits must equal those of dense weights bit for bit, prompt and
    // decode, and match the reference.
    const auto& dev = devices()[0];
    if (dev->caps().type != DeviceType::Cpu || !dev->caps().fp16_storage) GTEST_SKIP() << "interleaving is for CPU devices";
    const InMemoryWeights f32 = random_llama(64, 512, 1, 4, 2, 768, false, 700);
    std::vector<std::string> names = {"output.weight"};
    for (const char* m : {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight", "ffn_gate.weight",
                          "ffn_up.weight", "ffn_down.weight"})
        names.push_back(layer(0, m));
    for (DType type : {DType::q8_0, DType::q4_0, DType::q6_k, DType::f16}) {
        SCOPED_TRACE(std::string(dtype_name(type)));
        InMemoryWeights w = f32;
        if (type == DType::f16) {
            for (const std::string& name : names) {
                const auto info = *f32.find(name);
                std::vector<uint8_t> h(static_cast<size_t>(shape_numel(info.shape)) * 2);
                const auto v = models::weight_to_floats(info);
                for (size_t i = 0; i < v.size(); ++i) {
                    const uint16_t b = float_to_half(v[i]);
                    h[2 * i] = static_cast<uint8_t>(b & 0xFF);
                    h[2 * i + 1] = static_cast<uint8_t>(b >> 8);
                }
                w.add(name, DType::f16, info.shape, h);
            }
        } else {
            w = quantized(f32, names, type);
        }
        const std::vector<int32_t> tokens = {5, 9, 63, 0, 17, 33, 2};
        const auto interleaved = expect_interleaving_is_exact([&] {
            Llama model(*dev, w);
            return prompt_then_step(model, tokens, 11);
        });
        const auto ref = reference::llama_forward(reference::LlamaF32::load(w, LlamaConfig::from_gguf(w)), tokens);
        EXPECT_NMSE_LE(ref, std::vector<float>(interleaved.begin(), interleaved.begin() + 7 * 64), 5e-4);
    }
}

TEST_F(LlamaTest, BatchedSequencesMatchSeparateRuns) {
    const auto& dev = devices()[0];
    const InMemoryWeights w = random_llama(61, 48, 2, 6, 3, 80, false, 600);
    Llama model(*dev, w);
    // Three sequences at different positions: one fresh prompt, one after a cached prefix, and
    // one decode step; one batched pass must give each the logits a separate run gives.
    const std::vector<int32_t> a = {3, 1, 4, 1, 5}, b_prefix = {9, 2, 6}, b = {5, 3}, c_prefix = {8, 9, 7, 9}, c = {3};
    std::vector<float> sep;
    for (const auto& [prefix, toks] : std::vector<std::pair<std::vector<int32_t>, std::vector<int32_t>>>{
             {{}, a}, {b_prefix, b}, {c_prefix, c}}) {
        auto s = model.new_session();
        if (!prefix.empty()) model.logits(s, prefix);
        const auto l = model.logits(s, toks, true);
        sep.insert(sep.end(), l.begin(), l.end());
    }
    auto sa = model.new_session(), sb = model.new_session(), sc = model.new_session();
    model.logits(sb, b_prefix);
    model.logits(sc, c_prefix);
    Stream s(*dev);
    Tensor batched = model.forward_batch(s, {&sa, &sb, &sc}, {a, b, c});
    s.finish();
    EXPECT_EQ(batched.shape(), (Shape{8, 61}));
    EXPECT_NMSE_LE(sep, batched.to_floats(), 1e-10);
    EXPECT_EQ(sa.pos, 5);
    EXPECT_EQ(sb.pos, 5);
    EXPECT_EQ(sc.pos, 5);
    EXPECT_VKML_ERROR(model.forward_batch(s, {&sa, &sa}, {a, b}), ErrorKind::InvalidArgument, "appears twice");
    EXPECT_VKML_ERROR(model.forward_batch(s, {&sa}, {a, b}), ErrorKind::InvalidArgument, "1 sessions for 2");
}

// A single sequence's decode replays one recording (positions read on the device); it must give
// the logits of freshly recorded steps, with sessions interleaved (each switch records anew), a
// session replaced by a new one, and a timed stream (never replayed).
TEST_F(LlamaTest, ReplayedDecodeEqualsFreshlyRecordedDecode) {
    for (const auto& dev : devices()) {
        const InMemoryWeights w = random_llama(61, 48, 2, 6, 3, 80, false, 310);
        Llama replayed(*dev, w, {.max_context = 40});
        Llama fresh(*dev, w, {.max_context = 40, .replay = false});
        Stream s(*dev);
        auto ra = replayed.new_session(), rb = replayed.new_session();
        auto fa = fresh.new_session(), fb = fresh.new_session();
        EXPECT_NE(ra.id, rb.id);
        const std::vector<int32_t> prompt = {3, 1, 4, 1, 5};
        EXPECT_NMSE_LE(fresh.logits(fa, prompt), replayed.logits(ra, prompt), 1e-12);
        EXPECT_NMSE_LE(fresh.logits(fb, {7, 7}), replayed.logits(rb, {7, 7}), 1e-12);
        for (int32_t t = 0; t < 12; ++t) {
            SCOPED_TRACE("step " + std::to_string(t));
            // A replayed forward is complete on return: read it without finishing the stream.
            const auto got = replayed.forward(s, ra, {t + 9}).to_floats();
            EXPECT_NMSE_LE(fresh.logits(fa, {t + 9}), got, 1e-12);
            if (t % 3 == 2) EXPECT_NMSE_LE(fresh.logits(fb, {t}), replayed.logits(rb, {t}), 1e-12);
        }
        rb = replayed.new_session();
        fb = fresh.new_session();
        EXPECT_NMSE_LE(fresh.logits(fb, {2, 8}), replayed.logits(rb, {2, 8}), 1e-12);
        for (int32_t t = 0; t < 3; ++t) EXPECT_NMSE_LE(fresh.logits(fb, {t}), replayed.logits(rb, {t}), 1e-12);
        s.set_timing(true);
        Tensor timed = replayed.forward(s, ra, {5});
        s.finish();
        EXPECT_FALSE(s.timings().empty()) << "a timed stream records the forward itself";
        EXPECT_NMSE_LE(fresh.logits(fa, {5}), timed.to_floats(), 1e-12);
        EXPECT_EQ(ra.pos, fa.pos);
    }
}

TEST_F(LlamaTest, LayersSplitOverTwoDevicesMatchOneDevice) {
    // Two logical devices (a second handle on the same physical device when only one exists).
    const auto& dev0 = devices()[0];
    auto dev1 = Device::open_index(devices().size() > 1 ? devices()[1]->index() : dev0->index());
    const InMemoryWeights w = random_llama(53, 32, 3, 4, 2, 64, true, 900);
    Llama one(*dev0, w);
    Llama two(*dev0, w, {.more_devices = {dev1}});
    auto s1 = one.new_session(), s2 = two.new_session();
    EXPECT_EQ(&s2.k[0].device(), dev0.get());
    EXPECT_EQ(&s2.k[2].device(), dev1.get()) << "the last layer's cache lives on the second device";
    const std::vector<int32_t> prompt = {1, 9, 17, 33, 52}, next = {4};
    EXPECT_NMSE_LE(one.logits(s1, prompt, true), two.logits(s2, prompt, true), 1e-10);
    EXPECT_NMSE_LE(one.logits(s1, next), two.logits(s2, next), 1e-10);
    EXPECT_VKML_ERROR(Llama(*dev0, w, {.more_devices = {dev1, dev1, dev1}}), ErrorKind::InvalidArgument,
                      "4 devices for 3 layers");
}

TEST_F(LlamaTest, BadInputIsAClearError) {
    const auto& dev = devices()[0];
    const InMemoryWeights w = random_llama(31, 32, 1, 2, 2, 32, false, 400);
    Llama model(*dev, w, {.max_context = 8});
    auto s = model.new_session();
    EXPECT_VKML_ERROR(model.logits(s, {31}), ErrorKind::InvalidArgument, "outside the vocabulary of 31");
    EXPECT_VKML_ERROR(model.logits(s, {}), ErrorKind::InvalidArgument, "no tokens");
    model.logits(s, {1, 2, 3, 4, 5, 6});
    EXPECT_VKML_ERROR(model.logits(s, {1, 2, 3}), ErrorKind::InvalidArgument, "exceed the context of 8");
    InMemoryWeights broken = random_llama(31, 32, 1, 2, 2, 32, false, 401);
    broken.add_floats("blk.0.attn_k.weight", {16, 32}, std::vector<float>(16 * 32, 0.0f));
    EXPECT_VKML_ERROR(Llama(*dev, broken), ErrorKind::BadFile, "blk.0.attn_k.weight");
}

}  // namespace
}  // namespace vkml::test
