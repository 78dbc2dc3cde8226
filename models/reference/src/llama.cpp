#include "vkml/reference/llama.hpp"

#include <cmath>

namespace vkml::reference {

using models::LlamaConfig;
using models::WeightSource;

LlamaF32 LlamaF32::load(const WeightSource& w, const LlamaConfig& c) {
    using models::llama_names::layer;
    LlamaF32 m;
    m.config = c;
    m.tok_embd = models::weight_to_floats(w.require("token_embd.weight"));
    m.output_norm = models::weight_to_floats(w.require("output_norm.weight"));
    if (!c.tied_output) m.output = models::weight_to_floats(w.require("output.weight"));
    for (int64_t i = 0; i < c.layers; ++i) {
        LlamaLayerF32 l;
        l.attn_norm = models::weight_to_floats(w.require(layer(i, "attn_norm.weight")));
        l.wq = models::weight_to_floats(w.require(layer(i, "attn_q.weight")));
        l.wk = models::weight_to_floats(w.require(layer(i, "attn_k.weight")));
        l.wv = models::weight_to_floats(w.require(layer(i, "attn_v.weight")));
        l.wo = models::weight_to_floats(w.require(layer(i, "attn_output.weight")));
        l.ffn_norm = models::weight_to_floats(w.require(layer(i, "ffn_norm.weight")));
        l.w_gate = models::weight_to_floats(w.require(layer(i, "ffn_gate.weight")));
        l.w_up = models::weight_to_floats(w.require(layer(i, "ffn_up.weight")));
        l.w_down = models::weight_to_floats(w.require(layer(i, "ffn_down.weight")));
        m.layers.push_back(std::move(l));
    }
    return m;
}

namespace {

void rms_norm(const float* x, const std::vector<float>& w, float eps, int64_t d, float* y) {
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(x[i]) * x[i];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
    for (int64_t i = 0; i < d; ++i) y[i] = static_cast<float>(x[i] * inv * w[i]);
}

// y[m] = W[m, k] x[k]
void matvec(const std::vector<float>& w, const float* x, int64_t m, int64_t k, float* y) {
    for (int64_t r = 0; r < m; ++r) {
        double acc = 0;
        const float* row = w.data() + r * k;
        for (int64_t i = 0; i < k; ++i) acc += static_cast<double>(row[i]) * x[i];
        y[r] = static_cast<float>(acc);
    }
}

void rope(float* v, int64_t heads, int64_t head_dim, int64_t rope_dims, int64_t pos, float theta,
          ops::RopeMode style) {
    for (int64_t h = 0; h < heads; ++h) {
        float* x = v + h * head_dim;
        for (int64_t i = 0; i < rope_dims / 2; ++i) {
            const double freq = std::pow(static_cast<double>(theta), -2.0 * static_cast<double>(i) / static_cast<double>(rope_dims));
            const double a = static_cast<double>(pos) * freq, c = std::cos(a), s = std::sin(a);
            const int64_t i0 = style == ops::RopeMode::Adjacent ? 2 * i : i;
            const int64_t i1 = style == ops::RopeMode::Adjacent ? 2 * i + 1 : i + rope_dims / 2;
            const double x0 = x[i0], x1 = x[i1];
            x[i0] = static_cast<float>(x0 * c - x1 * s);
            x[i1] = static_cast<float>(x0 * s + x1 * c);
        }
    }
}

}  // namespace

std::vector<float> llama_forward(const LlamaF32& m, const std::vector<int32_t>& tokens) {
    const LlamaConfig& c = m.config;
    const int64_t n = static_cast<int64_t>(tokens.size()), d = c.dim, hd = c.head_dim;
    const int64_t kvd = c.kv_heads * hd, group = c.heads / c.kv_heads;
    std::vector<float> x(n * d), h(d), q(d), att(d), o(d), g(c.ffn), u(c.ffn), logits(n * c.vocab);
    std::vector<std::vector<float>> kc(c.layers, std::vector<float>(n * kvd)), vc = kc;
    for (int64_t t = 0; t < n; ++t)
        std::copy(m.tok_embd.begin() + tokens[t] * d, m.tok_embd.begin() + (tokens[t] + 1) * d, x.begin() + t * d);
    for (int64_t t = 0; t < n; ++t) {
        float* xt = x.data() + t * d;
        for (int64_t l = 0; l < c.layers; ++l) {
            const LlamaLayerF32& L = m.layers[l];
            rms_norm(xt, L.attn_norm, c.norm_eps, d, h.data());
            matvec(L.wq, h.data(), d, d, q.data());
            matvec(L.wk, h.data(), kvd, d, kc[l].data() + t * kvd);
            matvec(L.wv, h.data(), kvd, d, vc[l].data() + t * kvd);
            rope(q.data(), c.heads, hd, c.rope_dims, t, c.rope_theta, c.rope);
            rope(kc[l].data() + t * kvd, c.kv_heads, hd, c.rope_dims, t, c.rope_theta, c.rope);
            for (int64_t head = 0; head < c.heads; ++head) {
                const int64_t kvh = head / group;
                std::vector<double> s(t + 1);
                double mx = -INFINITY;
                for (int64_t j = 0; j <= t; ++j) {
                    double acc = 0;
                    for (int64_t i = 0; i < hd; ++i) acc += static_cast<double>(q[head * hd + i]) * kc[l][j * kvd + kvh * hd + i];
                    s[j] = acc / std::sqrt(static_cast<double>(hd));
                    mx = std::max(mx, s[j]);
                }
                double total = 0;
                for (double& v : s) total += (v = std::exp(v - mx));
                for (int64_t i = 0; i < hd; ++i) {
                    double acc = 0;
                    for (int64_t j = 0; j <= t; ++j) acc += s[j] * vc[l][j * kvd + kvh * hd + i];
                    att[head * hd + i] = static_cast<float>(acc / total);
                }
            }
            matvec(L.wo, att.data(), d, d, o.data());
            for (int64_t i = 0; i < d; ++i) xt[i] += o[i];
            rms_norm(xt, L.ffn_norm, c.norm_eps, d, h.data());
            matvec(L.w_gate, h.data(), c.ffn, d, g.data());
            matvec(L.w_up, h.data(), c.ffn, d, u.data());
            for (int64_t i = 0; i < c.ffn; ++i) g[i] = static_cast<float>(g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i]);
            matvec(L.w_down, g.data(), d, c.ffn, o.data());
            for (int64_t i = 0; i < d; ++i) xt[i] += o[i];
        }
        rms_norm(xt, m.output_norm, c.norm_eps, d, h.data());
        matvec(c.tied_output ? m.tok_embd : m.output, h.data(), c.vocab, d, logits.data() + t * c.vocab);
    }
    return logits;
}

}  // namespace vkml::reference
