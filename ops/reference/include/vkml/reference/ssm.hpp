// CPU references of the state-space ops (plain sequential loops), for tests and benchmarks only.
// Shapes and semantics as in vkml/ops/ssm.hpp; empty vectors stand for absent optional inputs.
#pragma once

#include <cstdint>
#include <vector>

namespace vkml::reference {

// x [B, L, D], w [D, K], bias [D] or empty; state [B, K-1, D] (read, then updated) or null.
std::vector<float> causal_conv1d(const std::vector<float>& x, const std::vector<float>& w,
                                 const std::vector<float>& bias, std::vector<float>* state,
                                 int64_t batch, int64_t len, int64_t dim, int64_t width, bool silu);

struct SelectiveScanRef {
    std::vector<float> x, delta, A, B, C, D, z, delta_bias;
    int64_t batch = 1, len = 1, dim = 1, n = 1;
    bool delta_softplus = true;
};
// Returns y [B, L, D]; state [B, D, N] is the initial state in and the final state out.
std::vector<float> selective_scan(const SelectiveScanRef& in, std::vector<float>& state);

struct SsdRef {
    std::vector<float> x, dt, A, B, C, D, dt_bias;
    int64_t batch = 1, len = 1, heads = 1, hp = 1, n = 1, groups = 1;
    bool dt_softplus = true;
};
// Mamba-2 SSD as the plain recurrence: y [B, L, H, P]; state [B, H, P, N] in and out.
std::vector<float> ssd(const SsdRef& in, std::vector<float>& state);

// EfficientViM HSM-SSD as in vkml::ops::hsm_ssd: x [Bt, L = height*width, C] -> y [Bt, L, C].
// w_bcdt [3N, C], dw [3N, 3, 3], A_p [N], w_hz [2C, C], D [C], w_out [C, C].
std::vector<float> hsm_ssd(const std::vector<float>& x, int64_t batch, int64_t height, int64_t width,
                           int64_t channels, int64_t states, const std::vector<float>& w_bcdt,
                           const std::vector<float>& dw, const std::vector<float>& A_p,
                           const std::vector<float>& w_hz, const std::vector<float>& D,
                           const std::vector<float>& w_out);

// S5, sequential: u [Bt, L, H] -> y [Bt, L, H]; state [Bt, P, 2] in and out. Weights as in
// vkml::ops::S5Weights (lambda [P,2], log_step [P], B [P,H,2], C [H,P,2], D [H]).
std::vector<float> s5(const std::vector<float>& u, const std::vector<float>& lambda,
                      const std::vector<float>& log_step, const std::vector<float>& B,
                      const std::vector<float>& C, const std::vector<float>& D,
                      std::vector<float>& state, int64_t batch, int64_t len, int64_t hdim,
                      int64_t states);

}  // namespace vkml::reference
