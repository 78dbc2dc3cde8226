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

// One sequence's state in a recurrent (Mamba-style) model: per layer a fixed list of f32
// tensors (conv windows, SSM state), each [1, ...] and zero at the start, layer after layer;
// and the number of tokens the sequence has seen. Copies share the state tensors (and the id,
// which names them for replayed recordings).
struct RecurrentSession {
    std::vector<Tensor> state;
    int64_t pos = 0;
    uint64_t id = 0;  // unique per new_session()
};

struct RecurrentOptions {
    LoadProgress progress;  // called after each layer is uploaded
    // More devices to split the layers over, as LlamaOptions::more_devices: contiguous ranges
    // in order; the first device holds the token table, the last the LM head, and each layer's
    // state lives with its layer. Activations cross between devices through the host, so such
    // a forward is synchronous.
    std::vector<std::shared_ptr<Device>> more_devices;
    // Record a single sequence's forward once (per token count and session) and resubmit that
    // command buffer for the next steps (nothing in a recurrent model's graph depends on the
    // position). Such a forward runs on the model's own stream and is complete on return. Off,
    // or for batches, device splits and timed streams: every forward is recorded afresh.
    bool replay = true;
};

namespace detail {
struct SsmParts;
struct SsmPart;
struct SsmStep;
}  // namespace detail

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

// Thread safety: one model may serve several sessions, but forward() calls must not overlap.
class Mamba {
public:
    Mamba(Device& device, const WeightSource& weights, const RecurrentOptions& options = {});
    Mamba(Device& device, const WeightSource& weights, const LoadProgress& progress)
        : Mamba(device, weights, RecurrentOptions{progress, {}}) {}
    ~Mamba();
    Mamba(const Mamba&) = delete;
    Mamba& operator=(const Mamba&) = delete;

    const MambaConfig& config() const { return config_; }
    Device& device() const { return *device_; }

    // Per layer the conv window [1, K-1, E] and the SSM state [1, E, N].
    using Session = RecurrentSession;
    Session new_session() const;

    // Records the forward pass of `tokens` after the session's state and advances it; logits
    // f32 [n, vocab] with all_logits, else [1, vocab]; valid once the stream has finished.
    Tensor forward(Stream& s, Session& session, const std::vector<int32_t>& tokens, bool all_logits = false);
    // Several sequences in one pass: every matrix product runs on all their rows (the weights
    // stream once). Sequences of equal length (decode steps) run the conv and scan as one batch
    // over copies of their states; otherwise each sequence runs them on its own rows. Returns
    // the logits of every token, f32 [total tokens, vocab], sequence after sequence; each
    // session advances by its tokens. A session may appear once per batch.
    Tensor forward_batch(Stream& s, const std::vector<Session*>& sessions,
                         const std::vector<std::vector<int32_t>>& tokens);
    std::vector<float> logits(Session& session, const std::vector<int32_t>& tokens, bool all_logits = false);

private:
    struct Weights;
    detail::SsmStep& step_for(detail::SsmPart& part, int64_t n, bool all_logits);
    Tensor run(Stream& s, const std::vector<Session*>& sessions, const std::vector<std::vector<int32_t>>& tokens,
               bool all_logits);

    std::shared_ptr<Device> device_;
    MambaConfig config_;
    std::unique_ptr<detail::SsmParts> parts_;
    std::unique_ptr<Weights> weights_;
};

}  // namespace vkml::models
