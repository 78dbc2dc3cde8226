#version 450
// S5 (Smith, Warrington & Linderman 2023): a diagonal complex linear SSM, discretized by
// zero-order hold, evaluated with a parallel scan. Complex numbers are vec2 (re, im).
//   ld_p = Lambda_p * Delta_p,  Lambda_bar_p = exp(ld_p),  Delta_p = exp(log_step_p)
//   Bu[b,l,p] = (Lambda_bar_p - 1) / Lambda_p * sum_h B~[p,h] u[b,l,h]
//   x_l = Lambda_bar * x_{l-1} + Bu_l             (the scan, per state p)
//   y[b,l,h] = 2 Re(sum_p C~[h,p] x_l[p]) + D[h] u[b,l,h]   (conjugate symmetry)
// The scan runs on blocks of SEGS x seg tokens per workgroup: each invocation scans `seg`
// tokens sequentially, a Hillis-Steele scan over the segment summaries in shared memory joins
// them, and blocks are joined by a short carry pass. Powers Lambda_bar^k are exp(k * ld).
//!variant s5_bu_f32 -DPASS_BU=1
//!variant s5_block_f32 -DPASS_BLOCK=1
//!variant s5_carry_f32 -DPASS_CARRY=1
//!variant s5_out_f32 -DPASS_OUT=1
//!variant s5_y_f32 -DPASS_Y=1
#extension GL_GOOGLE_include_directive : require
#include "indexing.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(push_constant) uniform Params {
    uint batch;
    uint len;      // L
    uint states;   // P
    uint hdim;     // H
    uint seg;      // tokens per invocation in the block passes
    uint block;    // tokens per block = seg * gl_WorkGroupSize.y
    uint nblocks;
    uint write_back;  // s5_out: single block, carry is the state: store the final state
    // Ranges (ops/src/ssm_common.hpp): shifts of the bound windows, in elements of each binding
    // (c_shift: the carry binding of s5_out, which is the state window with write_back).
    uint u_shift;
    uint y_shift;
    uint st_shift;
    uint c_shift;
} p;

vec2 cmul(vec2 a, vec2 b) { return vec2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }
vec2 cdiv(vec2 a, vec2 b) { return vec2(a.x * b.x + a.y * b.y, a.y * b.x - a.x * b.y) / dot(b, b); }
vec2 cexp(vec2 a) { return exp(a.x) * vec2(cos(a.y), sin(a.y)); }

#if defined(PASS_BU) || defined(PASS_BLOCK) || defined(PASS_CARRY) || defined(PASS_OUT)
layout(std430, binding = 0) readonly buffer Lam { vec2 lambda[]; };
layout(std430, binding = 1) readonly buffer Ls { float log_step[]; };
vec2 ld_of(uint s) { return lambda[s] * exp(log_step[s]); }
#endif

#if defined(PASS_BU)
layout(std430, binding = 2) readonly buffer Bt { vec2 Btil[]; };  // [P, H]
layout(std430, binding = 3) readonly buffer U { float u[]; };     // [B, L, H]
layout(std430, binding = 4) writeonly buffer Xs { vec2 X[]; };    // [B, L, P]
void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.batch * p.len * p.states) return;
    const uint s = i % p.states, row = i / p.states;  // row = b * L + l
    vec2 acc = vec2(0.0);
    for (uint h = 0; h < p.hdim; ++h) acc += Btil[s * p.hdim + h] * u[p.u_shift + row * p.hdim + h];
    const vec2 f = cdiv(cexp(ld_of(s)) - vec2(1.0, 0.0), lambda[s]);
    X[i] = cmul(f, acc);
}
#elif defined(PASS_CARRY)
layout(std430, binding = 2) buffer T { vec2 carry[]; };  // [B, nblocks, P]: block total -> carry in
layout(std430, binding = 3) buffer St { vec2 state[]; };  // [B, P]
void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.batch * p.states) return;
    const uint s = i % p.states, b = i / p.states;
    const vec2 ld = ld_of(s);
    const vec2 full = cexp(float(p.block) * ld);
    vec2 h = state[p.st_shift + i];
    for (uint k = 0; k < p.nblocks; ++k) {
        const uint slot = (b * p.nblocks + k) * p.states + s;
        const vec2 total = carry[slot];
        carry[slot] = h;
        const uint n = min(p.block, p.len - k * p.block);
        h = cmul(n == p.block ? full : cexp(float(n) * ld), h) + total;
    }
    state[p.st_shift + i] = h;
}
#elif defined(PASS_BLOCK) || defined(PASS_OUT)
#if defined(PASS_BLOCK)
layout(std430, binding = 2) readonly buffer Xs { vec2 X[]; };
layout(std430, binding = 3) writeonly buffer T { vec2 carry[]; };
#else
layout(std430, binding = 2) buffer Xs { vec2 X[]; };     // Bu in, states x_l out
layout(std430, binding = 3) buffer T { vec2 carry[]; };  // carry into each block (or the state)
#endif
// Segment summaries (a, b): the segment maps h to a*h + b.
shared vec2 sh_a[gl_WorkGroupSize.y][gl_WorkGroupSize.x];
shared vec2 sh_b[gl_WorkGroupSize.y][gl_WorkGroupSize.x];

