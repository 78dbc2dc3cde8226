#include "vkml/models/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "vkml/error.hpp"

namespace vkml::models {

namespace {

uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void check_logits(std::span<const float> logits) {
    if (logits.empty()) throw Error(ErrorKind::InvalidArgument, "sampler: empty logits");
}

// Draws an index of `c` with probability proportional to c[i].p.
size_t draw(const std::vector<Candidate>& c, double u) {
    double total = 0;
    for (const Candidate& x : c) total += x.p;
    double target = u * total, acc = 0;
    for (size_t i = 0; i < c.size(); ++i) {
        acc += c[i].p;
        if (target < acc) return i;
    }
    return c.size() - 1;
}

void renormalise(std::vector<Candidate>& c) {
    double total = 0;
    for (const Candidate& x : c) total += x.p;
    for (Candidate& x : c) x.p /= total;
}

}  // namespace

Rng::Rng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& s : s_) s = splitmix64(x);
}

uint64_t Rng::next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

SamplerKind sampler_kind_from_name(const std::string& name) {
    static const std::pair<const char*, SamplerKind> kNames[] = {
        {"greedy", SamplerKind::Greedy},   {"temperature", SamplerKind::Temperature},
        {"top-k", SamplerKind::TopK},      {"top-p", SamplerKind::TopP},
        {"min-p", SamplerKind::MinP},      {"typical", SamplerKind::Typical},
        {"mirostat", SamplerKind::Mirostat}, {"top-h", SamplerKind::TopH},
    };
    std::string all;
    for (const auto& [n, k] : kNames) {
        if (name == n) return k;
        all += (all.empty() ? "" : ", ") + std::string(n);
    }
    throw Error(ErrorKind::InvalidArgument, "unknown sampler '" + name + "'; known: " + all);
}

const char* sampler_name(SamplerKind kind) {
    switch (kind) {
        case SamplerKind::Greedy: return "greedy";
        case SamplerKind::Temperature: return "temperature";
        case SamplerKind::TopK: return "top-k";
        case SamplerKind::TopP: return "top-p";
        case SamplerKind::MinP: return "min-p";
        case SamplerKind::Typical: return "typical";
        case SamplerKind::Mirostat: return "mirostat";
        case SamplerKind::TopH: return "top-h";
    }
    return "?";
}

std::vector<Candidate> sorted_softmax(std::span<const float> logits, float temperature) {
    check_logits(logits);
    if (!(temperature > 0))
        throw Error(ErrorKind::InvalidArgument, "sampler: temperature must be > 0, got " + std::to_string(temperature));
    double mx = -std::numeric_limits<double>::infinity();
    for (float z : logits) mx = std::max(mx, static_cast<double>(z));
    if (!std::isfinite(mx)) throw Error(ErrorKind::InvalidArgument, "sampler: logits are not finite");
    std::vector<Candidate> c(logits.size());
    double total = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
        const double e = std::exp((static_cast<double>(logits[i]) - mx) / temperature);
        c[i] = {static_cast<int32_t>(i), e};
        total += e;
    }
    for (Candidate& x : c) x.p /= total;
    std::stable_sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) { return a.p > b.p; });
    return c;
}

Sampler::Sampler(const SamplerConfig& config) : config_(config), rng_(config.seed), mu_(2.0f * config.mirostat_tau) {
    const SamplerConfig& c = config_;
    auto bad = [](const std::string& what) { throw Error(ErrorKind::InvalidArgument, "sampler: " + what); };
    if (!(c.temperature > 0)) bad("temperature must be > 0");
    if (c.top_k < 1) bad("top-k must be >= 1");
    if (!(c.top_p > 0 && c.top_p <= 1)) bad("top-p must be in (0, 1]");
    if (!(c.min_p >= 0 && c.min_p <= 1)) bad("min-p must be in [0, 1]");
    if (!(c.typical_mass > 0 && c.typical_mass <= 1)) bad("typical mass must be in (0, 1]");
    if (c.top_h_candidates < 1) bad("top-h candidates must be >= 1");
    if (!(c.top_h_alpha > 0)) bad("top-h alpha must be > 0");
}

std::vector<Candidate> Sampler::filtered(std::span<const float> logits) const {
    check_logits(logits);
    const SamplerConfig& c = config_;
    if (c.kind == SamplerKind::Greedy) {
        size_t best = 0;
        for (size_t i = 1; i < logits.size(); ++i)
            if (logits[i] > logits[best]) best = i;
        return {{static_cast<int32_t>(best), 1.0}};
    }
    std::vector<Candidate> p = sorted_softmax(logits, c.temperature);
    switch (c.kind) {
        case SamplerKind::Greedy:
        case SamplerKind::Temperature:
            break;
        case SamplerKind::TopK:
            p.resize(std::min<size_t>(p.size(), static_cast<size_t>(c.top_k)));
            break;
        case SamplerKind::TopP: {
            double acc = 0;
            size_t keep = 0;
            while (keep < p.size() && (keep == 0 || acc < c.top_p)) acc += p[keep++].p;
            p.resize(keep);
            break;
        }
        case SamplerKind::MinP: {
            const double cut = c.min_p * p[0].p;
            size_t keep = 1;
            while (keep < p.size() && p[keep].p >= cut) ++keep;
            p.resize(keep);
            break;
        }
        case SamplerKind::Typical: {
            double h = 0;
            for (const Candidate& x : p)
                if (x.p > 0) h -= x.p * std::log(x.p);
            std::vector<std::pair<double, size_t>> score(p.size());
            for (size_t i = 0; i < p.size(); ++i)
                score[i] = {p[i].p > 0 ? std::fabs(-std::log(p[i].p) - h) : INFINITY, i};
            std::stable_sort(score.begin(), score.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
            std::vector<Candidate> kept;
            double acc = 0;
            for (const auto& [s, i] : score) {
                kept.push_back(p[i]);
                acc += p[i].p;
                if (acc >= c.typical_mass) break;
            }
            p = std::move(kept);
            break;
        }
        case SamplerKind::Mirostat: {
            size_t keep = 0;
            while (keep < p.size() && (keep == 0 || -std::log2(p[keep].p) <= mu_)) ++keep;
            p.resize(keep);
            break;
        }
        case SamplerKind::TopH: {
            p.resize(std::min<size_t>(p.size(), static_cast<size_t>(c.top_h_candidates)));
            renormalise(p);
            double h = 0;
            for (const Candidate& x : p)
                if (x.p > 0) h -= x.p * std::log2(x.p);
            const double tau = c.top_h_alpha * h;
            double partial = 0;
            size_t keep = 0;
            while (keep < p.size()) {
                const double term = p[keep].p > 0 ? -p[keep].p * std::log2(p[keep].p) : 0.0;
                if (keep > 0 && partial + term > tau) break;
                partial += term;
                ++keep;
            }
            p.resize(keep);
            break;
        }
    }
    renormalise(p);
    return p;
}

int32_t Sampler::sample(std::span<const float> logits) {
    const std::vector<Candidate> c = filtered(logits);
    const Candidate chosen = config_.kind == SamplerKind::Greedy ? c[0] : c[draw(c, rng_.uniform())];
    last_surprise_ = -std::log2(chosen.p);
    if (config_.kind == SamplerKind::Mirostat)
        mu_ -= config_.mirostat_eta * static_cast<float>(last_surprise_ - config_.mirostat_tau);
    return chosen.id;
}

}  // namespace vkml::models
