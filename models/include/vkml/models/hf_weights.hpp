// A Hugging Face model folder (config.json + safetensors) as a WeightSource with llama.cpp's
// names, so every vkml model loads it unchanged:
//  - LlamaForCausalLM: model.layers.N.self_attn.q_proj.weight -> blk.N.attn_q.weight, ...; Q and
//    K rows are permuted from Hugging Face's half-split RoPE layout to the adjacent-pair layout
//    (as llama.cpp's converter does), so one RoPE kernel serves both sources.
//  - MambaForCausalLM (and the original state-spaces config): backbone.layers.N.mixer.* ->
//    blk.N.ssm_*; A_log becomes ssm_a = -exp(A_log); conv1d [E, 1, K] becomes [E, K].
//  - Mamba2ForCausalLM: the same prefix; mixer.dt_bias -> ssm_dt.bias, mixer.norm -> ssm_norm.
// config.json supplies the `llama.*` / `mamba.*` metadata. BF16 and F16 weights become f32.
//
// QuantizedWeights wraps any source and quantizes its matrices on load (`--quant`).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "vkml/models/safetensors.hpp"
#include "vkml/models/weights.hpp"

namespace vkml::models {

class HfWeights : public WeightSource {
public:
    explicit HfWeights(const std::string& dir);
    std::string path() const override { return folder_.dir(); }
    std::optional<WeightInfo> find(const std::string& name) const override;
    std::optional<double> number(const std::string& key) const override;
    std::optional<std::string> text(const std::string& key) const override;

private:
    struct Source {
        std::string hf_name;
        enum class Fix { None, PermuteHeads, NegExp, DropMiddle } fix = Fix::None;
        int64_t heads = 0;  // for PermuteHeads
    };
    // GGUF name `gguf` is served by the folder's tensor `hf` (when the folder has it).
    void map(const std::string& gguf, const std::string& hf, Source::Fix fix = Source::Fix::None, int64_t heads = 0);
    // The names Mamba and Mamba-2 folders share: embeddings, final norm, LM head, and per layer
    // the norm, in_proj, conv1d, A_log, D and out_proj.
    void map_mamba_backbone(int64_t layers);
    void map_mamba2(const Json& cfg);
    HfModelFolder folder_;
    std::map<std::string, Source> names_;  // GGUF name -> where it comes from
    std::map<std::string, double> numbers_;
    std::map<std::string, std::string> texts_;
    mutable std::mutex mutex_;
    mutable std::map<std::string, std::pair<Shape, std::vector<float>>> converted_;
};

// Quantizes every matrix of `inner` (rank 2, f32/f16, rows a whole number of blocks) to `type`
// when it is read; other tensors pass through.
class QuantizedWeights : public WeightSource {
public:
    QuantizedWeights(const WeightSource& inner, DType type);
    std::string path() const override { return inner_.path(); }
    std::optional<WeightInfo> find(const std::string& name) const override;
    std::optional<double> number(const std::string& key) const override { return inner_.number(key); }
    std::optional<std::string> text(const std::string& key) const override { return inner_.text(key); }

private:
    const WeightSource& inner_;
    DType type_;
    mutable std::mutex mutex_;
    mutable std::map<std::string, std::vector<uint8_t>> cache_;
};

// A .gguf file or a Hugging Face folder, by what `path` is.
std::unique_ptr<WeightSource> open_weights(const std::string& path);

}  // namespace vkml::models