void main() {
    const uint lx = gl_LocalInvocationID.x, sg = gl_LocalInvocationID.y;
    const uint s = gl_WorkGroupID.x * gl_WorkGroupSize.x + lx;
    const uint blk = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
    const bool live = s < p.states;
    const uint t0 = min(blk * p.block + sg * p.seg, p.len);
    const uint t1 = min(t0 + p.seg, min((blk + 1u) * p.block, p.len));
    const vec2 ld = live ? ld_of(s) : vec2(0.0);
    const vec2 lb = cexp(ld);
    vec2 h = vec2(0.0);
    if (live)
        for (uint t = t0; t < t1; ++t) h = cmul(lb, h) + X[(b * p.len + t) * p.states + s];
    sh_a[sg][lx] = cexp(float(t1 - t0) * ld);
    sh_b[sg][lx] = h;
    const uint slot = (b * p.nblocks + blk) * p.states + s;
#if defined(PASS_OUT)
    // Read before the barriers: with write_back the last segment overwrites this slot.
    const vec2 c = live ? carry[p.c_shift + slot] : vec2(0.0);
#endif
    barrier();
    // Inclusive Hillis-Steele scan over the segments: (a1,b1) then (a2,b2) = (a2 a1, a2 b1 + b2).
    for (uint off = 1; off < gl_WorkGroupSize.y; off <<= 1) {
        vec2 a = sh_a[sg][lx], bb = sh_b[sg][lx];
        if (sg >= off) {
            const vec2 pa = sh_a[sg - off][lx], pb = sh_b[sg - off][lx];
            bb = cmul(a, pb) + bb;
            a = cmul(a, pa);
        }
        barrier();
        sh_a[sg][lx] = a;
        sh_b[sg][lx] = bb;
        barrier();
    }
    if (!live) return;
#if defined(PASS_BLOCK)
    if (sg == gl_WorkGroupSize.y - 1u) carry[slot] = sh_b[sg][lx];  // block total from zero
#else
    // The state entering this segment: carry pushed through the earlier segments of the block.
    vec2 hin = c;
    if (sg > 0u) hin = cmul(sh_a[sg - 1u][lx], c) + sh_b[sg - 1u][lx];
    h = hin;
    for (uint t = t0; t < t1; ++t) {
        const uint idx = (b * p.len + t) * p.states + s;
        h = cmul(lb, h) + X[idx];
        X[idx] = h;
    }
    if (p.write_back != 0u && sg == gl_WorkGroupSize.y - 1u)
        carry[p.c_shift + slot] = cmul(sh_a[sg][lx], c) + sh_b[sg][lx];
#endif
}
#else  // PASS_Y
layout(std430, binding = 0) readonly buffer Ct { vec2 Ctil[]; };  // [H, P]
layout(std430, binding = 1) readonly buffer Dk { float Dskip[]; };
layout(std430, binding = 2) readonly buffer U { float u[]; };
layout(std430, binding = 3) readonly buffer Xs { vec2 X[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };
void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.batch * p.len * p.hdim) return;
    const uint h = i % p.hdim, row = i / p.hdim;
    float acc = 0.0;
    for (uint s = 0; s < p.states; ++s) {
        const vec2 c = Ctil[h * p.states + s], xv = X[row * p.states + s];
        acc += c.x * xv.x - c.y * xv.y;
    }
    y[p.y_shift + i] = 2.0 * acc + Dskip[h] * u[p.u_shift + i];
}
#endif
