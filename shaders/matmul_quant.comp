#version 450
// Matrix product with block-quantized weights for many activation rows (prefill, n > 8):
//   y[c, row] = sum_i x[c, i] * dequant(w)[row, i]
// A workgroup computes a BM x BN tile of Y (BM rows of W, BN rows of X) and walks k in steps of
// 32 (one q8_0/q4_0 block, an eighth of a q6_k super-block): each step dequantizes its W tile and
// copies its X tile into shared memory (padded by one column against bank conflicts), then every
// thread accumulates a TM x TN sub-tile (rows tx + i * BM / TM, columns ty + j * BN / TN).
//!variant matmul_q8_0 -DQ8_0=1
//!variant matmul_q4_0 -DQ4_0=1
//!variant matmul_q6_k -DQ6_K=1
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;  // (BM / TM) * (BN / TN)
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint TM = 4;
layout(constant_id = 4) const uint TN = 4;
const uint BK = 32;

layout(std430, binding = 0) readonly buffer W { uint wq[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
    uint m, n, k;
    uint w_off;      // bytes
    uint x_off;      // elements
    uint y_off;      // elements
    uint ldy;
    uint row_bytes;  // bytes of one W row
} p;

#include "quant.glsl"

shared float ws[BK * (BM + 1)];  // ws[kk * (BM + 1) + r]
shared float xs[BK * (BN + 1)];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint threads = gl_WorkGroupSize.x;
    const uint m0 = gl_WorkGroupID.x * BM, n0 = gl_WorkGroupID.y * BN;
    const uint tx = tid % (BM / TM), ty = tid / (BM / TM);

    float acc[TM * TN];
    for (uint i = 0u; i < TM * TN; ++i) acc[i] = 0.0;

    for (uint k0 = 0u; k0 < p.k; k0 += BK) {
        // W tile: BM rows x 32 elements, four at a time.
        for (uint g = tid; g < BM * (BK / 4u); g += threads) {
            const uint r = g / (BK / 4u), kk = (g % (BK / 4u)) * 4u;
            vec4 v = vec4(0.0);
            if (m0 + r < p.m) {
                const uint kel = k0 + kk;
                v = dequant4(p.w_off + (m0 + r) * p.row_bytes + (kel / QK) * QB, kel % QK);
            }
            for (uint j = 0u; j < 4u; ++j) ws[(kk + j) * (BM + 1u) + r] = v[j];
        }
        // X tile: BN rows x 32 elements.
        for (uint g = tid; g < BN * BK; g += threads) {
            const uint r = g / BK, kk = g % BK;
            xs[kk * (BN + 1u) + r] = n0 + r < p.n ? x[p.x_off + (n0 + r) * p.k + k0 + kk] : 0.0;
        }
        barrier();
        for (uint kk = 0u; kk < BK; ++kk) {
            float a[TM], b[TN];
            for (uint i = 0u; i < TM; ++i) a[i] = ws[kk * (BM + 1u) + tx + i * (BM / TM)];
            for (uint j = 0u; j < TN; ++j) b[j] = xs[kk * (BN + 1u) + ty + j * (BN / TN)];
            for (uint i = 0u; i < TM; ++i)
                for (uint j = 0u; j < TN; ++j) acc[i * TN + j] += a[i] * b[j];
        }
        barrier();
    }
    for (uint i = 0u; i < TM; ++i) {
        const uint row = m0 + tx + i * (BM / TM);
        if (row >= p.m) continue;
        for (uint j = 0u; j < TN; ++j) {
            const uint c = n0 + ty + j * (BN / TN);
            if (c < p.n) y[p.y_off + c * p.ldy + row] = acc[i * TN + j];
        }
    }
}
