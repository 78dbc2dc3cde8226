// Samplers, checked statistically on fixed logits, and power sampling against the exact target.
#include <cmath>
#include <map>
#include <set>

#include "vkml/models/sampling.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

using models::Candidate;
using models::Sampler;
using models::SamplerConfig;
using models::SamplerKind;

// A Zipf-like row: logit of token i is -1.1 * log(i + 1), plus a little structure.
std::vector<float> zipf_logits(int n) {
    std::vector<float> z(n);
    for (int i = 0; i < n; ++i) z[i] = -1.1f * std::log(static_cast<float>(i + 1)) + 0.01f * static_cast<float>(i % 3);
    return z;
}

std::map<int32_t, int> histogram(Sampler& s, const std::vector<float>& z, int draws) {
    std::map<int32_t, int> h;
    for (int i = 0; i < draws; ++i) ++h[s.sample(z)];
    return h;
}

// Every emitted token is a kept candidate, and frequencies match the kept probabilities within
// 5 standard deviations (a check that fails on a wrong filter or a wrong renormalisation).
void expect_distribution(SamplerConfig cfg, const std::vector<float>& z, int draws = 20000) {
    Sampler s(cfg);
    const std::vector<Candidate> kept = s.filtered(z);
    std::map<int32_t, double> p;
    for (const Candidate& c : kept) p[c.id] = c.p;
    const auto h = histogram(s, z, draws);
    for (const auto& [id, count] : h) ASSERT_TRUE(p.count(id)) << models::sampler_name(cfg.kind) << " emitted " << id;
    for (const auto& [id, prob] : p) {
        const double expect = prob * draws;
        const double sd = std::sqrt(draws * prob * (1 - prob)) + 1;
        const auto it = h.find(id);
        const double got = it == h.end() ? 0 : it->second;
        EXPECT_NEAR(got, expect, 5 * sd) << models::sampler_name(cfg.kind) << " token " << id;
    }
}

TEST(Sampling, GreedyIsArgmaxWithLowestIndexOnTies) {
    Sampler s({});
    EXPECT_EQ(s.sample(std::vector<float>{0.1f, 3.0f, -2.0f, 3.0f}), 1);
    EXPECT_VKML_ERROR(s.sample(std::vector<float>{}), ErrorKind::InvalidArgument, "empty");
}

TEST(Sampling, TemperatureMatchesSoftmax) {
    const auto z = zipf_logits(12);
    SamplerConfig cfg{.kind = SamplerKind::Temperature, .temperature = 0.7f, .seed = 1};
    const auto kept = Sampler(cfg).filtered(z);
    ASSERT_EQ(kept.size(), z.size());
    double total = 0;
    const double t = 0.7f;
    for (float v : z) total += std::exp(v / t);
    for (const Candidate& c : kept) EXPECT_NEAR(c.p, std::exp(z[c.id] / t) / total, 1e-12);
    expect_distribution(cfg, z);
}

TEST(Sampling, TopKNeverLeavesTheTopK) {
    const auto z = zipf_logits(50);
    SamplerConfig cfg{.kind = SamplerKind::TopK, .top_k = 5, .seed = 2};
    const auto kept = Sampler(cfg).filtered(z);
    ASSERT_EQ(kept.size(), 5u);
    std::set<int32_t> top5;
    for (const Candidate& c : kept) top5.insert(c.id);
    EXPECT_EQ(top5, (std::set<int32_t>{0, 1, 2, 3, 4}));
    expect_distribution(cfg, z);
}

TEST(Sampling, TopPKeepsTheSmallestPrefixReachingP) {
    const auto z = zipf_logits(50);
    SamplerConfig cfg{.kind = SamplerKind::TopP, .top_p = 0.6f, .seed = 3};
    const auto all = models::sorted_softmax(z, 1.0f);
    const auto kept = Sampler(cfg).filtered(z);
    double before = 0;
    for (size_t i = 0; i + 1 < kept.size(); ++i) before += all[i].p;
    EXPECT_LT(before, 0.6);
    EXPECT_GE(before + all[kept.size() - 1].p, 0.6);
    expect_distribution(cfg, z);
}

