#version 450
// Matrix-vector product with block-quantized weights (decode, n <= NC rows of X):
//   y[c, row] = sum_i x[c, i] * dequant(w)[row, i]
// W streams from memory once: each row is dotted with all n rows of X at once. A workgroup
// takes ROWS rows; the threads of a row walk its blocks (one block of q8_0/q4_0, or one 16-weight
// slice of a q6_k super-block, per step, so neighbouring lanes read neighbouring bytes) and the
// partial sums are reduced with subgroupAdd (_subgroup variants, one subgroup per row) or a
// shared-memory tree (plain variants, ROWS rows of WG / ROWS threads, a power of two).
//
// The _rowwise variants (CPU devices) give each invocation whole rows instead: every lane reads
// the same X element at the same time, which a SIMD-on-CPU driver (llvmpipe) turns into one
// scalar load broadcast to all lanes, instead of a gather per lane; no reduction is needed.
//
// The _dot variants take X quantized to 8-bit blocks of 32 (quantize_act_q8: xq words, xd
// scales) and multiply 4 x 8-bit packed integers at a time (OpSDot, SPV_KHR_integer_dot_product);
// the op picks them when the device reports the packed signed dot product as accelerated.
//!variant gemv_q8_0 -DQ8_0=1
//!variant gemv_q4_0 -DQ4_0=1
//!variant gemv_q6_k -DQ6_K=1
//!variant gemv_q8_0_subgroup -DQ8_0=1 -DSUBGROUP=1
//!variant gemv_q4_0_subgroup -DQ4_0=1 -DSUBGROUP=1
//!variant gemv_q6_k_subgroup -DQ6_K=1 -DSUBGROUP=1
//!variant gemv_q8_0_dot -DQ8_0=1 -DDOT=1
//!variant gemv_q4_0_dot -DQ4_0=1 -DDOT=1
//!variant gemv_q6_k_dot -DQ6_K=1 -DDOT=1
//!variant gemv_q8_0_rowwise -DQ8_0=1 -DROWWISE=1
//!variant gemv_q4_0_rowwise -DQ4_0=1 -DROWWISE=1
//!variant gemv_q6_k_rowwise -DQ6_K=1 -DROWWISE=1
//!variant gemv_q8_0_dot_rowwise -DQ8_0=1 -DDOT=1 -DROWWISE=1
//!variant gemv_q4_0_dot_rowwise -DQ4_0=1 -DDOT=1 -DROWWISE=1
//!variant gemv_q6_k_dot_rowwise -DQ6_K=1 -DDOT=1 -DROWWISE=1
//!variant gemv_q8_0_dot_subgroup -DQ8_0=1 -DDOT=1 -DSUBGROUP=1
//!variant gemv_q4_0_dot_subgroup -DQ4_0=1 -DDOT=1 -DSUBGROUP=1
//!variant gemv_q6_k_dot_subgroup -DQ6_K=1 -DDOT=1 -DSUBGROUP=1
#extension GL_GOOGLE_include_directive : require
#if SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#if DOT
#extension GL_EXT_spirv_intrinsics : require
// OpSDot (4450) on two 32-bit words holding 4 signed bytes each (PackedVectorFormat4x8Bit = 0).
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4x8(uint a, uint b, spirv_literal int format);
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 4;  // rows of W per workgroup
layout(constant_id = 2) const uint NC = 8;    // most rows of X per dispatch (accumulators)
layout(constant_id = 3) const uint RPT = 1;   // rows of W per thread (ROWS is a multiple)

layout(std430, binding = 0) readonly buffer W { uint wq[]; };
#if DOT
layout(std430, binding = 1) readonly buffer XQ { uint xq[]; };   // 8-bit codes, k / 4 words a row
layout(std430, binding = 2) readonly buffer XD { float xd[]; };  // one scale per 32 elements
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
#else
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
#endif

layout(push_constant) uniform Params {
    uint m, n, k;
    uint w_off;      // bytes from the W binding start to row 0 (even)
    uint x_off;      // elements (DOT: words of xq) from the X binding start to row 0
    uint y_off;      // elements
    uint ldy;        // elements between rows of Y
    uint row_bytes;  // bytes of one W row
    uint xd_off;     // DOT: elements from the XD binding start
} p;

#include "indexing.glsl"
#include "quant.glsl"

#if !DOT
vec4 x4(uint i) { return vec4(x[i], x[i + 1u], x[i + 2u], x[i + 3u]); }
#else
// Bytes of a word as signed values: 4-bit codes (0..15, offset 8) and 6-bit codes (offset 32).
uint s4(uint n) {
    const uint v = n ^ 0x08080808u;
    return v | ((v & 0x08080808u) * 0x1Eu);
}
uint s6(uint c) {
    const uint v = c ^ 0x20202020u;
    return v | ((v & 0x20202020u) * 0x6u);
}
#endif

