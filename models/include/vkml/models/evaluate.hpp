// Held-out evaluation of a language model on the device.
#pragma once

#include <cstdint>
#include <vector>

#include "vkml/models/language_model.hpp"

namespace vkml::models {

struct Perplexity {
    double value = 0;     // exp(mean negative log-likelihood), natural log
    double nll = 0;       // total negative log-likelihood
    int64_t scored = 0;   // tokens predicted
    int64_t windows = 0;
};

// Cuts `tokens` into windows of `window` tokens; each runs from an empty state as [bos] + window
// (no BOS when bos < 0, and then a window's first token is not predicted). Every other token
// is scored by the log-softmax (computed on the device) of the position before it.
Perplexity windowed_perplexity(LanguageModel& model, const std::vector<int32_t>& tokens, int64_t window, int32_t bos);

}  // namespace vkml::models