TEST(Sampling, MinPDropsTokensBelowTheScaledMax) {
    const auto z = zipf_logits(50);
    SamplerConfig cfg{.kind = SamplerKind::MinP, .min_p = 0.1f, .seed = 4};
    const auto all = models::sorted_softmax(z, 1.0f);
    const auto kept = Sampler(cfg).filtered(z);
    size_t expect = 0;
    for (const Candidate& c : all) expect += c.p >= 0.1 * all[0].p;
    EXPECT_EQ(kept.size(), expect);
    expect_distribution(cfg, z);
}

TEST(Sampling, TypicalKeepsTokensClosestToTheEntropy) {
    const auto z = zipf_logits(40);
    SamplerConfig cfg{.kind = SamplerKind::Typical, .typical_mass = 0.5f, .seed = 5};
    const auto all = models::sorted_softmax(z, 1.0f);
    double h = 0;
    for (const Candidate& c : all) h -= c.p * std::log(c.p);
    const auto kept = Sampler(cfg).filtered(z);
    double worst_kept = 0, best_dropped = INFINITY, mass = 0;
    std::set<int32_t> ids;
    for (const Candidate& c : kept) ids.insert(c.id);
    for (const Candidate& c : all) {
        const double score = std::fabs(-std::log(c.p) - h);
        if (ids.count(c.id)) {
            worst_kept = std::max(worst_kept, score);
            mass += c.p;
        } else {
            best_dropped = std::min(best_dropped, score);
        }
    }
    EXPECT_LE(worst_kept, best_dropped);
    EXPECT_GE(mass, 0.5);
    expect_distribution(cfg, z);
}

TEST(Sampling, MirostatSurpriseTracksTau) {
    const auto z = zipf_logits(2000);
    for (float tau : {3.0f, 5.0f}) {
        Sampler s({.kind = SamplerKind::Mirostat, .mirostat_tau = tau, .seed = 6});
        double total = 0;
        const int steps = 3000;
        for (int i = 0; i < steps; ++i) {
            s.sample(z);
            if (i >= 500) total += s.last_surprise_bits();
        }
        EXPECT_NEAR(total / (steps - 500), tau, 0.35) << "tau " << tau;
    }
}

TEST(Sampling, TopHKeepsPartialEntropyWithinTheBound) {
    const auto z = zipf_logits(300);
    SamplerConfig cfg{.kind = SamplerKind::TopH, .top_h_candidates = 100, .top_h_alpha = 0.4f, .seed = 7};
    auto cands = models::sorted_softmax(z, 1.0f);
    cands.resize(100);
    double total = 0, h = 0;
    for (const Candidate& c : cands) total += c.p;
    for (Candidate& c : cands) {
        c.p /= total;
        h -= c.p * std::log2(c.p);
    }
    const auto kept = Sampler(cfg).filtered(z);
    double partial = 0;
    for (size_t i = 0; i < kept.size(); ++i) partial -= cands[i].p * std::log2(cands[i].p);
    EXPECT_LE(partial, 0.4 * h + 1e-12);
    ASSERT_LT(kept.size(), cands.size());
    EXPECT_GT(partial - cands[kept.size()].p * std::log2(cands[kept.size()].p), 0.4 * h) << "the prefix is the largest";
    expect_distribution(cfg, z);
}

TEST(Sampling, SeedsMakeSamplersReproducible) {
    const auto z = zipf_logits(100);
    for (SamplerKind k : {SamplerKind::Temperature, SamplerKind::TopP, SamplerKind::Mirostat, SamplerKind::TopH}) {
        Sampler a({.kind = k, .seed = 42}), b({.kind = k, .seed = 42}), c({.kind = k, .seed = 43});
        std::vector<int32_t> ra, rb, rc;
        for (int i = 0; i < 200; ++i) {
            ra.push_back(a.sample(z));
            rb.push_back(b.sample(z));
            rc.push_back(c.sample(z));
        }
        EXPECT_EQ(ra, rb);
        EXPECT_NE(ra, rc);
    }
    // The generator is fixed: this value must never change across platforms or releases.
    EXPECT_EQ(models::Rng(0).next(), 0x99ec5f36cb75f2b4ull);
}