// Partial dot products of rows row0 .. row0 + RPT - 1 with every X row, this thread's share of
// the blocks (lane, lane + stride, ...). A thread takes RPT rows so each X element it loads
// serves RPT weights (on CPU devices loads, not arithmetic, bound this loop). Rows past m are
// clamped to m - 1 (computed, never stored).
float acc[RPT * NC];  // this thread's sums, [row][x row]

void partial_dots(uint row0, uint lane, uint stride) {
    uint rb[RPT];
    for (uint r = 0u; r < RPT; ++r) rb[r] = p.w_off + min(row0 + r, p.m - 1u) * p.row_bytes;
    const uint nb = p.k / QK;
#if Q6_K
    // Unit u: super-block u / 16, half h, lanes l = 4g .. 4g+3 of each quarter t:
    // elements 128 h + 32 t + 4 g + (0..3), sub-scales h * 8 + g / 4 + 2 t.
    for (uint u = lane; u < nb * 16u; u += stride) {
        const uint sb = u >> 4, h = (u >> 3) & 1u, g = u & 7u;
        vec4 sc[RPT];
        uint code[RPT][4];
        for (uint r = 0u; r < RPT; ++r) {
            const uint o = rb[r] + sb * QB;
            const uint ql0 = q_u32(o + 64u * h + 4u * g);
            const uint ql1 = q_u32(o + 64u * h + 32u + 4u * g);
            const uint qh = q_u32(o + 128u + 32u * h + 4u * g);
            const uint sbase = o + 192u + 8u * h + (g >> 2);
            sc[r] = q_half(o + 208u) * vec4(q_i8(sbase), q_i8(sbase + 2u), q_i8(sbase + 4u), q_i8(sbase + 6u));
            code[r][0] = (ql0 & 0x0F0F0F0Fu) | ((qh & 0x03030303u) << 4);
            code[r][1] = (ql1 & 0x0F0F0F0Fu) | (((qh >> 2) & 0x03030303u) << 4);
            code[r][2] = ((ql0 >> 4) & 0x0F0F0F0Fu) | (((qh >> 4) & 0x03030303u) << 4);
            code[r][3] = ((ql1 >> 4) & 0x0F0F0F0Fu) | (((qh >> 6) & 0x03030303u) << 4);
        }
        const uint e0 = sb * 256u + 128u * h + 4u * g;  // element of t = 0 inside the row
#if DOT
        for (uint r = 0u; r < RPT; ++r)
            for (uint t = 0u; t < 4u; ++t) code[r][t] = s6(code[r][t]);
        for (uint c = 0u; c < NC; ++c) {
            if (c >= p.n) break;
            const uint xw = p.x_off + (c * p.k + e0) / 4u;
            const uint xb = p.xd_off + (c * p.k + e0) / 32u;
            uint xv[4];
            vec4 xs;
            for (uint t = 0u; t < 4u; ++t) {
                xv[t] = xq[xw + 8u * t];
                xs[t] = xd[xb + t];
            }
            for (uint r = 0u; r < RPT; ++r) {
                float s = 0.0;
                for (uint t = 0u; t < 4u; ++t) s += sc[r][t] * xs[t] * float(sdot4x8(code[r][t], xv[t], 0));
                acc[r * NC + c] += s;
            }
        }
#else
        for (uint c = 0u; c < NC; ++c) {
            if (c >= p.n) break;
            const uint xb = p.x_off + c * p.k + e0;
            const vec4 x0 = x4(xb), x1 = x4(xb + 32u), x2 = x4(xb + 64u), x3 = x4(xb + 96u);
            for (uint r = 0u; r < RPT; ++r) {
                const vec4 part = vec4(dot(u8x4(code[r][0]) - 32.0, x0), dot(u8x4(code[r][1]) - 32.0, x1),
                                       dot(u8x4(code[r][2]) - 32.0, x2), dot(u8x4(code[r][3]) - 32.0, x3));
                acc[r * NC + c] += dot(sc[r], part);
            }
        }
#endif
    }
#else
    for (uint b = lane; b < nb; b += stride) {
        float d[RPT];
#if DOT
        uint wv[RPT][8];
#else
        vec4 wv[RPT][8];
#endif
        for (uint r = 0u; r < RPT; ++r) {
            const uint o = rb[r] + b * QB;
            d[r] = q_half(o);
#if Q8_0
            for (uint i = 0u; i < 8u; ++i) {
                const uint w = q_u32(o + 2u + 4u * i);
#if DOT
                wv[r][i] = w;
#else
                wv[r][i] = i8x4(w);
#endif
            }
#else
            for (uint i = 0u; i < 4u; ++i) {
                const uint w = q_u32(o + 2u + 4u * i);
#if DOT
                wv[r][i] = s4(w & 0x0F0F0F0Fu);
                wv[r][i + 4u] = s4((w >> 4) & 0x0F0F0F0Fu);
#else
                wv[r][i] = u4x4(w, 0u) - 8.0;
                wv[r][i + 4u] = u4x4(w, 4u) - 8.0;
#endif
            }
#endif
        }
        for (uint c = 0u; c < NC; ++c) {
            if (c >= p.n) break;
#if DOT
            const uint xw = p.x_off + (c * p.k) / 4u + b * 8u;
            uint xv[8];
            for (uint i = 0u; i < 8u; ++i) xv[i] = xq[xw + i];
            const float xs = xd[p.xd_off + (c * p.k) / 32u + b];
            for (uint r = 0u; r < RPT; ++r) {
                int s = 0;
                for (uint i = 0u; i < 8u; ++i) s += sdot4x8(wv[r][i], xv[i], 0);
                acc[r * NC + c] += d[r] * xs * float(s);
            }
#else
            const uint xb = p.x_off + c * p.k + b * 32u;
            vec4 xv[8];
            for (uint i = 0u; i < 8u; ++i) xv[i] = x4(xb + 4u * i);
            for (uint r = 0u; r < RPT; ++r) {
                float s = 0.0;
                for (uint i = 0u; i < 8u; ++i) s += dot(wv[r][i], xv[i]);
                acc[r * NC + c] += d[r] * s;
            }
#endif
        }
    }
#endif
}

