#version 450
// Split-K attention, second pass: merges the per-slice partial outputs of attention_f16_split.
// Slice s holds, per row (query, head), its running max m_s, sum l_s and unnormalised output
// O_s; the result is sum_s exp(m_s - M) O_s / sum_s exp(m_s - M) l_s with M = max_s m_s.
// Slices that saw no visible key have m_s = -inf, l_s = 0, O_s = 0 and weigh nothing.
#extension GL_GOOGLE_include_directive : require
#include "indexing.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer PO { float part_o[]; };   // [splits, rows, D]
layout(std430, binding = 1) readonly buffer PML { float part_ml[]; }; // [splits, rows, 2]
layout(std430, binding = 2) writeonly buffer O { float o[]; };        // [rows, D]

layout(push_constant) uniform Params {
    uint rows;  // n_q * heads
    uint d;     // head_dim
    uint splits;
} p;

#define kNegInf uintBitsToFloat(0xFF800000u)

void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.rows * p.d) return;
    const uint row = i / p.d;
    float mx = kNegInf;
    for (uint s = 0u; s < p.splits; ++s) mx = max(mx, part_ml[(s * p.rows + row) * 2u]);
    float l = 0.0, acc = 0.0;
    for (uint s = 0u; s < p.splits; ++s) {
        const float m = part_ml[(s * p.rows + row) * 2u];
        if (m == kNegInf) continue;
        const float w = exp(m - mx);
        l += w * part_ml[(s * p.rows + row) * 2u + 1u];
        acc += w * part_o[s * p.rows * p.d + i];
    }
    o[i] = acc / l;
}