TEST(Sampling, BadConfigurationsAreErrors) {
    EXPECT_VKML_ERROR(Sampler({.temperature = 0.0f}), ErrorKind::InvalidArgument, "temperature");
    EXPECT_VKML_ERROR(Sampler({.top_k = 0}), ErrorKind::InvalidArgument, "top-k");
    EXPECT_VKML_ERROR(Sampler({.top_p = 1.5f}), ErrorKind::InvalidArgument, "top-p");
    EXPECT_VKML_ERROR(models::sampler_kind_from_name("nucleus"), ErrorKind::InvalidArgument, "top-p");
    EXPECT_EQ(models::sampler_kind_from_name("mirostat"), SamplerKind::Mirostat);
}

// A toy bigram model over 3 tokens: the next-token logits depend only on the last token.
std::vector<float> bigram(const std::vector<int32_t>& ctx) {
    static const float kTable[4][3] = {{1.0f, 0.2f, -0.5f}, {0.1f, 0.9f, 0.0f}, {-1.0f, 0.3f, 1.2f}, {0.5f, 0.0f, 0.4f}};
    const int last = ctx.empty() ? 3 : ctx.back();
    return {kTable[last][0], kTable[last][1], kTable[last][2]};
}

// p^alpha over all 3^3 continuations, normalised.
std::map<std::vector<int32_t>, double> exact_power(double alpha) {
    std::map<std::vector<int32_t>, double> out;
    double total = 0;
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b)
            for (int c = 0; c < 3; ++c) {
                std::vector<int32_t> seq{a, b, c}, ctx;
                double lp = 0;
                for (int32_t t : seq) {
                    const auto z = bigram(ctx);
                    double s = 0;
                    for (float v : z) s += std::exp(v);
                    lp += z[t] - std::log(s);
                    ctx.push_back(t);
                }
                out[seq] = std::exp(alpha * lp);
                total += out[seq];
            }
    for (auto& [k, v] : out) v /= total;
    return out;
}

double total_variation(const std::map<std::vector<int32_t>, double>& p, const std::map<std::vector<int32_t>, int>& counts, int n) {
    double tv = 0;
    for (const auto& [seq, prob] : p) {
        const auto it = counts.find(seq);
        tv += std::fabs(prob - (it == counts.end() ? 0.0 : static_cast<double>(it->second) / n));
    }
    return tv / 2;
}

TEST(PowerSampling, ConvergesToTheExactPowerDistribution) {
    const double alpha = 4.0;
    const auto target = exact_power(alpha);
    for (models::CutMode mode : {models::CutMode::Uniform, models::CutMode::EntropyJump}) {
        std::map<std::vector<int32_t>, int> mh, proposal_only;
        const int runs = 3000;
        models::PowerSamplingStats stats;
        int accepted = 0, proposals = 0;
        for (int r = 0; r < runs; ++r) {
            models::PowerSamplingConfig cfg{.alpha = static_cast<float>(alpha), .block = 3, .mh_steps = 12,
                                            .cut = mode, .seed = static_cast<uint64_t>(r) + 1};
            ++mh[models::power_sample(bigram, {}, 3, cfg, &stats)];
            accepted += stats.accepted;
            proposals += stats.proposals;
            cfg.mh_steps = 0;
            ++proposal_only[models::power_sample(bigram, {}, 3, cfg)];
        }
        const double tv_mh = total_variation(target, mh, runs);
        const double tv_q = total_variation(target, proposal_only, runs);
        EXPECT_LT(tv_mh, 0.05) << "MH must reach p^alpha";
        EXPECT_GT(tv_q, 2 * tv_mh) << "tempered proposals alone are measurably off the target";
        EXPECT_GT(accepted, 0);
        EXPECT_LT(accepted, proposals);
    }
}

TEST(PowerSampling, RejectsBadArguments) {
    EXPECT_VKML_ERROR(models::power_sample(bigram, {}, 3, {.alpha = 0.5f}), ErrorKind::InvalidArgument, "alpha");
    EXPECT_VKML_ERROR(models::power_sample(bigram, {}, 3, {.block = 0}), ErrorKind::InvalidArgument, "block");
}

}  // namespace
}  // namespace vkml::test
