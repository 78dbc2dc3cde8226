#include "vkml/reference/ssm.hpp"

#include <algorithm>
#include <cmath>
#include <complex>

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

std::vector<float> ssd(const SsdRef& in, std::vector<float>& state) {
    const int64_t B = in.batch, L = in.len, H = in.heads, P = in.hp, N = in.n, G = in.groups;
    std::vector<float> y(B * L * H * P);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h) {
            const int64_t g = h / (H / G);
            float* s = &state[(b * H + h) * P * N];
            for (int64_t t = 0; t < L; ++t) {
                float dt = in.dt[(b * L + t) * H + h] + (in.dt_bias.empty() ? 0.0f : in.dt_bias[h]);
                if (in.dt_softplus) dt = softplus(dt);
                const float decay = std::exp(dt * in.A[h]);
                const float* Bt = &in.B[((b * L + t) * G + g) * N];
                const float* Ct = &in.C[((b * L + t) * G + g) * N];
                for (int64_t p = 0; p < P; ++p) {
                    const float xv = in.x[((b * L + t) * H + h) * P + p];
                    float acc = 0.0f;
                    for (int64_t n = 0; n < N; ++n) {
                        s[p * N + n] = decay * s[p * N + n] + dt * xv * Bt[n];
                        acc += s[p * N + n] * Ct[n];
                    }
                    y[((b * L + t) * H + h) * P + p] = acc + (in.D.empty() ? 0.0f : in.D[h] * xv);
                }
            }
        }
    return y;
}

std::vector<float> hsm_ssd(const std::vector<float>& x, int64_t batch, int64_t height, int64_t width,
                           int64_t C, int64_t N, const std::vector<float>& w_bcdt,
                           const std::vector<float>& dw, const std::vector<float>& A_p,
                           const std::vector<float>& w_hz, const std::vector<float>& D,
                           const std::vector<float>& w_out) {
    const int64_t L = height * width, N3 = 3 * N;
    std::vector<float> y(batch * L * C);
    for (int64_t b = 0; b < batch; ++b) {
        const float* xb = &x[b * L * C];
        std::vector<double> proj(L * N3), bcdt(L * N3, 0.0);
        for (int64_t l = 0; l < L; ++l)
            for (int64_t o = 0; o < N3; ++o) {
                double acc = 0.0;
                for (int64_t c = 0; c < C; ++c) acc += static_cast<double>(w_bcdt[o * C + c]) * xb[l * C + c];
                proj[l * N3 + o] = acc;
            }
        for (int64_t r = 0; r < height; ++r)
            for (int64_t c = 0; c < width; ++c)
                for (int64_t o = 0; o < N3; ++o) {
                    double acc = 0.0;
                    for (int64_t dr = -1; dr <= 1; ++dr)
                        for (int64_t dc = -1; dc <= 1; ++dc) {
                            const int64_t rr = r + dr, cc = c + dc;
                            if (rr < 0 || cc < 0 || rr >= height || cc >= width) continue;
                            acc += dw[o * 9 + (dr + 1) * 3 + dc + 1] * proj[(rr * width + cc) * N3 + o];
                        }
                    bcdt[(r * width + c) * N3 + o] = acc;
                }
        // h[n, c] = sum_l softmax_l(dt + A_p)[n] B[l, n] x[l, c]
        std::vector<double> h(N * C, 0.0);
        for (int64_t n = 0; n < N; ++n) {
            double m = -1e300, sum = 0.0;
            for (int64_t l = 0; l < L; ++l) m = std::max(m, bcdt[l * N3 + 2 * N + n] + A_p[n]);
            for (int64_t l = 0; l < L; ++l) sum += std::exp(bcdt[l * N3 + 2 * N + n] + A_p[n] - m);
            for (int64_t l = 0; l < L; ++l) {
                const double wl = std::exp(bcdt[l * N3 + 2 * N + n] + A_p[n] - m) / sum * bcdt[l * N3 + n];
                for (int64_t c = 0; c < C; ++c) h[n * C + c] += wl * xb[l * C + c];
            }
        }
        std::vector<double> g(N * C), h2(N * C);
        for (int64_t n = 0; n < N; ++n)
            for (int64_t c = 0; c < C; ++c) {
                double hv = 0.0, zv = 0.0;
                for (int64_t k = 0; k < C; ++k) {
                    hv += static_cast<double>(w_hz[c * C + k]) * h[n * C + k];
                    zv += static_cast<double>(w_hz[(C + c) * C + k]) * h[n * C + k];
                }
                g[n * C + c] = hv * zv / (1.0 + std::exp(-zv)) + D[c] * hv;
            }
        for (int64_t n = 0; n < N; ++n)
            for (int64_t c = 0; c < C; ++c) {
                double acc = 0.0;
                for (int64_t k = 0; k < C; ++k) acc += static_cast<double>(w_out[c * C + k]) * g[n * C + k];
                h2[n * C + c] = acc;
            }
        for (int64_t l = 0; l < L; ++l)
            for (int64_t c = 0; c < C; ++c) {
                double acc = 0.0;
                for (int64_t n = 0; n < N; ++n) acc += bcdt[l * N3 + N + n] * h2[n * C + c];
                y[(b * L + l) * C + c] = static_cast<float>(acc);
            }
    }
    return y;
}

std::vector<float> s5(const std::vector<float>& u, const std::vector<float>& lambda,
                      const std::vector<float>& log_step, const std::vector<float>& B,
                      const std::vector<float>& C, const std::vector<float>& D,
                      std::vector<float>& state, int64_t batch, int64_t len, int64_t H, int64_t P) {
    using cd = std::complex<double>;
    std::vector<cd> lam_bar(P), coef(P);
    for (int64_t p = 0; p < P; ++p) {
        const cd lam(lambda[2 * p], lambda[2 * p + 1]);
        lam_bar[p] = std::exp(lam * std::exp(static_cast<double>(log_step[p])));
        coef[p] = (lam_bar[p] - 1.0) / lam;  // zero-order hold
    }
    std::vector<float> y(batch * len * H);
    std::vector<cd> x(P);
    for (int64_t b = 0; b < batch; ++b) {
        for (int64_t p = 0; p < P; ++p) x[p] = cd(state[(b * P + p) * 2], state[(b * P + p) * 2 + 1]);
        for (int64_t t = 0; t < len; ++t) {
            const float* ut = &u[(b * len + t) * H];
            for (int64_t p = 0; p < P; ++p) {
                cd bu = 0.0;
                for (int64_t h = 0; h < H; ++h) bu += cd(B[(p * H + h) * 2], B[(p * H + h) * 2 + 1]) * static_cast<double>(ut[h]);
                x[p] = lam_bar[p] * x[p] + coef[p] * bu;
            }
            for (int64_t h = 0; h < H; ++h) {
                double acc = 0.0;
                for (int64_t p = 0; p < P; ++p) acc += (cd(C[(h * P + p) * 2], C[(h * P + p) * 2 + 1]) * x[p]).real();
                y[(b * len + t) * H + h] = static_cast<float>(2.0 * acc + D[h] * static_cast<double>(ut[h]));
            }
        }
        for (int64_t p = 0; p < P; ++p) {
            state[(b * P + p) * 2] = static_cast<float>(x[p].real());
            state[(b * P + p) * 2 + 1] = static_cast<float>(x[p].imag());
        }
    }
    return y;
}

}  // namespace vkml::reference
