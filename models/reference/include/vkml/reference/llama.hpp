// CPU reference forward of the Llama-style decoder (plain loops, double accumulation), for tests.
#pragma once

#include <cstdint>
#include <vector>

#include "vkml/models/llama.hpp"

namespace vkml::reference {

struct LlamaLayerF32 {
    std::vector<float> attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;
};

struct LlamaF32 {
    models::LlamaConfig config;
    std::vector<float> tok_embd, output_norm, output;  // output empty when tied
    std::vector<LlamaLayerF32> layers;

    // Every weight dequantized to f32 from a weight source.
    static LlamaF32 load(const models::WeightSource& w, const models::LlamaConfig& c);
};

// Logits [tokens.size(), vocab] for a whole sequence from position 0 (causal).
std::vector<float> llama_forward(const LlamaF32& m, const std::vector<int32_t>& tokens);

}  // namespace vkml::reference
