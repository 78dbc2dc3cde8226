#version 450
// Row-wise RMSNorm and LayerNorm over the last dimension, f32, one workgroup per row.
//   rms:   y = x / sqrt(mean(x^2) + eps) * w
//   layer: y = (x - mean) / sqrt(var + eps) * w + b      (biased variance, as PyTorch)
// LayerNorm takes the mean first and then the squared deviations (two reads) rather than
// E[x^2] - E[x]^2, which cancels badly when |mean| >> std.
//!variant norm_sg -DVKML_SUBGROUP=1
//!variant norm_shared
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

#include "reduce.glsl"
#include "indexing.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };  // [cols]; x again when absent
layout(std430, binding = 2) readonly buffer B { float b[]; };  // [cols]; x again when absent
layout(std430, binding = 3) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
    uint rows;
    uint cols;
    uint mode;      // 0 rms, 1 layer
    uint has_w;
    uint has_b;
    float eps;
} p;

void main() {
    const uint row = linear_group_id();
    if (row >= p.rows) return;  // uniform across the workgroup
    const uint tid = gl_LocalInvocationID.x;
    const uint base = row * p.cols;
    const float inv_n = 1.0 / float(p.cols);

    float mean = 0.0;
    if (p.mode == 1u) {
        float a = 0.0;
        for (uint j = tid; j < p.cols; j += WG) a += x[base + j];
        mean = wg_sum(a) * inv_n;
    }
    float q = 0.0;
    for (uint j = tid; j < p.cols; j += WG) {
        const float d = x[base + j] - mean;
        q += d * d;
    }
    const float r = 1.0 / sqrt(wg_sum(q) * inv_n + p.eps);

    for (uint j = tid; j < p.cols; j += WG) {
        float v = (x[base + j] - mean) * r;
        if (p.has_w != 0u) v *= w[j];
        if (p.has_b != 0u) v += b[j];
        y[base + j] = v;
    }
}
