#include "vkml/reference/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vkml::reference {

std::vector<float> rope(const std::vector<float>& x, int64_t heads, int64_t head_dim,
                        const std::vector<uint32_t>& positions, const ops::RopeOptions& o) {
    std::vector<float> y = x;
    const int64_t rot = o.rot_dims == 0 ? head_dim : o.rot_dims;
    const int64_t tokens = static_cast<int64_t>(positions.size());
    for (int64_t t = 0; t < tokens; ++t) {
        for (int64_t h = 0; h < heads; ++h) {
            const int64_t base = (t * heads + h) * head_dim;
            for (int64_t i = 0; i < rot / 2; ++i) {
                const double freq = std::pow(static_cast<double>(o.theta), -2.0 * static_cast<double>(i) / static_cast<double>(rot));
                const double ang = static_cast<double>(positions[static_cast<size_t>(t)]) * o.freq_scale * freq;
                const int64_t a = o.mode == ops::RopeMode::Adjacent ? 2 * i : i;
                const int64_t b = o.mode == ops::RopeMode::Adjacent ? 2 * i + 1 : i + rot / 2;
                const double x0 = x[static_cast<size_t>(base + a)], x1 = x[static_cast<size_t>(base + b)];
                y[static_cast<size_t>(base + a)] = static_cast<float>(x0 * std::cos(ang) - x1 * std::sin(ang));
                y[static_cast<size_t>(base + b)] = static_cast<float>(x0 * std::sin(ang) + x1 * std::cos(ang));
            }
        }
    }
    return y;
}

std::vector<float> attention(const std::vector<float>& q, const std::vector<float>& k,
                             const std::vector<float>& v, int64_t n_q, int64_t heads,
                             int64_t kv_heads, int64_t head_dim, int64_t kv_len,
                             const ops::AttentionOptions& o) {
    const int64_t group = heads / kv_heads;
    const double scale = o.scale != 0.0f ? o.scale : 1.0 / std::sqrt(static_cast<double>(head_dim));
    std::vector<float> out(static_cast<size_t>(n_q * heads * head_dim));
    std::vector<double> s(static_cast<size_t>(kv_len));
    for (int64_t t = 0; t < n_q; ++t) {
        const int64_t pos = kv_len - n_q + t;  // 0-based position of the query
        const int64_t visible = o.causal ? pos + 1 : kv_len;
        double f = scale;
        if (o.n_train > 0 && pos + 1 > o.n_train)
            f *= std::log(static_cast<double>(pos + 1)) / std::log(static_cast<double>(o.n_train));
        for (int64_t h = 0; h < heads; ++h) {
            const int64_t c = h / group;
            const float* qr = &q[static_cast<size_t>((t * heads + h) * head_dim)];
            double mx = -std::numeric_limits<double>::infinity();
            for (int64_t j = 0; j < visible; ++j) {
                const float* kr = &k[static_cast<size_t>((j * kv_heads + c) * head_dim)];
                double dot = 0;
                for (int64_t d = 0; d < head_dim; ++d) dot += static_cast<double>(qr[d]) * kr[d];
                s[static_cast<size_t>(j)] = f * dot;
                mx = std::max(mx, s[static_cast<size_t>(j)]);
            }
            double sum = 0;
            for (int64_t j = 0; j < visible; ++j) sum += (s[static_cast<size_t>(j)] = std::exp(s[static_cast<size_t>(j)] - mx));
            for (int64_t d = 0; d < head_dim; ++d) {
                double acc = 0;
                for (int64_t j = 0; j < visible; ++j)
                    acc += s[static_cast<size_t>(j)] * v[static_cast<size_t>((j * kv_heads + c) * head_dim + d)];
                out[static_cast<size_t>((t * heads + h) * head_dim + d)] = static_cast<float>(acc / sum);
            }
        }
    }
    return out;
}

}  // namespace vkml::reference
