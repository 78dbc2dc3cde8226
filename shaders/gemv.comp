#version 450
// Matrix-vector product for few activation rows (n <= NC, the decode hot loop):
//   y[c, row] = sum_i x[c, i] * w[row, i]   for c < n, row < m.
// Each workgroup takes ROWS rows of W; each row is read once and dotted with all n rows of X at
// once, so W (the big operand) streams from memory exactly once. Loads are vec4 (f16vec4 for f16
// weights) when k and the binding offsets allow, scalar otherwise. The partial sums of a row are
// reduced with subgroupAdd (the _subgroup variants, one subgroup per row) or through shared
// memory (the plain variants, ROWS rows of local_size/ROWS threads each, a power of two).
//!variant gemv_f32
//!variant gemv_f16 -DW_F16=1
//!variant gemv_f32_subgroup -DSUBGROUP=1
//!variant gemv_f16_subgroup -DW_F16=1 -DSUBGROUP=1
#extension GL_GOOGLE_include_directive : require
#if W_F16
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif
#if SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#include "indexing.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 4;  // rows of W per workgroup
layout(constant_id = 2) const uint NC = 8;    // most rows of X per dispatch (accumulators)

// Vector arrays serve both paths: a scalar element is one component, w4[i >> 2][i & 3].
#if W_F16
layout(std430, binding = 0) readonly buffer W { f16vec4 w4[]; };
#else
layout(std430, binding = 0) readonly buffer W { vec4 w4[]; };
#endif
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 2) buffer Y { float y[]; };  // read only when p.accumulate != 0

// Element offsets inside the bindings (ops split large tensors and bind aligned ranges).
layout(push_constant) uniform Params {
    uint m, n, k;
    uint w_off, x_off, y_off;
    uint ldy;  // elements between rows of Y
    uint accumulate;  // 1: y += the products (a row longer than one binding, summed in chunks)
} p;

float w_at(uint i) { return float(w4[i >> 2][i & 3u]); }
float x_at(uint i) { return x4[i >> 2][i & 3u]; }

// Partial dot products of `row` with every X row, this thread's share (lanes lane, lane+stride..).
void partial_dots(uint row, uint lane, uint stride, inout float acc[NC]) {
    const uint wb = p.w_off + row * p.k;
    if (((p.k | p.w_off | p.x_off) & 3u) == 0u) {
        const uint k4 = p.k >> 2, w4b = wb >> 2, x4b = p.x_off >> 2;
        for (uint i = lane; i < k4; i += stride) {
            const vec4 wv = vec4(w4[w4b + i]);
            for (uint c = 0; c < NC; ++c)
                if (c < p.n) acc[c] += dot(wv, x4[x4b + c * k4 + i]);
        }
    } else {
        for (uint i = lane; i < p.k; i += stride) {
            const float wv = w_at(wb + i);
            for (uint c = 0; c < NC; ++c)
                if (c < p.n) acc[c] += wv * x_at(p.x_off + c * p.k + i);
        }
    }
}

#if SUBGROUP
void main() {
    const uint row0 = linear_group_id() * ROWS;
    for (uint r = gl_SubgroupID; r < ROWS; r += gl_NumSubgroups) {
        const uint row = row0 + r;
        if (row >= p.m) break;  // uniform in the subgroup
        float acc[NC];
        for (uint c = 0; c < NC; ++c) acc[c] = 0.0;
        partial_dots(row, gl_SubgroupInvocationID, gl_SubgroupSize, acc);
        for (uint c = 0; c < NC; ++c) {
            if (c >= p.n) break;
            const float s = subgroupAdd(acc[c]);
            if (gl_SubgroupInvocationID == 0u) {
                const uint o = p.y_off + c * p.ldy + row;
                y[o] = p.accumulate != 0u ? y[o] + s : s;
            }
        }
    }
}
#else
shared float red[gl_WorkGroupSize.x * NC];

void main() {
    const uint tpr = gl_WorkGroupSize.x / ROWS;  // threads per row
    const uint tid = gl_LocalInvocationID.x;
    const uint lane = tid % tpr;
    const uint row = linear_group_id() * ROWS + tid / tpr;
    float acc[NC];
    for (uint c = 0; c < NC; ++c) acc[c] = 0.0;
    if (row < p.m) partial_dots(row, lane, tpr, acc);
    for (uint c = 0; c < NC; ++c) red[tid * NC + c] = acc[c];
    for (uint s = tpr / 2; s > 0; s >>= 1) {
        barrier();
        if (lane < s)
            for (uint c = 0; c < NC; ++c) red[tid * NC + c] += red[(tid + s) * NC + c];
    }
    if (lane == 0u && row < p.m)
        for (uint c = 0; c < NC; ++c)
            if (c < p.n) {
                const uint o = p.y_off + c * p.ldy + row;
                y[o] = p.accumulate != 0u ? y[o] + red[tid * NC + c] : red[tid * NC + c];
            }
}
#endif
