#include "vkml/reference/ssm.hpp"

#include <cmath>

namespace vkml::reference {

namespace {
float silu(float v) { return v / (1.0f + std::exp(-v)); }
float softplus(float v) { return v > 20.0f ? v : std::log1p(std::exp(v)); }
}  // namespace

std::vector<float> causal_conv1d(const std::vector<float>& x, const std::vector<float>& w,
                                 const std::vector<float>& bias, std::vector<float>* state,
                                 int64_t batch, int64_t len, int64_t dim, int64_t width, bool silu_act) {
    const int64_t hist = width - 1;
    std::vector<float> y(x.size());
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t d = 0; d < dim; ++d) {
            // The channel's whole input: history then x.
            std::vector<float> seq(hist + len, 0.0f);
            if (state)
                for (int64_t j = 0; j < hist; ++j) seq[j] = (*state)[(b * hist + j) * dim + d];
            for (int64_t t = 0; t < len; ++t) seq[hist + t] = x[(b * len + t) * dim + d];
            for (int64_t t = 0; t < len; ++t) {
                float acc = bias.empty() ? 0.0f : bias[d];
                for (int64_t k = 0; k < width; ++k) acc += w[d * width + k] * seq[t + k];
                y[(b * len + t) * dim + d] = silu_act ? silu(acc) : acc;
            }
            if (state)
                for (int64_t j = 0; j < hist; ++j) (*state)[(b * hist + j) * dim + d] = seq[len + j];
        }
    return y;
}

std::vector<float> selective_scan(const SelectiveScanRef& in, std::vector<float>& state) {
    const int64_t B = in.batch, L = in.len, D = in.dim, N = in.n;
    std::vector<float> y(B * L * D);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t d = 0; d < D; ++d) {
            float* h = &state[(b * D + d) * N];
            for (int64_t t = 0; t < L; ++t) {
                const int64_t idx = (b * L + t) * D + d;
                float dt = in.delta[idx] + (in.delta_bias.empty() ? 0.0f : in.delta_bias[d]);
                if (in.delta_softplus) dt = softplus(dt);
                const float xv = in.x[idx];
                float acc = 0.0f;
                for (int64_t n = 0; n < N; ++n) {
                    h[n] = std::exp(dt * in.A[d * N + n]) * h[n] + dt * in.B[(b * L + t) * N + n] * xv;
                    acc += in.C[(b * L + t) * N + n] * h[n];
                }
                float out = acc + (in.D.empty() ? 0.0f : in.D[d] * xv);
                if (!in.z.empty()) out *= silu(in.z[idx]);
                y[idx] = out;
            }
        }
    return y;
}

}  // namespace vkml::reference
