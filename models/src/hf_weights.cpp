#include "vkml/models/hf_weights.hpp"

#include <cmath>
#include <filesystem>

#include "vkml/error.hpp"
#include "vkml/models/gguf_weights.hpp"
#include "vkml/ops/quant_cpu.hpp"

namespace vkml::models {

namespace {

const Json* first_of(const Json& cfg, std::initializer_list<const char*> keys) {
    for (const char* k : keys)
        if (const Json* v = cfg.find(k); v && !v->is_null()) return v;
    return nullptr;
}

std::string arch_of(const Json& cfg, const std::string& dir) {
    if (const Json* a = cfg.find("architectures"); a && a->is_array())
        for (const Json& name : a->as_array()) {
            if (!name.is_string()) continue;
            if (name.as_string() == "LlamaForCausalLM") return "llama";
            if (name.as_string() == "MambaForCausalLM" || name.as_string() == "MambaLMHeadModel") return "mamba";
            if (name.as_string() == "Mamba2ForCausalLM") return "mamba2";
        }
    if (const Json* t = cfg.find("model_type"); t && t->is_string()) {
        if (t->as_string() == "llama") return "llama";
        if (t->as_string() == "mamba") return "mamba";
        if (t->as_string() == "mamba2") return "mamba2";
    }
    if (cfg.find("d_model") && cfg.find("n_layer")) return "mamba";  // state-spaces' original config
    throw Error(ErrorKind::Unsupported, dir + "/config.json: not a Llama or Mamba model (architectures/model_type)");
}

}  // namespace

HfWeights::HfWeights(const std::string& dir) : folder_(dir) {
    const Json& cfg = folder_.config();
    const std::string arch = arch_of(cfg, dir);
    texts_["general.architecture"] = arch;
    auto num = [&](const std::string& key, std::initializer_list<const char*> names) {
        if (const Json* v = first_of(cfg, names)) numbers_[key] = v->as_number();
    };
    if (arch == "llama") {
        num("llama.embedding_length", {"hidden_size"});
        num("llama.block_count", {"num_hidden_layers"});
        num("llama.attention.head_count", {"num_attention_heads"});
        num("llama.attention.head_count_kv", {"num_key_value_heads", "num_attention_heads"});
        num("llama.feed_forward_length", {"intermediate_size"});
        num("llama.context_length", {"max_position_embeddings"});
        num("llama.attention.layer_norm_rms_epsilon", {"rms_norm_eps"});
        num("llama.rope.freq_base", {"rope_theta"});
        const int64_t layers = static_cast<int64_t>(numbers_.count("llama.block_count") ? numbers_["llama.block_count"] : 0);
        const int64_t heads = static_cast<int64_t>(numbers_["llama.attention.head_count"]);
        const int64_t kv_heads = static_cast<int64_t>(numbers_["llama.attention.head_count_kv"]);
        map("token_embd.weight", "model.embed_tokens.weight");
        map("output_norm.weight", "model.norm.weight");
        map("output.weight", "lm_head.weight");
        for (int64_t i = 0; i < layers; ++i) {
            const std::string b = "blk." + std::to_string(i) + ".", h = "model.layers." + std::to_string(i) + ".";
            map(b + "attn_norm.weight", h + "input_layernorm.weight");
            map(b + "attn_q.weight", h + "self_attn.q_proj.weight", Source::Fix::PermuteHeads, heads);
            map(b + "attn_k.weight", h + "self_attn.k_proj.weight", Source::Fix::PermuteHeads, kv_heads);
            map(b + "attn_v.weight", h + "self_attn.v_proj.weight");
            map(b + "attn_output.weight", h + "self_attn.o_proj.weight");
            map(b + "ffn_norm.weight", h + "post_attention_layernorm.weight");
            map(b + "ffn_gate.weight", h + "mlp.gate_proj.weight");
            map(b + "ffn_up.weight", h + "mlp.up_proj.weight");
            map(b + "ffn_down.weight", h + "mlp.down_proj.weight");
        }
    } else if (arch == "mamba2") {
        map_mamba2(cfg);
    } else {
        num("mamba.embedding_length", {"hidden_size", "d_model"});
        num("mamba.block_count", {"num_hidden_layers", "n_layer"});
        num("mamba.ssm.state_size", {"state_size", "d_state"});
        num("mamba.ssm.conv_kernel", {"conv_kernel", "d_conv"});
        num("mamba.attention.layer_norm_rms_epsilon", {"layer_norm_epsilon", "norm_epsilon"});
        const double d = numbers_["mamba.embedding_length"];
        if (numbers_.count("mamba.ssm.state_size") == 0) numbers_["mamba.ssm.state_size"] = 16;
        if (numbers_.count("mamba.ssm.conv_kernel") == 0) numbers_["mamba.ssm.conv_kernel"] = 4;
        if (const Json* e = first_of(cfg, {"intermediate_size"})) numbers_["mamba.ssm.inner_size"] = e->as_number();
        else numbers_["mamba.ssm.inner_size"] = d * (cfg.find("expand") ? cfg.at("expand").as_number() : 2.0);
        const Json* r = first_of(cfg, {"time_step_rank", "dt_rank"});
        numbers_["mamba.ssm.time_step_rank"] = r && r->is_number() ? r->as_number() : std::ceil(d / 16.0);  // "auto"
        const int64_t layers = static_cast<int64_t>(numbers_["mamba.block_count"]);
        map_mamba_backbone(layers);
        for (int64_t i = 0; i < layers; ++i) {
            const std::string b = "blk." + std::to_string(i) + ".", h = "backbone.layers." + std::to_string(i) + ".";
            map(b + "ssm_x.weight", h + "mixer.x_proj.weight");
            map(b + "ssm_dt.weight", h + "mixer.dt_proj.weight");
            map(b + "ssm_dt.bias", h + "mixer.dt_proj.bias");
        }
    }
}

void HfWeights::map(const std::string& gguf, const std::string& hf, Source::Fix fix, int64_t heads) {
    if (folder_.has(hf)) names_[gguf] = Source{hf, fix, heads};
}

void HfWeights::map_mamba_backbone(int64_t layers) {
    map("token_embd.weight", "backbone.embeddings.weight");
    map("token_embd.weight", "backbone.embedding.weight");  // state-spaces' name
    map("output_norm.weight", "backbone.norm_f.weight");
    map("output.weight", "lm_head.weight");
    for (int64_t i = 0; i < layers; ++i) {
        const std::string b = "blk." + std::to_string(i) + ".", h = "backbone.layers." + std::to_string(i) + ".";
        map(b + "attn_norm.weight", h + "norm.weight");
        map(b + "ssm_in.weight", h + "mixer.in_proj.weight");
        map(b + "ssm_conv1d.weight", h + "mixer.conv1d.weight", Source::Fix::DropMiddle);
        map(b + "ssm_conv1d.bias", h + "mixer.conv1d.bias");
        map(b + "ssm_a", h + "mixer.A_log", Source::Fix::NegExp);
        map(b + "ssm_d", h + "mixer.D");
        map(b + "ssm_out.weight", h + "mixer.out_proj.weight");
    }
}

// Mamba2ForCausalLM: config.json keys as transformers' Mamba2Config names them (with its
// defaults), tensors as backbone.layers.N.mixer.*; A_log becomes ssm_a = -exp(A_log).
void HfWeights::map_mamba2(const Json& cfg) {
    auto get = [&](std::initializer_list<const char*> names, double fallback) {
        const Json* v = first_of(cfg, names);
        return v ? v->as_number() : fallback;
    };
    const double d = get({"hidden_size", "d_model"}, 0), head_dim = get({"head_dim"}, 64);
    const double inner = get({"intermediate_size"}, d * get({"expand"}, 2));
    const int64_t layers = static_cast<int64_t>(get({"num_hidden_layers", "n_layer"}, 0));
    numbers_["mamba2.embedding_length"] = d;
    numbers_["mamba2.block_count"] = static_cast<double>(layers);
    numbers_["mamba2.ssm.inner_size"] = inner;
    numbers_["mamba2.ssm.state_size"] = get({"state_size", "d_state"}, 128);
    numbers_["mamba2.ssm.conv_kernel"] = get({"conv_kernel", "d_conv"}, 4);
    numbers_["mamba2.ssm.group_count"] = get({"n_groups", "ngroups"}, 1);
    numbers_["mamba2.ssm.time_step_rank"] = get({"num_heads", "nheads"}, head_dim > 0 ? inner / head_dim : 0);
    numbers_["mamba2.attention.layer_norm_rms_epsilon"] = get({"layer_norm_epsilon", "norm_epsilon"}, 1e-5);
    map_mamba_backbone(layers);
    for (int64_t i = 0; i < layers; ++i) {
        const std::string b = "blk." + std::to_string(i) + ".", h = "backbone.layers." + std::to_string(i) + ".";
        map(b + "ssm_dt.bias", h + "mixer.dt_bias");
        map(b + "ssm_norm.weight", h + "mixer.norm.weight");
    }
}

std::optional<WeightInfo> HfWeights::find(const std::string& name) const {
    auto it = names_.find(name);
    if (it == names_.end()) return std::nullopt;
    std::lock_guard<std::mutex> lock(mutex_);
    auto done = converted_.find(name);
    if (done == converted_.end()) {
        const Source& src = it->second;
        Shape shape = folder_.info(src.hf_name).shape;
        std::vector<float> v = folder_.floats(src.hf_name);
        switch (src.fix) {
            case Source::Fix::None: break;
            case Source::Fix::NegExp:
                for (float& x : v) x = -std::exp(x);
                break;
            case Source::Fix::DropMiddle:  // [E, 1, K] -> [E, K]
                if (shape.size() != 3 || shape[1] != 1)
                    throw Error(ErrorKind::BadFile, path() + ": " + src.hf_name + " has shape " + shape_string(shape) +
                                                        ", expected [E, 1, K]");
                shape = {shape[0], shape[2]};
                break;
            case Source::Fix::PermuteHeads: {
                // Row r = (head h, half j, i) in HF order becomes (head h, i, half j): pairs
                // (i, i + d/2) become adjacent (2i, 2i + 1).
                if (shape.size() != 2 || src.heads <= 0 || shape[0] % (2 * src.heads) != 0)
                    throw Error(ErrorKind::BadFile, path() + ": " + src.hf_name + " rows do not split into " +
                                                        std::to_string(src.heads) + " heads of even size");
                const int64_t rows = shape[0], cols = shape[1], hd = rows / src.heads, half = hd / 2;
                std::vector<float> out(v.size());
                for (int64_t h = 0; h < src.heads; ++h)
                    for (int64_t j = 0; j < 2; ++j)
                        for (int64_t i = 0; i < half; ++i) {
                            const int64_t from = h * hd + j * half + i, to = h * hd + 2 * i + j;
                            std::copy(v.begin() + from * cols, v.begin() + (from + 1) * cols, out.begin() + to * cols);
                        }
                v = std::move(out);
                break;
            }
        }
        done = converted_.emplace(name, std::make_pair(std::move(shape), std::move(v))).first;
    }
    const auto& [shape, values] = done->second;
    return WeightInfo{DType::f32, shape, reinterpret_cast<const uint8_t*>(values.data()), values.size() * 4};
}

std::optional<double> HfWeights::number(const std::string& key) const {
    auto it = numbers_.find(key);
    if (it == numbers_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::string> HfWeights::text(const std::string& key) const {
    auto it = texts_.find(key);
    if (it == texts_.end()) return std::nullopt;
    return it->second;
}

QuantizedWeights::QuantizedWeights(const WeightSource& inner, DType type) : inner_(inner), type_(type) {
    if (!is_quantized(type))
        throw Error(ErrorKind::InvalidArgument, "quantize on load: " + std::string(dtype_name(type)) + " is not a block type");
}

std::optional<WeightInfo> QuantizedWeights::find(const std::string& name) const {
    auto w = inner_.find(name);
    if (!w || w->shape.size() != 2 || (w->dtype != DType::f32 && w->dtype != DType::f16) ||
        w->shape[1] % dtype_info(type_).block_elems != 0)
        return w;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(name);
    if (it == cache_.end()) it = cache_.emplace(name, ops::quantize_cpu(type_, weight_to_floats(*w))).first;
    return WeightInfo{type_, w->shape, it->second.data(), it->second.size()};
}

std::unique_ptr<WeightSource> open_weights(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return std::make_unique<HfWeights>(path);
    return std::make_unique<GgufWeights>(path);
}

}  // namespace vkml::models
