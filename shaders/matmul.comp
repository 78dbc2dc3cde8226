#version 450
// Tiled matrix product Y[n, m] = X[n, k] * W[m, k]^T for many activation rows (n > 8).
// A workgroup computes a BM x BN tile of Y (BM along m, BN along n), walking k in steps of BK:
// it stages a BM x BK tile of W and a BN x BK tile of X in shared memory, k-major (each k holds a
// row of BM or BN floats, padded by 4 to spread the staging writes over banks while keeping
// rows 16-byte aligned), then each thread accumulates a TM x TN block of Y in registers, reading
// its TM and TN operands as vec4s. Global loads are vec4 when k and the offsets allow.
// Every tile size is a specialization constant; local_size_x must be (BM/TM) * (BN/TN), TM and
// TN multiples of 4, BK a multiple of 4, BM and BN multiples of TM and TN.
//!variant matmul_f32
//!variant matmul_f16 -DW_F16=1
#extension GL_GOOGLE_include_directive : require
#if W_F16
#extension GL_EXT_shader_16bit_storage : require
// Only for indexing a component of an f16vec4 (no Float16 capability is emitted).
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;

// Vector arrays serve both paths: a scalar element is one component, a[i >> 2][i & 3].
#if W_F16
layout(std430, binding = 0) readonly buffer W { f16vec4 w4[]; };
#else
layout(std430, binding = 0) readonly buffer W { vec4 w4[]; };
#endif
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 2) writeonly buffer Y { vec4 y4[]; };

// Same block as gemv.comp: element offsets inside the bindings, ldy between rows of Y.
layout(push_constant) uniform Params {
    uint m, n, k;
    uint w_off, x_off, y_off;
    uint ldy;
    uint accumulate;  // (gemv.comp only; always 0 here)
} p;

const uint PM = BM + 4, PN = BN + 4;  // padded shared row lengths, in floats
shared vec4 ws[BK * PM / 4];
shared vec4 xs[BK * PN / 4];

void put_w(uint kk, uint mm, float v) { ws[(kk * PM + mm) >> 2][mm & 3u] = v; }
void put_x(uint kk, uint nn, float v) { xs[(kk * PN + nn) >> 2][nn & 3u] = v; }

void stage(uint m0, uint n0, uint k0, bool vec) {
    const uint threads = gl_WorkGroupSize.x, tid = gl_LocalInvocationID.x;
    if (vec) {
        // One vec4 of k per thread and step; k % 4 == 0, so a vec4 is wholly in or out of range.
        const uint q4 = BK / 4;
        for (uint e = tid; e < BM * q4; e += threads) {
            const uint mm = e / q4, kk = (e % q4) * 4, gm = m0 + mm, gk = k0 + kk;
            const vec4 v = (gm < p.m && gk < p.k) ? vec4(w4[(p.w_off + gm * p.k + gk) >> 2]) : vec4(0.0);
            for (uint i = 0; i < 4; ++i) put_w(kk + i, mm, v[i]);
        }
        for (uint e = tid; e < BN * q4; e += threads) {
            const uint nn = e / q4, kk = (e % q4) * 4, gn = n0 + nn, gk = k0 + kk;
            const vec4 v = (gn < p.n && gk < p.k) ? x4[(p.x_off + gn * p.k + gk) >> 2] : vec4(0.0);
            for (uint i = 0; i < 4; ++i) put_x(kk + i, nn, v[i]);
        }
    } else {
        // Consecutive threads read consecutive k (coalesced); zero past the edges.
        for (uint e = tid; e < BM * BK; e += threads) {
            const uint mm = e / BK, kk = e % BK, gm = m0 + mm, gk = k0 + kk;
            const uint i = p.w_off + gm * p.k + gk;
            put_w(kk, mm, (gm < p.m && gk < p.k) ? float(w4[i >> 2][i & 3u]) : 0.0);
        }
        for (uint e = tid; e < BN * BK; e += threads) {
            const uint nn = e / BK, kk = e % BK, gn = n0 + nn, gk = k0 + kk;
            const uint i = p.x_off + gn * p.k + gk;
            put_x(kk, nn, (gn < p.n && gk < p.k) ? x4[i >> 2][i & 3u] : 0.0);
        }
    }
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint tx = tid % (BM / TM), ty = tid / (BM / TM);
    const uint m0 = gl_WorkGroupID.x * BM, n0 = gl_WorkGroupID.y * BN;
    const bool vec = ((p.k | p.w_off | p.x_off) & 3u) == 0u;

    float acc[TM * TN];
    for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0;
    vec4 a[TM / 4], b[TN / 4];

    for (uint k0 = 0; k0 < p.k; k0 += BK) {
        stage(m0, n0, k0, vec);
        barrier();
        for (uint kk = 0; kk < BK; ++kk) {
            for (uint i = 0; i < TM / 4; ++i) a[i] = ws[(kk * PM + tx * TM) / 4 + i];
            for (uint j = 0; j < TN / 4; ++j) b[j] = xs[(kk * PN + ty * TN) / 4 + j];
            for (uint j = 0; j < TN; ++j)
                for (uint i = 0; i < TM; ++i) acc[j * TM + i] += a[i / 4][i % 4] * b[j / 4][j % 4];
        }
        barrier();
    }

    // Whole vec4 stores where the row of Y allows, scalar (component) stores at the edges.
    const bool vec_y = ((p.ldy | p.y_off) & 3u) == 0u;
    for (uint j = 0; j < TN; ++j) {
        const uint gn = n0 + ty * TN + j;
        if (gn >= p.n) break;
        const uint row = p.y_off + gn * p.ldy;
        for (uint i = 0; i < TM; i += 4) {
            const uint gm = m0 + tx * TM + i;
            if (vec_y && gm + 3 < p.m) {
                y4[(row + gm) >> 2] = vec4(acc[j * TM + i], acc[j * TM + i + 1], acc[j * TM + i + 2],
                                           acc[j * TM + i + 3]);
            } else {
                for (uint c = 0; c < 4; ++c) {
                    const uint idx = row + gm + c;
                    if (gm + c < p.m) y4[idx >> 2][idx & 3u] = acc[j * TM + i + c];
                }
            }
        }
    }
}
