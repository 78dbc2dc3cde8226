#version 450
// Causal depthwise conv1d over time (Mamba's short convolution, Gu & Dao 2023):
//   y[b,t,d] = act(bias[d] + sum_{k<K} w[d,k] * x[b, t-K+1+k, d])
// where inputs before t = 0 come from the rolling window `state` [B, K-1, D] (the K-1 inputs
// that preceded this call), or are zero without one. act is SiLU or identity.
// Variant conv1d_f32: one invocation per output element (parallel over batch, time, channel).
// Variant conv1d_state_f32: one invocation per (b, d) rewrites the window with the last K-1
// inputs of [state | x]; it reads every old entry before writing, so it updates in place.
// Variant dwconv3x3_f32: the 2-D depthwise 3x3 convolution (zero padding, stride 1, no bias)
// over an H x W token grid that EfficientViM's HSM-SSD applies before its state mixing.
//!variant conv1d_f32
//!variant conv1d_state_f32 -DSTATE_UPDATE=1
//!variant dwconv3x3_f32 -DDWCONV2D=1
#extension GL_GOOGLE_include_directive : require
#include "indexing.glsl"
#include "activations.glsl"

layout(local_size_x_id = 0) in;
#ifdef DWCONV2D
layout(std430, binding = 0) readonly buffer X { float x[]; };   // [B, H*W, Ch]
layout(std430, binding = 1) readonly buffer W { float w[]; };   // [Ch, 9]
layout(std430, binding = 2) writeonly buffer Y { float y[]; };  // [B, H*W, Ch]
layout(push_constant) uniform Params {
    uint batch;
    uint height;
    uint width;
    uint channels;
} p;
void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.batch * p.height * p.width * p.channels) return;
    const uint ch = i % p.channels;
    const uint pos = (i / p.channels) % (p.height * p.width);
    const uint b = i / (p.channels * p.height * p.width);
    const int r = int(pos / p.width), c = int(pos % p.width);
    float acc = 0.0;
    for (int dr = -1; dr <= 1; ++dr)
        for (int dc = -1; dc <= 1; ++dc) {
            const int rr = r + dr, cc = c + dc;
            if (rr < 0 || cc < 0 || rr >= int(p.height) || cc >= int(p.width)) continue;
            acc += w[ch * 9u + uint((dr + 1) * 3 + dc + 1)] *
                   x[((b * p.height + uint(rr)) * p.width + uint(cc)) * p.channels + ch];
        }
    y[i] = acc;
}
#else

layout(std430, binding = 0) readonly buffer X { float x[]; };
#ifdef STATE_UPDATE
layout(std430, binding = 1) buffer S { float state[]; };
#else
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) readonly buffer S { float state[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };
#endif

layout(push_constant) uniform Params {
    uint batch;
    uint len;    // L
    uint dim;    // D
    uint width;  // K
    uint has_bias;
    uint has_state;
    uint act_silu;
    // Ranges (ops/src/ssm_common.hpp): element shifts of the bound windows, and x_hist, the
    // rows of x bound before this range's first output row (the range's own history).
    uint x_shift;
    uint x_hist;
    uint s_shift;
    uint y_shift;
} p;

const uint kMaxWidth = 16;

void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    const uint hist = p.width - 1u;
#ifdef STATE_UPDATE
    if (i >= p.batch * p.dim) return;
    const uint d = i % p.dim, b = i / p.dim;
    // Sequence [state (K-1) | x (L)]; the new window is its last K-1 entries.
    float win[kMaxWidth];
    for (uint j = 0; j < hist; ++j) {
        const uint src = p.len + j;  // index into the concatenated sequence
        win[j] = src < hist ? state[p.s_shift + (b * hist + src) * p.dim + d]
                            : x[p.x_shift + (b * p.len + (src - hist)) * p.dim + d];
    }
    for (uint j = 0; j < hist; ++j) state[p.s_shift + (b * hist + j) * p.dim + d] = win[j];
#else
    if (i >= p.batch * p.len * p.dim) return;
    const uint d = i % p.dim;
    const uint t = (i / p.dim) % p.len;
    const uint b = i / (p.dim * p.len);
    float acc = p.has_bias != 0u ? bias[d] : 0.0;
    for (uint k = 0; k < p.width; ++k) {
        // Row of the input within the bound x window (which starts x_hist rows early).
        const int src = int(t) - int(hist) + int(k) + int(p.x_hist);
        float v = 0.0;
        if (src >= 0) v = x[p.x_shift + (b * p.len + uint(src)) * p.dim + d];
        else if (p.has_state != 0u) v = state[p.s_shift + (b * hist + uint(int(hist) + src)) * p.dim + d];
        acc += w[d * p.width + k] * v;
    }
    y[p.y_shift + i] = p.act_silu != 0u ? silu(acc) : acc;
#endif
}
#endif
