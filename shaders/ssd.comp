#version 450
// Mamba-2 state-space duality (SSD; Dao & Gu 2024), chunked. Per head h (scalar A_h), head dim
// P, state N, chunks of Q tokens (specialization constant 1):
//   dt_t = softplus(dt_raw + dt_bias_h) (optional), a_t = dt_t A_h, X_t = dt_t x_t
//   h_t = exp(a_t) h_{t-1} + X_t (outer) B_t;   y_t = h_t C_t + D_h x_t
// ssd_state: per (b, chunk, head): S_c = sum_l exp(sum_{k>l} a_k) X_l (outer) B_l (chunk state
//            from zero) and the chunk's total log decay sum_l a_l.
// ssd_pass:  per (b, head, p, n): carry states across chunks; leaves the entering state of each
//            chunk in place and the final state in `state`.
// ssd_out:   per (b, chunk, head): Y = (L o C B^T) X (intra-chunk, L[l,s] = exp(segsum a) for
//            s <= l) + exp(sum_{k<=l} a_k) C_l S_in (from earlier chunks) + D x.
// Segment sums are summed directly over the segment, never as differences of cumulative sums.
//!variant ssd_state_f32 -DPASS_STATE=1
//!variant ssd_pass_f32 -DPASS_PASS=1
//!variant ssd_out_f32 -DPASS_OUT=1
// EfficientViM's HSM-SSD: the non-matmul steps (common/scan_hsm.glsl).
//!variant hsm_state_f32 -DHSM_STATE=1
//!variant hsm_gate_f32 -DHSM_GATE=1
//!variant hsm_out_f32 -DHSM_OUT=1
#extension GL_GOOGLE_include_directive : require
#include "indexing.glsl"
#if defined(HSM_STATE) || defined(HSM_GATE) || defined(HSM_OUT)
#include "scan_hsm.glsl"
#else

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint Q = 64;

layout(push_constant) uniform Params {
    uint batch;
    uint len;
    uint heads;
    uint hp;      // P
    uint ns;      // N
    uint groups;  // B/C groups; heads / groups heads share one
    uint nchunks;
    uint has_d;
    uint has_dtbias;
    uint softplus;
    // Ranges (ops/src/ssm_common.hpp): element shifts of the bound windows.
    uint x_shift;
    uint dt_shift;
    uint b_shift;
    uint c_shift;
    uint y_shift;
    uint st_shift;
} p;

#if defined(PASS_PASS)
layout(std430, binding = 0) readonly buffer At { float a_tot[]; };  // [B, C, H]
layout(std430, binding = 1) buffer S { float S_loc[]; };            // [B, C, H, P, N]
layout(std430, binding = 2) buffer St { float state[]; };           // [B, H, P, N]
void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    const uint per = p.heads * p.hp * p.ns;
    if (i >= p.batch * per) return;
    const uint b = i / per, r = i % per, h = r / (p.hp * p.ns);
    float s = state[p.st_shift + i];
    for (uint c = 0; c < p.nchunks; ++c) {
        const uint slot = (b * p.nchunks + c) * per + r;
        const float loc = S_loc[slot];
        S_loc[slot] = s;
        s = exp(a_tot[(b * p.nchunks + c) * p.heads + h]) * s + loc;
    }
    state[p.st_shift + i] = s;
}
#else
layout(std430, binding = 0) readonly buffer X { float x[]; };    // [B, L, H, P]
layout(std430, binding = 1) readonly buffer Dt { float dt[]; };  // [B, L, H]
layout(std430, binding = 2) readonly buffer Am { float A[]; };   // [H]
layout(std430, binding = 3) readonly buffer Bm { float Bs[]; };  // [B, L, G, N]
layout(std430, binding = 4) readonly buffer Db { float dtb[]; }; // [H]
#if defined(PASS_STATE)
layout(std430, binding = 5) writeonly buffer S { float S_loc[]; };
layout(std430, binding = 6) writeonly buffer At { float a_tot[]; };
#else
layout(std430, binding = 5) readonly buffer Cm { float Cs[]; };  // [B, L, G, N]
layout(std430, binding = 6) readonly buffer Dk { float Dskip[]; };
layout(std430, binding = 7) readonly buffer S { float S_in[]; };
layout(std430, binding = 8) writeonly buffer Y { float y[]; };   // [B, L, H, P]
shared float gmat[Q * Q];  // decayed C.B scores times dt_s
shared float pre_decay[Q];
#endif
shared float a_sh[Q];
shared float dt_sh[Q];
shared float w_sh[Q];

