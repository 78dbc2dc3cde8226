#version 450
// Tiled matrix product Y[n, m] = X[n, k] * W[m, k]^T for many activation rows (n > 8).
// A workgroup computes a BM x BN tile of Y (BM along m, BN along n), walking k in steps of BK:
// it stages a BM x BK tile of W and a BN x BK tile of X in shared memory (stored k-major and
// padded by one so both the staging writes and the inner-loop reads avoid bank conflicts), then
// each thread accumulates a TM x TN block of the tile in registers. Thread blocks are strided
// (thread tx owns columns tx, tx + BM/TM, ...) so neighbouring threads touch neighbouring words.
// Every tile size is a specialization constant; local_size_x must be (BM/TM) * (BN/TN).
//!variant matmul_f32
//!variant matmul_f16 -DW_F16=1
#extension GL_GOOGLE_include_directive : require
#if W_F16
#extension GL_EXT_shader_16bit_storage : require
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;

#if W_F16
layout(std430, binding = 0) readonly buffer W { float16_t w[]; };
#else
layout(std430, binding = 0) readonly buffer W { float w[]; };
#endif
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

// Same block as gemv.comp: element offsets inside the bindings, ldy between rows of Y.
layout(push_constant) uniform Params {
    uint m, n, k;
    uint w_off, x_off, y_off;
    uint ldy;
} p;

shared float ws[BK * (BM + 1)];
shared float xs[BK * (BN + 1)];

void main() {
    const uint threads = gl_WorkGroupSize.x;
    const uint tx_count = BM / TM, ty_count = BN / TN;
    const uint tid = gl_LocalInvocationID.x;
    const uint tx = tid % tx_count, ty = tid / tx_count;
    const uint m0 = gl_WorkGroupID.x * BM, n0 = gl_WorkGroupID.y * BN;

    float acc[TM * TN];
    for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0;
    float a[TM], b[TN];

    for (uint k0 = 0; k0 < p.k; k0 += BK) {
        // Stage the tiles; consecutive threads read consecutive k (coalesced), zero past the edges.
        for (uint e = tid; e < BM * BK; e += threads) {
            const uint mm = e / BK, kk = e % BK;
            const uint gm = m0 + mm, gk = k0 + kk;
            ws[kk * (BM + 1) + mm] = (gm < p.m && gk < p.k) ? float(w[p.w_off + gm * p.k + gk]) : 0.0;
        }
        for (uint e = tid; e < BN * BK; e += threads) {
            const uint nn = e / BK, kk = e % BK;
            const uint gn = n0 + nn, gk = k0 + kk;
            xs[kk * (BN + 1) + nn] = (gn < p.n && gk < p.k) ? x[p.x_off + gn * p.k + gk] : 0.0;
        }
        barrier();
        for (uint kk = 0; kk < BK; ++kk) {
            for (uint i = 0; i < TM; ++i) a[i] = ws[kk * (BM + 1) + tx + i * tx_count];
            for (uint j = 0; j < TN; ++j) b[j] = xs[kk * (BN + 1) + ty + j * ty_count];
            for (uint j = 0; j < TN; ++j)
                for (uint i = 0; i < TM; ++i) acc[j * TM + i] += a[i] * b[j];
        }
        barrier();
    }

    for (uint j = 0; j < TN; ++j) {
        const uint gn = n0 + ty + j * ty_count;
        if (gn >= p.n) break;
        for (uint i = 0; i < TM; ++i) {
            const uint gm = m0 + tx + i * tx_count;
            if (gm < p.m) y[p.y_off + gn * p.ldy + gm] = acc[j * TM + i];
        }
    }
}
