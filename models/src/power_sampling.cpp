// Power-distribution sampling by Metropolis-Hastings over suffixes ("Reasoning with Sampling"):
// the target is p(x)^alpha over whole continuations, proposals come from the model at
// temperature 1/alpha, and each MH step resamples everything after a cut position.
#include <algorithm>
#include <cmath>

#include "vkml/error.hpp"
#include "vkml/models/sampling.hpp"

namespace vkml::models {

namespace {

struct Token {
    int32_t id;
    double log_target;    // alpha * log p(id | prefix)
    double log_proposal;  // log q(id | prefix), q = softmax(alpha * z)
    double entropy;       // entropy (nats) of p(. | prefix), for entropy-jump cuts
};

// log-softmax of s * z, in double.
std::vector<double> log_softmax(const std::vector<float>& z, double s) {
    double mx = -INFINITY;
    for (float v : z) mx = std::max(mx, s * v);
    double total = 0;
    for (float v : z) total += std::exp(s * v - mx);
    const double lse = mx + std::log(total);
    std::vector<double> out(z.size());
    for (size_t i = 0; i < z.size(); ++i) out[i] = s * z[i] - lse;
    return out;
}

class Chain {
public:
    Chain(const NextLogits& model, const std::vector<int32_t>& prompt, const PowerSamplingConfig& c)
        : model_(model), prompt_(prompt), alpha_(c.alpha), cut_(c.cut), rng_(c.seed) {}

    // Samples tokens from the proposal after prefix + `base`, until `base` has `length` tokens.
    std::vector<Token> extend(std::vector<Token> base, size_t length) {
        std::vector<int32_t> context = prompt_;
        for (const Token& t : base) context.push_back(t.id);
        while (base.size() < length) {
            const std::vector<float> z = model_(context);
            if (z.empty()) throw Error(ErrorKind::InvalidArgument, "power sampling: the model returned no logits");
            const std::vector<double> lp = log_softmax(z, 1.0);
            const std::vector<double> lq = log_softmax(z, alpha_);
            double h = 0;
            for (double l : lp) h -= std::exp(l) * l;
            // Draw from q.
            const double u = rng_.uniform();
            double acc = 0;
            size_t pick = lq.size() - 1;
            for (size_t i = 0; i < lq.size(); ++i) {
                acc += std::exp(lq[i]);
                if (u < acc) {
                    pick = i;
                    break;
                }
            }
            base.push_back({static_cast<int32_t>(pick), alpha_ * lp[pick], lq[pick], h});
            context.push_back(static_cast<int32_t>(pick));
        }
        return base;
    }

    // Cut weights over positions: uniform, or the rise in next-token entropy (plus a floor so
    // every position stays reachable, which keeps the chain irreducible).
    std::vector<double> cut_weights(const std::vector<Token>& seq) const {
        std::vector<double> w(seq.size(), 1.0);
        if (cut_ == CutMode::EntropyJump)
            for (size_t i = 0; i < seq.size(); ++i) {
                const double prev = i == 0 ? seq[0].entropy : seq[i - 1].entropy;
                w[i] = 0.05 + std::max(0.0, seq[i].entropy - prev);
            }
        return w;
    }

    static double log_prob_of(const std::vector<double>& w, size_t i) {
        double total = 0;
        for (double x : w) total += x;
        return std::log(w[i] / total);
    }

    // One MH step over the whole current sequence; returns true when the proposal is accepted.
    bool step(std::vector<Token>& cur) {
        const std::vector<double> w = cut_weights(cur);
        double total = 0;
        for (double x : w) total += x;
        double u = rng_.uniform() * total, acc = 0;
        size_t t = cur.size() - 1;
        for (size_t i = 0; i < w.size(); ++i) {
            acc += w[i];
            if (u < acc) {
                t = i;
                break;
            }
        }
        std::vector<Token> prop = extend(std::vector<Token>(cur.begin(), cur.begin() + static_cast<long>(t)), cur.size());
        double log_r = 0;
        for (size_t i = t; i < cur.size(); ++i)
            log_r += (prop[i].log_target - cur[i].log_target) + (cur[i].log_proposal - prop[i].log_proposal);
        if (cut_ == CutMode::EntropyJump) log_r += log_prob_of(cut_weights(prop), t) - log_prob_of(w, t);
        if (std::log(rng_.uniform()) < log_r) {
            cur = std::move(prop);
            return true;
        }
        return false;
    }

private:
    const NextLogits& model_;
    std::vector<int32_t> prompt_;
    double alpha_;
    CutMode cut_;
    Rng rng_;
};

}  // namespace

std::vector<int32_t> power_sample(const NextLogits& model, const std::vector<int32_t>& prompt, int n_new,
                                  const PowerSamplingConfig& config, PowerSamplingStats* stats) {
    if (n_new < 0) throw Error(ErrorKind::InvalidArgument, "power sampling: negative token count");
    if (!(config.alpha >= 1.0f))
        throw Error(ErrorKind::InvalidArgument, "power sampling: alpha must be >= 1, got " + std::to_string(config.alpha));
    if (config.block < 1 || config.mh_steps < 0)
        throw Error(ErrorKind::InvalidArgument, "power sampling: block must be >= 1 and MH steps >= 0");
    Chain chain(model, prompt, config);
    std::vector<Token> cur;
    PowerSamplingStats local;
    while (cur.size() < static_cast<size_t>(n_new)) {
        const size_t length = std::min<size_t>(static_cast<size_t>(n_new), cur.size() + static_cast<size_t>(config.block));
        cur = chain.extend(std::move(cur), length);
        for (int s = 0; s < config.mh_steps; ++s) {
            ++local.proposals;
            if (chain.step(cur)) ++local.accepted;
        }
    }
    if (stats) *stats = local;
    std::vector<int32_t> out;
    for (const Token& t : cur) out.push_back(t.id);
    return out;
}

}  // namespace vkml::models