void main() {
    const uint c = gl_WorkGroupID.x, h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
    const uint lid = gl_LocalInvocationID.x, nthreads = gl_WorkGroupSize.x;
    const uint t0 = c * Q;
    const uint q = min(Q, p.len - t0);  // valid tokens in this chunk
    const uint g = h / (p.heads / p.groups);
    for (uint l = lid; l < Q; l += nthreads) {
        float v = 0.0;
        if (l < q) {
            v = dt[p.dt_shift + (b * p.len + t0 + l) * p.heads + h];
            if (p.has_dtbias != 0u) v += dtb[h];
            if (p.softplus != 0u) v = v > 20.0 ? v : log(1.0 + exp(v));
        }
        dt_sh[l] = v;
        a_sh[l] = v * A[h];
    }
    barrier();
    if (lid == 0u) {
        // Suffix sums (decay to the chunk end) and prefix sums (decay from the chunk start).
        float suf = 0.0;
        for (uint l = q; l-- > 0u;) {
            w_sh[l] = exp(suf) * dt_sh[l];
            suf += a_sh[l];
        }
#if defined(PASS_STATE)
        a_tot[(b * p.nchunks + c) * p.heads + h] = suf;
#else
        float pre = 0.0;
        for (uint l = 0; l < q; ++l) {
            pre += a_sh[l];
            pre_decay[l] = exp(pre);
        }
#endif
    }
    barrier();
#if defined(PASS_STATE)
    // Register tiles of 4 (p) x 4 (n) per invocation: 8 loads per 16 FMAs per token.
    const uint per = p.heads * p.hp * p.ns;
    const uint ptiles = (p.hp + 3u) / 4u, ntiles = (p.ns + 3u) / 4u;
    for (uint e = lid; e < ptiles * ntiles; e += nthreads) {
        const uint p0 = (e / ntiles) * 4u, n0 = (e % ntiles) * 4u;
        vec4 acc[4] = vec4[4](vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));
        for (uint l = 0; l < q; ++l) {
            const uint t = b * p.len + t0 + l;
            const uint xb = p.x_shift + (t * p.heads + h) * p.hp, bb = p.b_shift + (t * p.groups + g) * p.ns;
            vec4 xv, bv;
            for (uint k = 0; k < 4u; ++k) {
                xv[k] = p0 + k < p.hp ? x[xb + p0 + k] : 0.0;
                bv[k] = n0 + k < p.ns ? Bs[bb + n0 + k] : 0.0;
            }
            xv *= w_sh[l];
            for (uint k = 0; k < 4u; ++k) acc[k] += xv[k] * bv;
        }
        const uint base = (b * p.nchunks + c) * per + h * p.hp * p.ns;
        for (uint k = 0; k < 4u; ++k)
            for (uint j = 0; j < 4u; ++j)
                if (p0 + k < p.hp && n0 + j < p.ns) S_loc[base + (p0 + k) * p.ns + n0 + j] = acc[k][j];
    }
#else
    // Intra-chunk scores: gmat[l][s] = (C_l . B_s) exp(a_{s+1} + ... + a_l) dt_s for s <= l,
    // four s per invocation (each C value loaded once serves four scores).
    const uint stiles = (q + 3u) / 4u;
    for (uint e = lid; e < q * stiles; e += nthreads) {
        const uint l = e / stiles, s0 = (e % stiles) * 4u;
        vec4 v = vec4(0.0);
        if (s0 <= l) {
            const uint tl = b * p.len + t0 + l;
            const uint smax = min(s0 + 3u, l);  // last valid s in the tile (s <= l < q)
            vec4 dot_cb = vec4(0.0);
            for (uint n = 0; n < p.ns; ++n) {
                vec4 bv;
                for (uint k = 0; k < 4u; ++k)
                    bv[k] = s0 + k <= smax ? Bs[p.b_shift + ((b * p.len + t0 + s0 + k) * p.groups + g) * p.ns + n] : 0.0;
                dot_cb += Cs[p.c_shift + (tl * p.groups + g) * p.ns + n] * bv;
            }
            // seg(l, s) = a_{s+1} + ... + a_l, summed directly from smax down to s0.
            float seg = 0.0;
            for (uint k = smax + 1u; k <= l; ++k) seg += a_sh[k];
            for (uint k = smax - s0 + 1u; k-- > 0u;) {
                v[k] = dot_cb[k] * exp(seg) * dt_sh[s0 + k];
                seg += a_sh[s0 + k];
            }
        }
        for (uint k = 0; k < 4u; ++k)
            if (s0 + k < q) gmat[l * Q + s0 + k] = v[k];
    }
    barrier();
    const uint per = p.heads * p.hp * p.ns;
    const uint sbase = (b * p.nchunks + c) * per + h * p.hp * p.ns;
    const float dskip = p.has_d != 0u ? Dskip[h] : 0.0;
    // Four consecutive p per invocation: each score / C value loaded once serves four outputs.
    const uint ptiles = (p.hp + 3u) / 4u;
    for (uint e = lid; e < q * ptiles; e += nthreads) {
        const uint l = e / ptiles, p0 = (e % ptiles) * 4u;
        const uint tl = b * p.len + t0 + l;
        vec4 acc = vec4(0.0), off = vec4(0.0);
        for (uint s = 0; s <= l; ++s) {
            const uint xb = p.x_shift + ((b * p.len + t0 + s) * p.heads + h) * p.hp;
            vec4 xv;
            for (uint k = 0; k < 4u; ++k) xv[k] = p0 + k < p.hp ? x[xb + p0 + k] : 0.0;
            acc += gmat[l * Q + s] * xv;
        }
        for (uint n = 0; n < p.ns; ++n) {
            vec4 sv;
            for (uint k = 0; k < 4u; ++k) sv[k] = p0 + k < p.hp ? S_in[sbase + (p0 + k) * p.ns + n] : 0.0;
            off += Cs[p.c_shift + (tl * p.groups + g) * p.ns + n] * sv;
        }
        for (uint k = 0; k < 4u; ++k) {
            if (p0 + k >= p.hp) break;
            const uint idx = (tl * p.heads + h) * p.hp + p0 + k;
            y[p.y_shift + idx] = acc[k] + pre_decay[l] * off[k] + dskip * x[p.x_shift + idx];
        }
    }
#endif
}
#endif
#endif  // HSM
