#version 450
// Row-wise softmax, log-softmax and entropy of softmax(scale * x) over the last dimension, f32.
// One workgroup per row; rows of any length (the workgroup loops over the row).
//
// Pass 1 keeps, per invocation, an online (running-max) sum of exp(z - m) and, for the entropy,
// sum exp(z - m) * (z - m); the workgroup then rescales the partials to the row max. Pass 2
// re-reads x and writes y. Two reads and one write per element, numerically stable.
//!variant softmax_sg -DVKML_SUBGROUP=1
//!variant softmax_shared
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

#include "reduce.glsl"
#include "indexing.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };  // [rows, cols], or [rows] for entropy

layout(push_constant) uniform Params {
    uint rows;      // rows in this dispatch
    uint cols;
    uint row_base;  // global index of this dispatch's first row (for the causal query index)
    uint q_dim;     // dim(-2): query index = global row % q_dim
    uint mode;      // 0 softmax, 1 log-softmax, 2 entropy
    uint causal;    // 0 or 1
    uint offset;    // causal offset (>= 0), clamped on the host
    float scale;
} p;

#define kNegInf uintBitsToFloat(0xFF800000u)

void main() {
    const uint row = linear_group_id();
    if (row >= p.rows) return;  // uniform across the workgroup
    const uint tid = gl_LocalInvocationID.x;
    const uint base = row * p.cols;

    // Columns [0, n) take part; the rest are masked (probability 0).
    uint n = p.cols;
    if (p.causal != 0u) {
        const uint i = (p.row_base + row) % p.q_dim;
        n = min(p.cols, i + p.offset + 1u);  // host keeps i + offset + 1 within 32 bits
    }

    float m = kNegInf, s = 0.0, t = 0.0;
    for (uint j = tid; j < n; j += WG) {
        const float z = p.scale * x[base + j];
        if (z == kNegInf) continue;  // contributes nothing (avoids -inf - -inf)
        if (z > m) {
            const float d = m - z;  // <= 0; -inf while nothing was seen
            const float c = exp(d);
            t = s > 0.0 ? c * (t + d * s) : 0.0;
            s = c * s + 1.0;
            m = z;
        } else {
            const float e = exp(z - m);
            s += e;
            t += e * (z - m);
        }
    }

    const float mx = wg_max(m);
    const float f = s > 0.0 ? exp(m - mx) : 0.0;
    const float sum = wg_sum(s * f);

    if (p.mode == 2u) {
        const float tt = wg_sum(s > 0.0 ? f * (t + (m - mx) * s) : 0.0);
        // H = -sum p log p = log S - (sum e^(z-M) (z-M)) / S
        if (tid == 0u) y[row] = log(sum) - tt / sum;
        return;
    }

    if (p.mode == 1u) {
        const float ls = log(sum);
        for (uint j = tid; j < p.cols; j += WG)
            y[base + j] = j < n ? (p.scale * x[base + j] - mx) - ls : kNegInf;
    } else {
        const float inv = 1.0 / sum;
        for (uint j = tid; j < p.cols; j += WG)
            y[base + j] = j < n ? exp(p.scale * x[base + j] - mx) * inv : 0.0;
    }
}
