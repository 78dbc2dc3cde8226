// State-space model kernels: causal depthwise conv1d, Mamba selective scan (S6), S5.
// Equations and papers: docs/ssm_kernels.md.
//
// Every op records into a Stream and returns at once; results are ready after Stream::finish().
// Recurrent state tensors are read as the initial state and overwritten with the final state,
// so a prefill followed by steps equals one long prefill. Zero-fill a state to start afresh.
// All tensors are f32 and dense. Tensors larger than one storage-buffer binding are processed in
// ranges (blocks of whole sequences, or time ranges of one sequence handing the state over;
// docs/ssm_kernels.md); weights (A, w, S5's B and C, ...) must fit one binding (else Unsupported).
// hsm_ssd does not split: its x, y and [B|C|dt] must each fit one binding (else Unsupported).
#pragma once

#include <cstdint>

#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml::ops {

// Causal depthwise conv1d over time (Mamba's short convolution, width K <= 16):
//   y[b,t,d] = act(bias[d] + sum_k w[d,k] x[b, t-K+1+k, d]), act = SiLU if `silu`, else identity.
// x, y: [B, L, D]; w: [D, K]; bias: [D] or empty. state: [B, K-1, D] or empty; when given, it
// holds the K-1 inputs preceding x (zeros at the start) and is updated to the last K-1 inputs.
void causal_conv1d(Stream& s, const Tensor& x, const Tensor& w, const Tensor& bias,
                   const Tensor& y, const Tensor& state = {}, bool silu = false);
// One token per sequence: x, y [B, D]; state [B, K-1, D] required.
void causal_conv1d_step(Stream& s, const Tensor& x, const Tensor& w, const Tensor& bias,
                        const Tensor& y, const Tensor& state, bool silu = false);

// Mamba selective scan. Shapes for a prefill (for a step, drop L: x [B, D], B [B, N], ...):
//   x, delta, z: [B, L, D]; A: [D, N] (already -exp(A_log)); B, C: [B, L, N];
//   D (skip), delta_bias: [D]. D, z and delta_bias may be empty tensors.
struct SelectiveScanInputs {
    Tensor x, delta, A, B, C, D, z, delta_bias;
};
struct SelectiveScanOptions {
    bool delta_softplus = true;
    // Tokens per time chunk of the chunk-parallel scan; 0 picks one from the shape. On llvmpipe
    // (loop-iteration limit) chunks are capped at 50000 / (N + 4) tokens.
    int64_t chunk = 0;
};
// y: [B, L, D]; state: [B, D, N], initial state in, final state out. N <= 64.
void selective_scan(Stream& s, const SelectiveScanInputs& in, const Tensor& y, const Tensor& state,
                    const SelectiveScanOptions& opt = {});
// Decode step: x, delta, z [B, D]; B, C [B, N]; y [B, D]; state [B, D, N] updated in place.
void selective_scan_step(Stream& s, const SelectiveScanInputs& in, const Tensor& y,
                         const Tensor& state, const SelectiveScanOptions& opt = {});

// Mamba-2 SSD (state-space duality), chunked. Shapes for a prefill:
//   x [B, L, H, P]; dt [B, L, H] (raw; + dt_bias and softplus when asked); A [H] (negative);
//   B, C [B, L, G, N] with G dividing H (heads h*G/H.. share a group); D, dt_bias [H] or empty.
struct SsdInputs {
    Tensor x, dt, A, B, C, D, dt_bias;
};
struct SsdOptions {
    bool dt_softplus = true;
    // Tokens per chunk (the kernels' specialization constant); 0 picks 64, or less where shared
    // memory is small. Must be <= 128.
    int64_t chunk = 0;
};
// y: [B, L, H, P]; state: [B, H, P, N], initial state in, final state out. The gated RMSNorm
// that follows in a Mamba-2 block is a separate op.
void ssd(Stream& s, const SsdInputs& in, const Tensor& y, const Tensor& state, const SsdOptions& opt = {});
// Decode step: x [B, H, P], dt [B, H], B and C [B, G, N], y [B, H, P]; state updated in place.
void ssd_step(Stream& s, const SsdInputs& in, const Tensor& y, const Tensor& state, const SsdOptions& opt = {});

// EfficientViM HSM-SSD (hidden-state mixer), on tokens as rows: x [Bt, L = height*width, C].
//   [B | C | dt] = dwconv3x3(x w_bcdt^T)            w_bcdt [3N, C], dwconv weights dw [3N, 3, 3]
//   A = softmax over tokens of (dt + A_p)            A_p [N]
//   h = (A o B)^T x                                  [Bt, N, C]
//   [h | z] = h w_hz^T;  h = (h silu(z) + D h) w_out^T   w_hz [2C, C], D [C], w_out [C, C]
//   y = C h                                          [Bt, L, C]
// The 1x1 convolutions run on ops::matmul; the rest on the kernels in ssd.comp and conv1d.comp.
struct HsmSsdWeights {
    Tensor w_bcdt, dw, A_p, w_hz, D, w_out;
};
void hsm_ssd(Stream& s, const Tensor& x, int64_t height, int64_t width, const HsmSsdWeights& w,
             const Tensor& y);

// S5: diagonal complex SSM with P states (stored after conjugate symmetry) over H channels,
// discretized by zero-order hold. Complex tensors hold (re, im) pairs in their last dimension.
//   lambda [P, 2] (real parts < 0), log_step [P], B [P, H, 2], C [H, P, 2], D [H].
struct S5Weights {
    Tensor lambda, log_step, B, C, D;
};
// u, y: [Bt, L, H]; state: [Bt, P, 2] complex, initial state in, final state out.
void s5(Stream& s, const Tensor& u, const S5Weights& w, const Tensor& y, const Tensor& state);
// Decode step: u, y [Bt, H]; state [Bt, P, 2] updated in place.
void s5_step(Stream& s, const Tensor& u, const S5Weights& w, const Tensor& y, const Tensor& state);

}  // namespace vkml::ops