#if ROWWISE
void main() {
    const uint row0 = (linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * RPT;
    for (uint i = 0u; i < RPT * NC; ++i) acc[i] = 0.0;
    // No early return: the block loop stays uniform, so its X addresses stay uniform too.
    partial_dots(min(row0, p.m - 1u), 0u, 1u);
    for (uint r = 0u; r < RPT; ++r)
        for (uint c = 0u; c < NC; ++c)
            if (c < p.n && row0 + r < p.m) y[p.y_off + c * p.ldy + row0 + r] = acc[r * NC + c];
}
#elif SUBGROUP
void main() {
    const uint groups = ROWS / RPT;  // row groups per workgroup, one subgroup each
    const uint row_base = linear_group_id() * ROWS;
    for (uint grp = gl_SubgroupID; grp < groups; grp += gl_NumSubgroups) {
        const uint row0 = row_base + grp * RPT;
        if (row0 >= p.m) break;  // uniform in the subgroup
        for (uint i = 0u; i < RPT * NC; ++i) acc[i] = 0.0;
        partial_dots(row0, gl_SubgroupInvocationID, gl_SubgroupSize);
        for (uint r = 0u; r < RPT; ++r)
            for (uint c = 0u; c < NC; ++c) {
                if (c >= p.n) break;
                const float s = subgroupAdd(acc[r * NC + c]);
                if (gl_SubgroupInvocationID == 0u && row0 + r < p.m) y[p.y_off + c * p.ldy + row0 + r] = s;
            }
    }
}
#else
shared float red[gl_WorkGroupSize.x * RPT * NC];

void main() {
    const uint A = RPT * NC;                     // accumulators per thread
    const uint tpr = gl_WorkGroupSize.x / (ROWS / RPT);  // threads per row group
    const uint tid = gl_LocalInvocationID.x;
    const uint lane = tid % tpr;
    const uint row0 = linear_group_id() * ROWS + (tid / tpr) * RPT;
    for (uint i = 0u; i < A; ++i) acc[i] = 0.0;
    if (row0 < p.m) partial_dots(row0, lane, tpr);
    for (uint i = 0u; i < A; ++i) red[tid * A + i] = acc[i];
    for (uint s = tpr / 2u; s > 0u; s >>= 1) {
        barrier();
        if (lane < s)
            for (uint i = 0u; i < A; ++i) red[tid * A + i] += red[(tid + s) * A + i];
    }
    if (lane == 0u)
        for (uint r = 0u; r < RPT; ++r)
            for (uint c = 0u; c < NC; ++c)
                if (c < p.n && row0 + r < p.m) y[p.y_off + c * p.ldy + row0 + r] = red[tid * A + r * NC + c];
}
#endif
