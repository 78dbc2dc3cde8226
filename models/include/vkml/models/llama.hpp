// Llama-style decoder (RMSNorm, RoPE, grouped-query attention, SwiGLU FFN), as llama.cpp's
// `llama` architecture and Hugging Face's LlamaForCausalLM define it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vkml/models/weights.hpp"
#include "vkml/device.hpp"
#include "vkml/ops/attention.hpp"
#include "vkml/stream.hpp"

namespace vkml::models {

struct LlamaConfig {
    int64_t vocab = 0, dim = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, ffn = 0;
    int64_t context = 2048;
    int64_t rope_dims = 0;  // rotated dimensions per head (<= head_dim)
    float norm_eps = 1e-5f;
    float rope_theta = 10000.0f;
    // Adjacent pairs for GGUF `llama` files (llama.cpp permutes Q/K on conversion); half split
    // for Hugging Face checkpoints.
    ops::RopeMode rope = ops::RopeMode::Adjacent;
    bool tied_output = false;  // no output.weight: the LM head is the token embedding

    // From GGUF metadata (`llama.*` keys) and tensor shapes; checks consistency, naming the file.
    static LlamaConfig from_gguf(const WeightSource& w);
    std::string describe() const;
};

struct LlamaOptions {
    int64_t max_context = 0;  // KV-cache rows per session; 0 = the model's context length
    LoadProgress progress;    // called after each layer is uploaded
    // More devices to split the layers over (contiguous ranges, in order; the first device
    // holds the token table and the first range, the last one the LM head). Activations cross
    // between devices through the host, so such a forward is synchronous.
    std::vector<std::shared_ptr<Device>> more_devices;
    // Record a single sequence's forward once (per token count and session) and resubmit that
    // command buffer while its position advances: RoPE, the cache write and attention read the
    // position on the device. Off: every forward is recorded afresh (as batches, multi-device
    // splits and timed streams always are).
    bool replay = true;
};

// The decoder on a device. Weights are uploaded once in their file's type (f32, f16, q8_0,
// q6_k, q4_0; the token table as f32 or f16); each forward pass is a Graph (activations planned
// by liveness) recorded into one command buffer, and a single sequence's decode replays that
// command buffer step after step (LlamaOptions::replay).
//
// Thread safety: one Llama may serve several sessions, but forward() calls must not overlap.
class Llama {
public:
    Llama(Device& device, const WeightSource& weights, const LlamaOptions& options = {});
    ~Llama();
    Llama(const Llama&) = delete;
    Llama& operator=(const Llama&) = delete;

    const LlamaConfig& config() const { return config_; }
    Device& device() const { return *device_; }

    // One sequence's state: the f16 KV cache of every layer and the number of tokens it holds.
    // Copies share the caches (and the id, which names them for replayed recordings).
    struct Session {
        std::vector<Tensor> k, v;
        int64_t pos = 0;
        int64_t max_context = 0;
        uint64_t id = 0;  // unique per new_session()
    };
    Session new_session() const;

    // Records the forward pass of `tokens` appended at session.pos and advances it. Returns the
    // logits, f32 [tokens.size(), vocab] with all_logits, else [1, vocab] for the last token;
    // valid once the stream has finished (and until the next forward call). A replayed forward
    // (see LlamaOptions::replay) runs on the model's own stream and is complete on return.
    Tensor forward(Stream& s, Session& session, const std::vector<int32_t>& tokens, bool all_logits = false);
    // Several sequences in one pass: their tokens run as one batch of rows through every
    // matrix product (the weights stream once), with RoPE, the cache write and attention per
    // sequence. Returns the logits of every token, f32 [total tokens, vocab], sequence after
    // sequence; each session advances by its tokens. A session may appear once per batch.
    Tensor forward_batch(Stream& s, const std::vector<Session*>& sessions,
                         const std::vector<std::vector<int32_t>>& tokens);
    // forward() + finish + download.
    std::vector<float> logits(Session& session, const std::vector<int32_t>& tokens, bool all_logits = false);

private:
    struct Weights;
    struct Step;
    struct Part;  // the layers one device runs
    Step& step_for(Part& part, int64_t n, bool all_logits);
    bool replayable(const Stream& s, const std::vector<Session*>& sessions) const;
    Tensor run(Stream& s, const std::vector<Session*>& sessions, const std::vector<std::vector<int32_t>>& tokens,
               bool all_logits);

    std::shared_ptr<Device> device_;
    LlamaConfig config_;
    LlamaOptions options_;
    std::unique_ptr<Weights> weights_;
    std::vector<std::unique_ptr<Part>> parts_;
    std::vector<size_t> layer_part_;  // which part holds each layer
};

// GGUF tensor names of the llama architecture.
namespace llama_names {
std::string layer(int64_t i, const char* suffix);  // "blk.3.attn_q.weight"
}

}  // namespace vkml::models
