// LanguageModel: one interface over every architecture vkml runs, for the command line, the
// demo and programs that only need "tokens in, logits out". It holds one sequence.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vkml/device.hpp"
#include "vkml/models/weights.hpp"
#include "vkml/stream.hpp"

namespace vkml::models {

class LanguageModel {
public:
    virtual ~LanguageModel() = default;
    virtual std::string describe() const = 0;
    virtual int64_t vocab() const = 0;
    virtual int64_t max_context() const = 0;  // tokens one sequence may hold
    virtual int64_t position() const = 0;     // tokens the sequence holds now
    virtual void reset() = 0;                 // starts a new, empty sequence
    // Forgets every token from `pos` on, where the architecture can (attention: the KV cache
    // rows are simply rewritten); false when it cannot (a recurrent state), and nothing changes.
    virtual bool truncate(int64_t pos) = 0;
    // Appends `tokens` to the sequence; logits f32 [n, vocab] (all_logits) or [1, vocab],
    // valid after the stream has finished and until the next forward.
    virtual Tensor forward(Stream& s, const std::vector<int32_t>& tokens, bool all_logits = false) = 0;
    std::vector<float> logits(const std::vector<int32_t>& tokens, bool all_logits = false);
    Device& device() const { return *device_; }

protected:
    explicit LanguageModel(Device& device) : device_(device.shared_from_this()) {}

private:
    std::shared_ptr<Device> device_;
};

// Loads the architecture named by `general.architecture` (llama, mamba, mamba2). max_context bounds the
// KV cache of attention models (0: the model's own context length). `more_devices` splits the
// model's layers over `device` and these.
std::unique_ptr<LanguageModel> load_language_model(Device& device, const WeightSource& weights,
                                                   int64_t max_context = 0, const LoadProgress& progress = {},
                                                   const std::vector<std::shared_ptr<Device>>& more_devices = {});

}  // namespace vkml::models
