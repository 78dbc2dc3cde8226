// Mamba (selective state-space) language model, as llama.cpp's `mamba` architecture and Hugging
// Face's MambaForCausalLM define it: per layer x += out_proj(scan(conv(in_proj(rmsnorm(x))))).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vkml/device.hpp"
#include "vkml/models/weights.hpp"
#include "vkml/stream.hpp"

namespace vkml::models {

struct MambaConfig {
    int64_t vocab = 0, dim = 0, layers = 0;
    int64_t inner = 0;     // E (d_inner), usually 2 * dim
    int64_t state = 0;     // N (d_state)
    int64_t conv = 0;      // K (d_conv)
    int64_t dt_rank = 0;   // R
    float norm_eps = 1e-5f;
    bool tied_output = false;

    // From GGUF metadata (`mamba.*` keys) and tensor shapes.
    static MambaConfig from_gguf(const WeightSource& w);
    std::string describe() const;
};

class Mamba {
public:
    Mamba(Device& device, const WeightSource& weights, const LoadProgress& progress = {});
    ~Mamba();
    Mamba(const Mamba&) = delete;
    Mamba& operator=(const Mamba&) = delete;

    const MambaConfig& config() const { return config_; }

    // One sequence's recurrent state: per layer the conv window [1, K-1, E] and the SSM state
    // [1, E, N], zero at the start.
    struct Session {
        std::vector<Tensor> conv, ssm;
        int64_t pos = 0;
    };
    Session new_session() const;

    // Records the forward pass of `tokens` after the session's state and advances it; logits
    // f32 [n, vocab] with all_logits, else [1, vocab]; valid once the stream has finished.
    Tensor forward(Stream& s, Session& session, const std::vector<int32_t>& tokens, bool all_logits = false);
    std::vector<float> logits(Session& session, const std::vector<int32_t>& tokens, bool all_logits = false);

private:
    struct Weights;
    struct Step;
    Step& step_for(int64_t n, bool all_logits);

    std::shared_ptr<Device> device_;
    MambaConfig config_;
    std::unique_ptr<Weights> weights_;
    std::vector<std::unique_ptr<Step>> steps_;
};

}  // namespace vkml::models
