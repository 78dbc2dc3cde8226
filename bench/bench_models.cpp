// Whole models: prompt (prefill) and decode tokens/s of ~100M-parameter random Llama and Mamba
// models in each weight type. Weights are random (no model hub is reachable), which does not
// change the work done.
#include <cmath>
#include <cstring>
#include <memory>
#include <random>

#include "bench_common.hpp"
#include "vkml/models/llama.hpp"
#include "vkml/models/mamba.hpp"
#include "vkml/ops/quant_cpu.hpp"

namespace vkml::bench {
namespace {

// Matrices in `type` (f32, f16 or a block type), vectors in f32.
void put(models::InMemoryWeights& w, const std::string& name, Shape shape, DType type, std::mt19937& rng, float scale) {
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
    for (float& x : v) x = dist(rng);
    if (shape.size() == 1 || type == DType::f32) {
        w.add_floats(name, shape, v);
    } else if (type == DType::f16) {
        std::vector<uint8_t> bytes(v.size() * 2);
        for (size_t i = 0; i < v.size(); ++i) {
            const uint16_t h = float_to_half(v[i]);
            std::memcpy(bytes.data() + 2 * i, &h, 2);
        }
        w.add(name, type, shape, std::move(bytes));
    } else {
        w.add(name, type, shape, ops::quantize_cpu(type, v));
    }
}

struct LlamaShape {
    int64_t d, layers, heads, kv, ffn, vocab;
};
// ~110M parameters: dim 768, 12 layers, 12 heads (4 KV), FFN 2048, vocabulary 32000.
constexpr LlamaShape kLlama110m{768, 12, 12, 4, 2048, 32000};
// stories15M's shape (llama2.c): dim 288, 6 layers, 6 heads, FFN 768, vocabulary 32000.
constexpr LlamaShape kLlama15m{288, 6, 6, 6, 768, 32000};

std::shared_ptr<models::InMemoryWeights> random_llama(DType type, const LlamaShape& shape) {
    auto w = std::make_shared<models::InMemoryWeights>("random-llama");
    const auto [d, layers, heads, kv, ffn, vocab] = shape;
    const int64_t kvd = kv * d / heads;
    w->set("general.architecture", "llama");
    w->set("llama.embedding_length", d);
    w->set("llama.block_count", layers);
    w->set("llama.attention.head_count", heads);
    w->set("llama.attention.head_count_kv", kv);
    w->set("llama.feed_forward_length", ffn);
    w->set("llama.context_length", 1024.0);
    std::mt19937 rng(1);
    const float s = 1.0f / std::sqrt(static_cast<float>(d));
    put(*w, "token_embd.weight", {vocab, d}, DType::f16, rng, 1.0f);
    put(*w, "output_norm.weight", {d}, type, rng, 1.0f);
    put(*w, "output.weight", {vocab, d}, type, rng, s);
    for (int64_t i = 0; i < layers; ++i) {
        auto n = [i](const char* x) { return models::llama_names::layer(i, x); };
        put(*w, n("attn_norm.weight"), {d}, type, rng, 1.0f);
        put(*w, n("attn_q.weight"), {d, d}, type, rng, s);
        put(*w, n("attn_k.weight"), {kvd, d}, type, rng, s);
        put(*w, n("attn_v.weight"), {kvd, d}, type, rng, s);
        put(*w, n("attn_output.weight"), {d, d}, type, rng, s);
        put(*w, n("ffn_norm.weight"), {d}, type, rng, 1.0f);
        put(*w, n("ffn_gate.weight"), {ffn, d}, type, rng, s);
        put(*w, n("ffn_up.weight"), {ffn, d}, type, rng, s);
        put(*w, n("ffn_down.weight"), {d, ffn}, type, rng, s);
    }
    return w;
}

// mamba-130m's shape: dim 768, 24 layers, inner 1536, state 16, rank 48, vocabulary 50280 -> 50304.
std::shared_ptr<models::InMemoryWeights> mamba_130m(DType type) {
    auto w = std::make_shared<models::InMemoryWeights>("random-mamba-130m");
    const int64_t d = 768, layers = 24, e = 1536, n = 16, r = 48, vocab = 50304;
    w->set("general.architecture", "mamba");
    w->set("mamba.embedding_length", d);
    w->set("mamba.block_count", layers);
    w->set("mamba.ssm.inner_size", e);
    w->set("mamba.ssm.state_size", n);
    w->set("mamba.ssm.conv_kernel", 4.0);
    w->set("mamba.ssm.time_step_rank", r);
    std::mt19937 rng(2);
    const float s = 1.0f / std::sqrt(static_cast<float>(d));
    put(*w, "token_embd.weight", {vocab, d}, DType::f16, rng, 1.0f);
    put(*w, "output_norm.weight", {d}, type, rng, 1.0f);
    for (int64_t i = 0; i < layers; ++i) {
        auto nm = [i](const char* x) { return models::llama_names::layer(i, x); };
        put(*w, nm("attn_norm.weight"), {d}, type, rng, 1.0f);
        put(*w, nm("ssm_in.weight"), {2 * e, d}, type, rng, s);
        put(*w, nm("ssm_conv1d.weight"), {e, 4}, DType::f32, rng, 0.5f);
        put(*w, nm("ssm_conv1d.bias"), {e}, type, rng, 0.1f);
        put(*w, nm("ssm_x.weight"), {r + 2 * n, e}, type, rng, s);
        put(*w, nm("ssm_dt.weight"), {e, r}, DType::f32, rng, 0.3f);  // k = 48: not block-quantizable
        put(*w, nm("ssm_dt.bias"), {e}, type, rng, 1.0f);
        put(*w, nm("ssm_a"), {e, n}, DType::f32, rng, 1.0f);
        put(*w, nm("ssm_d"), {e}, type, rng, 1.0f);
        put(*w, nm("ssm_out.weight"), {d, e}, type, rng, s);
    }
    return w;
}

template <class Model>
GpuCase model_case(Device& dev, std::shared_ptr<models::InMemoryWeights> w, int64_t n_tokens, bool decode) {
    auto model = std::make_shared<Model>(dev, *w);
    auto session = std::make_shared<typename Model::Session>(model->new_session());
    std::vector<int32_t> tokens(static_cast<size_t>(n_tokens));
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 7919) % 1000);
    if (decode) model->logits(*session, tokens);  // a cached prompt; the timed step is one token after it
    GpuCase c;
    c.record = [model, session, tokens, decode, w](Stream& s) {
        const int64_t pos = session->pos;
        model->forward(s, *session, decode ? std::vector<int32_t>{tokens.back()} : tokens);
        session->pos = pos;  // replays rerun the same step
    };
    c.items = decode ? 1.0 : static_cast<double>(n_tokens);
    return c;
}

