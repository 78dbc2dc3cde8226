// Token samplers: greedy, temperature, top-k, top-p, min-p, locally typical, Mirostat v2 and
// Top-H over a row of logits, and power-distribution sampling by Metropolis-Hastings over
// suffixes (see docs/sampling.md for the exact definitions, from ../shared/PAPERS.md).
//
// Every sampler is reproducible: the same seed and the same logits give the same tokens on every
// platform (vkml's own RNG, not <random>'s implementation-defined distributions).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace vkml::models {

// xoshiro256** seeded by splitmix64: small, fast, identical everywhere.
class Rng {
public:
    explicit Rng(uint64_t seed = 0);
    uint64_t next();
    double uniform();  // [0, 1), 53 random bits
private:
    uint64_t s_[4];
};

enum class SamplerKind { Greedy, Temperature, TopK, TopP, MinP, Typical, Mirostat, TopH };

struct SamplerConfig {
    SamplerKind kind = SamplerKind::Greedy;
    float temperature = 1.0f;  // applied to the logits before every filter (not for greedy)
    int top_k = 40;
    float top_p = 0.95f;
    float min_p = 0.05f;
    float typical_mass = 0.9f;
    float mirostat_tau = 5.0f;  // target surprise in bits
    float mirostat_eta = 0.1f;
    int top_h_candidates = 100;
    float top_h_alpha = 0.4f;
    uint64_t seed = 0;
};

// Parses "greedy", "temperature", "top-k", "top-p", "min-p", "typical", "mirostat", "top-h";
// throws vkml::Error (invalid argument) listing the names otherwise.
SamplerKind sampler_kind_from_name(const std::string& name);
const char* sampler_name(SamplerKind kind);

// A probability over candidate tokens, sorted by probability (descending, ties by lower id).
struct Candidate {
    int32_t id;
    double p;
};

class Sampler {
public:
    explicit Sampler(const SamplerConfig& config);

    // Picks the next token from one row of logits (the whole vocabulary).
    int32_t sample(std::span<const float> logits);

    // The candidates the configured filter keeps for these logits, renormalised (for tests and
    // for inspection); does not advance the RNG or Mirostat's state.
    std::vector<Candidate> filtered(std::span<const float> logits) const;

    float mirostat_mu() const { return mu_; }
    double last_surprise_bits() const { return last_surprise_; }  // -log2 p of the last token
    const SamplerConfig& config() const { return config_; }

private:
    SamplerConfig config_;
    Rng rng_;
    float mu_;
    double last_surprise_ = 0;
};

// softmax(logits / temperature) sorted descending by p (ties: lower id first).
std::vector<Candidate> sorted_softmax(std::span<const float> logits, float temperature);

// --- Power sampling (Reasoning with Sampling) ------------------------------------------------

// Next-token logits after `context` (prompt + generated tokens so far).
using NextLogits = std::function<std::vector<float>(const std::vector<int32_t>& context)>;

enum class CutMode { Uniform, EntropyJump };

struct PowerSamplingConfig {
    float alpha = 4.0f;      // target distribution p^alpha; proposals use temperature 1/alpha
    int block = 16;          // tokens appended before each round of MH steps
    int mh_steps = 8;        // MH steps after each block
    CutMode cut = CutMode::Uniform;
    uint64_t seed = 0;
};

struct PowerSamplingStats {
    int proposals = 0;
    int accepted = 0;
};

// Generates `n_new` tokens after `prompt` whose joint distribution approaches p^alpha (normalised),
// by Metropolis-Hastings over suffixes with cut positions chosen uniformly or at entropy jumps.
std::vector<int32_t> power_sample(const NextLogits& model, const std::vector<int32_t>& prompt, int n_new,
                                  const PowerSamplingConfig& config, PowerSamplingStats* stats = nullptr);

}  // namespace vkml::models
