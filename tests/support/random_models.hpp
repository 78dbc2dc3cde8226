// Small random llama and mamba models with llama.cpp's GGUF names, for model tests.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "vkml/models/weights.hpp"

namespace vkml::test {

// A random llama; `tied` leaves out output.weight (the LM head is then the token table).
models::InMemoryWeights random_llama(int64_t vocab, int64_t dim, int64_t layers, int64_t heads, int64_t kv_heads,
                                     int64_t ffn, bool tied, uint32_t seed);

// A random mamba with inner size 2 * dim and conv width 4.
models::InMemoryWeights random_mamba(int64_t vocab, int64_t dim, int64_t layers, int64_t state, int64_t rank,
                                     bool tied, uint32_t seed);

// The logits of every position of `tokens` in a new session of `model`, then those of one
// decode step on `next`, in one vector.
template <class Model>
std::vector<float> prompt_then_step(Model& model, const std::vector<int32_t>& tokens, int32_t next) {
    auto session = model.new_session();
    std::vector<float> out = model.logits(session, tokens, true);
    const std::vector<float> step = model.logits(session, {next});
    out.insert(out.end(), step.begin(), step.end());
    return out;
}

// Runs `logits` (build a model, run it, return its logits) with models' matrices uploaded as
// they are by default (on CPU devices interleaved for the CPU kernel) and again with
// VKML_INTERLEAVE_WEIGHTS=0 (dense), expects the two bit for bit equal (the same kernel's
// arithmetic on the same values) and returns the default run's logits.
std::vector<float> expect_interleaving_is_exact(const std::function<std::vector<float>()>& logits);

}  // namespace vkml::test
