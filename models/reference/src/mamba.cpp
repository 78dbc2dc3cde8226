#include "vkml/reference/mamba.hpp"

#include <cmath>

#include "vkml/models/llama.hpp"

namespace vkml::reference {

namespace {

std::vector<float> load(const models::WeightSource& w, const std::string& name) {
    return models::weight_to_floats(w.require(name));
}

// y[n, m] = x[n, k] W[m, k]^T using rows [row0, row0 + m) of W.
std::vector<float> linear(const std::vector<float>& W, int64_t row0, int64_t m, int64_t k, const std::vector<float>& x,
                          int64_t n) {
    std::vector<float> y(n * m);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t r = 0; r < m; ++r) {
            double acc = 0;
            for (int64_t i = 0; i < k; ++i) acc += static_cast<double>(W[(row0 + r) * k + i]) * x[t * k + i];
            y[t * m + r] = static_cast<float>(acc);
        }
    return y;
}

double silu(double v) { return v / (1.0 + std::exp(-v)); }

void rms_norm(std::vector<float>& y, const std::vector<float>& x, const std::vector<float>& w, int64_t n, int64_t d,
              float eps) {
    for (int64_t t = 0; t < n; ++t) {
        double ss = 0;
        for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(x[t * d + i]) * x[t * d + i];
        const double inv = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
        for (int64_t i = 0; i < d; ++i) y[t * d + i] = static_cast<float>(x[t * d + i] * inv * w[i]);
    }
}

}  // namespace

std::vector<float> mamba_forward(const models::WeightSource& w, const std::vector<int32_t>& tokens) {
    using models::llama_names::layer;
    const models::MambaConfig c = models::MambaConfig::from_gguf(w);
    const int64_t n = static_cast<int64_t>(tokens.size()), D = c.dim, E = c.inner, N = c.state, K = c.conv,
                  R = c.dt_rank;
    const std::vector<float> emb = load(w, "token_embd.weight");
    std::vector<float> x(n * D), h(n * D);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < D; ++i) x[t * D + i] = emb[tokens[t] * D + i];
    for (int64_t l = 0; l < c.layers; ++l) {
        rms_norm(h, x, load(w, layer(l, "attn_norm.weight")), n, D, c.norm_eps);
        const std::vector<float> in = load(w, layer(l, "ssm_in.weight"));
        const std::vector<float> xs = linear(in, 0, E, D, h, n), z = linear(in, E, E, D, h, n);
        const std::vector<float> cw = load(w, layer(l, "ssm_conv1d.weight")), cb = load(w, layer(l, "ssm_conv1d.bias"));
        std::vector<float> u(n * E);
        for (int64_t t = 0; t < n; ++t)
            for (int64_t e = 0; e < E; ++e) {
                double acc = cb[e];
                for (int64_t k = 0; k < K; ++k) {
                    const int64_t src = t - K + 1 + k;
                    if (src >= 0) acc += static_cast<double>(cw[e * K + k]) * xs[src * E + e];
                }
                u[t * E + e] = static_cast<float>(silu(acc));
            }
        const std::vector<float> xp = load(w, layer(l, "ssm_x.weight"));
        const std::vector<float> dt_in = linear(xp, 0, R, E, u, n), Bm = linear(xp, R, N, E, u, n),
                                 Cm = linear(xp, R + N, N, E, u, n);
        const std::vector<float> delta_raw = linear(load(w, layer(l, "ssm_dt.weight")), 0, E, R, dt_in, n);
        const std::vector<float> dt_b = load(w, layer(l, "ssm_dt.bias")), A = load(w, layer(l, "ssm_a")),
                                 Dk = load(w, layer(l, "ssm_d"));
        std::vector<double> state(E * N, 0.0);
        std::vector<float> y(n * E);
        for (int64_t t = 0; t < n; ++t)
            for (int64_t e = 0; e < E; ++e) {
                const double v = static_cast<double>(delta_raw[t * E + e]) + dt_b[e];
                const double delta = v > 20 ? v : std::log1p(std::exp(v));
                double acc = 0;
                for (int64_t s = 0; s < N; ++s) {
                    double& hs = state[e * N + s];
                    hs = std::exp(delta * A[e * N + s]) * hs + delta * Bm[t * N + s] * u[t * E + e];
                    acc += hs * Cm[t * N + s];
                }
                acc += static_cast<double>(Dk[e]) * u[t * E + e];
                y[t * E + e] = static_cast<float>(acc * silu(z[t * E + e]));
            }
        const std::vector<float> o = linear(load(w, layer(l, "ssm_out.weight")), 0, D, E, y, n);
        for (int64_t i = 0; i < n * D; ++i) x[i] += o[i];
    }
    rms_norm(h, x, load(w, "output_norm.weight"), n, D, c.norm_eps);
    return linear(c.tied_output ? emb : load(w, "output.weight"), 0, c.vocab, D, h, n);
}

}  // namespace vkml::reference
