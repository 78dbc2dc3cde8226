// Mamba-2 with mamba2-130m's shape (dim 768, 24 layers, inner 1536 = 24 heads of 64, state 128,
// 1 group, conv 4, vocabulary 50288): prompt and decode tokens/s, and a decode step of eight
// sequences as one batch (items/s = tokens of all sequences). Random weights, quantized on load
// by QuantizedWeights as `--quant` does. The timed replay holds the graph and the copies of
// the batch's states back to the sessions; the copies into the gathered states are recorded
// before the graph and submitted separately (small: 8 x 24 x 3 x 64 x 128 x 4 bytes).
#include <cmath>
#include <memory>
#include <random>

#include "bench_common.hpp"
#include "vkml/models/hf_weights.hpp"
#include "vkml/models/llama.hpp"
#include "vkml/models/mamba2.hpp"

namespace vkml::bench {
namespace {

struct Mamba2Bench {
    std::shared_ptr<models::InMemoryWeights> f32;
    std::shared_ptr<models::QuantizedWeights> quantized;
};

Mamba2Bench mamba2_130m(DType type) {
    const int64_t d = 768, layers = 24, e = 1536, heads = 24, n = 128, vocab = 50288, conv = 4;
    auto w = std::make_shared<models::InMemoryWeights>("random-mamba2-130m");
    w->set("general.architecture", "mamba2");
    w->set("mamba2.embedding_length", d);
    w->set("mamba2.block_count", layers);
    w->set("mamba2.ssm.inner_size", e);
    w->set("mamba2.ssm.state_size", n);
    w->set("mamba2.ssm.conv_kernel", conv);
    w->set("mamba2.ssm.time_step_rank", heads);
    w->set("mamba2.ssm.group_count", 1.0);
    std::mt19937 rng(2);
    auto add = [&](const std::string& name, Shape shape, float lo, float hi) {
        std::uniform_real_distribution<float> dist(lo, hi);
        std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
        for (float& x : v) x = dist(rng);
        w->add_floats(name, std::move(shape), v);
    };
    const float s = 1.0f / std::sqrt(static_cast<float>(d));
    add("token_embd.weight", {vocab, d}, -1, 1);  // tied head
    add("output_norm.weight", {d}, 0.9f, 1.1f);
    for (int64_t i = 0; i < layers; ++i) {
        auto nm = [i](const char* x) { return models::llama_names::layer(i, x); };
        add(nm("attn_norm.weight"), {d}, 0.9f, 1.1f);
        add(nm("ssm_in.weight"), {2 * e + 2 * n + heads, d}, -s, s);
        add(nm("ssm_conv1d.weight"), {e + 2 * n, conv}, -0.5f, 0.5f);
        add(nm("ssm_conv1d.bias"), {e + 2 * n}, -0.1f, 0.1f);
        add(nm("ssm_dt.bias"), {heads}, -3, -1);
        add(nm("ssm_a"), {heads, 1}, -4, -0.5f);
        add(nm("ssm_d"), {heads, 1}, 0.5f, 1.5f);
        add(nm("ssm_norm.weight"), {1, e}, 0.9f, 1.1f);
        add(nm("ssm_out.weight"), {d, e}, -s, s);
    }
    return {w, std::make_shared<models::QuantizedWeights>(*w, type)};
}

// `sequences` sessions after a 128-token prompt each; the timed step decodes one token for
// each (forward for one sequence, forward_batch for several), or the prompt itself.
GpuCase mamba2_case(Device& dev, DType type, int sequences, bool decode) {
    const Mamba2Bench w = mamba2_130m(type);
    auto model = std::make_shared<models::Mamba2>(dev, *w.quantized);
    auto sessions = std::make_shared<std::vector<models::Mamba2::Session>>();
    std::vector<int32_t> prompt(128);
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 7919) % 1000);
    for (int i = 0; i < sequences; ++i) {
        sessions->push_back(model->new_session());
        if (decode) model->logits(sessions->back(), prompt);
    }
    GpuCase c;
    c.record = [model, sessions, prompt, decode](Stream& s) {
        std::vector<models::Mamba2::Session*> ptrs;
        for (auto& session : *sessions) ptrs.push_back(&session);
        if (ptrs.size() == 1)
            model->forward(s, *ptrs[0], decode ? std::vector<int32_t>{17} : prompt);
        else
            model->forward_batch(s, ptrs, std::vector<std::vector<int32_t>>(ptrs.size(), {17}));
        for (auto& session : *sessions) session.pos = decode ? 128 : 0;  // replays rerun the same step
    };
    c.items = decode ? sequences : static_cast<double>(prompt.size());
    return c;
}

const bool registered = [] {
    for (DType t : {DType::q8_0}) {  // one type: each case quantizes 130M random weights first
        const std::string type(dtype_name(t));
        register_gpu("model/mamba2-130m/" + type + "/prompt128",
                     [t](Device& d) { return mamba2_case(d, t, 1, false); });
        register_gpu("model/mamba2-130m/" + type + "/decode_after128",
                     [t](Device& d) { return mamba2_case(d, t, 1, true); });
        register_gpu("model/mamba2-130m/" + type + "/decode_after128_batch8",
                     [t](Device& d) { return mamba2_case(d, t, 8, true); });
    }
    return true;
}();

}  // namespace
}  // namespace vkml::bench