// Wall-clock time of one decode step as a program sees it: recording (or replaying) the forward,
// the GPU work and the wait, at position 128. `replay` off records every step afresh; on, the
// step's command buffer is recorded once and resubmitted (LlamaOptions::replay).
void register_decode_wall(const std::string& name, DType type, const LlamaShape& shape, bool replay) {
    benchmark::RegisterBenchmark(name.c_str(), [type, shape, replay](benchmark::State& state) {
        Device& dev = device();
        const auto w = random_llama(type, shape);
        models::Llama model(dev, *w, {.max_context = 256, .replay = replay});
        auto session = model.new_session();
        std::vector<int32_t> prompt(128);
        for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 7919) % 1000);
        model.logits(session, prompt);
        Stream s(dev);
        const int64_t pos = session.pos;
        for (int i = 0; i < 2; ++i) {  // warm-up: pipelines, and the recording that replays reuse
            model.forward(s, session, {17});
            s.finish();
            session.pos = pos;
        }
        for (auto _ : state) {
            model.forward(s, session, {17});
            s.finish();
            session.pos = pos;
        }
        state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                        benchmark::Counter::kIsRate);
    })->UseRealTime()->Unit(benchmark::kMillisecond);
}

const bool registered = [] {
    for (bool replay : {false, true}) {
        const std::string mode = replay ? "replayed" : "recorded";
        register_decode_wall("model_wall/llama-15m/q8_0/decode_after128/" + mode, DType::q8_0, kLlama15m, replay);
        register_decode_wall("model_wall/llama-110m/q4_0/decode_after128/" + mode, DType::q4_0, kLlama110m, replay);
    }
    for (DType t : {DType::f16, DType::q8_0, DType::q6_k, DType::q4_0}) {
        const std::string type(dtype_name(t));
        register_gpu("model/llama-110m/" + type + "/prompt128", [t](Device& d) {
            return model_case<models::Llama>(d, random_llama(t, kLlama110m), 128, false);
        });
        register_gpu("model/llama-110m/" + type + "/decode_after128", [t](Device& d) {
            return model_case<models::Llama>(d, random_llama(t, kLlama110m), 128, true);
        });
        register_gpu("model/mamba-130m/" + type + "/prompt128", [t](Device& d) {
            return model_case<models::Mamba>(d, mamba_130m(t), 128, false);
        });
        register_gpu("model/mamba-130m/" + type + "/decode_after128", [t](Device& d) {
            return model_case<models::Mamba>(d, mamba_130m(t), 128, true);
        });
    }
    return true;
}();

}  // namespace
}  // namespace vkml::bench
