#version 450
// Row-wise RMSNorm and LayerNorm over the last dimension, f32, one workgroup per row.
//   rms:   y = x / sqrt(mean(x^2) + eps) * w
//   layer: y = (x - mean) / sqrt(var + eps) * w + b      (biased variance, as PyTorch)
// LayerNorm takes the mean first and then the squared deviations (two reads) rather than
// E[x^2] - E[x]^2, which cancels badly when |mean| >> std.
//
// Rows longer than one binding (maxStorageBufferRange) take the split-row kernels, one dispatch
// per window of whole segments of one row: norm_part_* writes each segment's (count, mean,
// sum of squared deviations from it) (rms: mean 0), and norm_finish_* merges the row's partials
// (exactly: M2 = sum(M2_s + n_s (mean_s - mean)^2)) and normalizes its segment. x, w, b and y
// are bound from the window's first column col0.
//!variant norm_sg -DVKML_SUBGROUP=1
//!variant norm_shared
//!variant norm_part_sg -DVKML_SUBGROUP=1 -DSTAGE=1
//!variant norm_part_shared -DSTAGE=1
//!variant norm_finish_sg -DVKML_SUBGROUP=1 -DSTAGE=2
//!variant norm_finish_shared -DSTAGE=2
#extension GL_GOOGLE_include_directive : require

#ifndef STAGE
#define STAGE 0
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

#include "reduce.glsl"
#include "indexing.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };
#if STAGE == 1
layout(std430, binding = 1) writeonly buffer P { float part[]; };  // [segs, 3]
#else
layout(std430, binding = 1) readonly buffer W { float w[]; };  // [cols]; x again when absent
layout(std430, binding = 2) readonly buffer B { float b[]; };  // [cols]; x again when absent
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
#if STAGE == 2
layout(std430, binding = 4) readonly buffer P { float part[]; };
#endif
#endif

layout(push_constant) uniform Params {
    uint rows;
    uint cols;
    uint mode;      // 0 rms, 1 layer
    uint has_w;
    uint has_b;
    float eps;
    // Split-row kernels only: segments of one row, element offsets of the window in each
    // binding (x, w, b, y: of column col0), and the segments of this dispatch.
    uint segs, seg_cols, col0, seg_base;
    uint x_off, w_off, b_off, y_off, part_off;
} p;

#if STAGE == 0
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
#else
void main() {
    const uint g = p.seg_base + linear_group_id();
    const uint tid = gl_LocalInvocationID.x;
    const uint j0 = g * p.seg_cols, j1 = min(p.cols, j0 + p.seg_cols);
    const uint xb = p.x_off - p.col0;  // x[xb + j] is column j (wrap-around intended: j >= col0)
#if STAGE == 1
    const float n = float(j1 - j0);
    float mean = 0.0;
    if (p.mode == 1u) {
        float a = 0.0;
        for (uint j = j0 + tid; j < j1; j += WG) a += x[xb + j];
        mean = wg_sum(a) / n;
    }
    float q = 0.0;
    for (uint j = j0 + tid; j < j1; j += WG) {
        const float d = x[xb + j] - mean;
        q += d * d;
    }
    q = wg_sum(q);
    if (tid == 0u) {
        part[p.part_off + 3u * g] = n;
        part[p.part_off + 3u * g + 1u] = mean;
        part[p.part_off + 3u * g + 2u] = q;
    }
#else
    // Every invocation merges all partials in the same order: identical results, no reduction.
    const float inv_n = 1.0 / float(p.cols);
    float mean = 0.0;
    if (p.mode == 1u) {
        for (uint i = 0u; i < p.segs; ++i) mean += part[p.part_off + 3u * i] * part[p.part_off + 3u * i + 1u];
        mean *= inv_n;
    }
    float q = 0.0;
    for (uint i = 0u; i < p.segs; ++i) {
        const uint o = p.part_off + 3u * i;
        const float d = part[o + 1u] - mean;
        q += part[o + 2u] + part[o] * d * d;
    }
    const float r = 1.0 / sqrt(q * inv_n + p.eps);
    for (uint j = j0 + tid; j < j1; j += WG) {
        float v = (x[xb + j] - mean) * r;
        if (p.has_w != 0u) v *= w[p.w_off - p.col0 + j];
        if (p.has_b != 0u) v += b[p.b_off - p.col0 + j];
        y[p.y_off - p.col0 + j] = v;
    }
#endif
}
#endif
