// Mamba-2 (SSD) language model, as llama.cpp's `mamba2` architecture and Hugging Face's
// Mamba2ForCausalLM define it. Per layer, with h = rmsnorm(x):
//   [z | x | B | C | dt] = in_proj(h)                     (widths E, E, G*N, G*N, H)
//   [x | B | C] = silu(conv1d([x | B | C]))               (causal, width K, with bias)
//   y = ssd(x, dt + dt_bias, A, B, C) + D x               (per head: scalar A, head dim P = E/H)
//   y = rmsnorm_per_group(y * silu(z)) * norm             (G groups of E/G channels)
//   x += out_proj(y)
// A = -exp(A_log): GGUF files store A itself (ssm_a), Hugging Face folders A_log.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vkml/device.hpp"
#include "vkml/models/mamba.hpp"
#include "vkml/models/weights.hpp"
#include "vkml/stream.hpp"

namespace vkml::models {

struct Mamba2Config {
    int64_t vocab = 0, dim = 0, layers = 0;
    int64_t inner = 0;     // E (d_inner) = heads * head_dim
    int64_t state = 0;     // N (d_state)
    int64_t conv = 0;      // K (d_conv)
    int64_t heads = 0;     // H (GGUF mamba2.ssm.time_step_rank)
    int64_t head_dim = 0;  // P
    int64_t groups = 1;    // G: B/C groups, and the gated norm's groups
    float norm_eps = 1e-5f;
    bool tied_output = false;

    int64_t conv_dim() const { return inner + 2 * groups * state; }          // channels of [x | B | C]
    int64_t in_proj_rows() const { return 2 * inner + 2 * groups * state + heads; }

    // From GGUF metadata (`mamba2.*` keys) and tensor shapes; checks consistency.
    static Mamba2Config from_gguf(const WeightSource& w);
    std::string describe() const;
};

// Mamba-2 on a device: matrices keep their file type (f32, f16, q8_0, q6_k, q4_0); prefill runs
// the chunked SSD op, decode the same op on one token. Thread safety as Mamba.
class Mamba2 {
public:
    Mamba2(Device& device, const WeightSource& weights, const RecurrentOptions& options = {});
    Mamba2(Device& device, const WeightSource& weights, const LoadProgress& progress)
        : Mamba2(device, weights, RecurrentOptions{progress, {}}) {}
    ~Mamba2();
    Mamba2(const Mamba2&) = delete;
    Mamba2& operator=(const Mamba2&) = delete;

    const Mamba2Config& config() const { return config_; }
    Device& device() const { return *device_; }

    // Per layer the conv windows of x [1, K-1, E], B and C [1, K-1, G*N], and the SSM state
    // [1, H, P, N].
    using Session = RecurrentSession;
    Session new_session() const;

    // As Mamba::forward / forward_batch / logits.
    Tensor forward(Stream& s, Session& session, const std::vector<int32_t>& tokens, bool all_logits = false);
    Tensor forward_batch(Stream& s, const std::vector<Session*>& sessions,
                         const std::vector<std::vector<int32_t>>& tokens);
    std::vector<float> logits(Session& session, const std::vector<int32_t>& tokens, bool all_logits = false);

private:
    struct Weights;
    detail::SsmStep& step_for(detail::SsmPart& part, int64_t n, bool all_logits);
    Tensor run(Stream& s, const std::vector<Session*>& sessions, const std::vector<std::vector<int32_t>>& tokens,
               bool all_logits);

    std::shared_ptr<Device> device_;
    Mamba2Config config_;
    std::unique_ptr<detail::SsmParts> parts_;
    std::unique_ptr<Weights> weights_;
};

// GGUF tensors of the mamba2 architecture whose shape llama.cpp's converter and Hugging Face
// write differently: ssm_a and ssm_d ([H] or [H, 1]) and ssm_norm.weight ([E] or [G, E/G]).
// Returns the tensor viewed as a vector of `n`, or a BadFile error naming it and both shapes.
WeightInfo require_mamba2_vector(const WeightSource& w, const std::string& name, int64_t n, const Shape& alt);

}  // namespace vkml::models
