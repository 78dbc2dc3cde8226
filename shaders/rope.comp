#version 450
// Rotary position embedding (RoPE) on f32 [tokens, heads, head_dim], one invocation per pair.
//
// Pair i of a head rotates by angle pos * freq_scale * theta^(-2i/rot_dims), for i < rot_dims/2:
//   adjacent   (mode 0, llama.cpp LLAMA "normal"): elements (2i, 2i + 1)
//   half split (mode 1, NeoX / Hugging Face):      elements (i, i + rot_dims/2)
// Dimensions [rot_dims, head_dim) are copied unchanged. y may alias x (each invocation reads its
// two elements before writing them).
//!variant rope_positions -DVKML_POSITIONS=1
//!variant rope_consecutive
#extension GL_GOOGLE_include_directive : require
#include "indexing.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
#ifdef VKML_POSITIONS
layout(std430, binding = 2) readonly buffer P { uint positions[]; };  // [tokens]
#endif

layout(push_constant) uniform Params {
    uint rows;        // tokens * heads
    uint heads;
    uint head_dim;
    uint rot_dims;    // even, <= head_dim
    uint mode;        // 0 adjacent, 1 half split
    uint start_pos;   // position of token 0 (consecutive variant)
    float log2_theta; // log2(theta base)
    float freq_scale; // linear position scaling (1 = none)
} p;

const float kTwoPi = 6.28318530717958647692;

void main() {
    const uint half_dim = p.head_dim / 2u;
    const uint idx = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (idx >= p.rows * half_dim) return;
    const uint row = idx / half_dim;
    const uint i = idx - row * half_dim;
    const uint base = row * p.head_dim;
    const uint half_rot = p.rot_dims / 2u;

    uint a, b;
    if (i < half_rot) {
        if (p.mode == 0u) { a = 2u * i; b = a + 1u; }
        else { a = i; b = i + half_rot; }
    } else {
        a = p.rot_dims + 2u * (i - half_rot);
        b = a + 1u;
    }
    const float x0 = x[base + a], x1 = x[base + b];
    if (i >= half_rot) {
        y[base + a] = x0;
        y[base + b] = x1;
        return;
    }
    const uint token = row / p.heads;
#ifdef VKML_POSITIONS
    const float pos = float(positions[token]);
#else
    const float pos = float(p.start_pos + token);
#endif
    const float freq = exp2(-p.log2_theta * float(2u * i) / float(p.rot_dims));
    float ang = pos * p.freq_scale * freq;
    // Reduce to [-pi, pi]: GPU sin/cos lose accuracy on large arguments.
    ang -= kTwoPi * round(ang / kTwoPi);
    const float c = cos(ang), s = sin(ang);
    y[base + a] = x0 * c - x1 * s;
    y[base + b] = x0 * s + x1 * c;
}
