#version 450
// Mamba selective scan (S6; Gu & Dao 2023), chunked over time. Per channel d and state n:
//   dt_t = softplus(delta[b,t,d] + delta_bias[d])       (softplus and bias optional)
//   h_t  = exp(dt_t * A[d,n]) * h_{t-1} + dt_t * B[b,t,n] * x[b,t,d]
//   y_t  = (sum_n C[b,t,n] h_t[n] + D[d] x[b,t,d]) * silu(z[b,t,d])   (D and z optional)
// The recurrence h = a*h + u is an associative scan; over a chunk of T tokens it composes to
// h_end = (prod a) h_start + h_local with prod a = exp(A * sum dt). Three passes:
//   ss_chunk: per (b, chunk, d): local scan from h = 0 -> h_local [B,C,D,N] and sum dt [B,C,D].
//   ss_carry: per (b, d, n): walk the C chunk summaries from the initial state, leaving in each
//             slot the state that enters that chunk, and the final state in `state`.
//   ss_out:   per (b, chunk, d): rescan the chunk from its entering state and emit y. With one
//             chunk (short prefill, decode step) this is the only pass and it reads the initial
//             state from, and writes the final state back to, `state` itself.
// The state size N is specialization constant 1, so h[] lives in registers.
//!variant ss_chunk_f32 -DPASS_CHUNK=1
//!variant ss_carry_f32 -DPASS_CARRY=1
//!variant ss_out_f32 -DPASS_OUT=1
#extension GL_GOOGLE_include_directive : require
#include "indexing.glsl"
#include "activations.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint N_STATE = 16;

layout(push_constant) uniform Params {
    uint batch;
    uint len;      // L
    uint dim;      // D
    uint chunk;    // T, tokens per chunk
    uint nchunks;  // C = ceil(L / T)
    uint has_d;
    uint has_z;
    uint has_dbias;
    uint softplus;
    uint write_back;  // ss_out: store the final state into H (single-chunk mode)
    // Ranges (ops/src/ssm_common.hpp): element shifts of the bound windows. h_shift applies to
    // H (the state in single-chunk mode, the chunk summaries otherwise).
    uint x_shift;
    uint dl_shift;
    uint b_shift;
    uint c_shift;
    uint z_shift;
    uint y_shift;
    uint st_shift;
    uint h_shift;
} p;

#if defined(PASS_CHUNK)
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Dl { float delta[]; };
layout(std430, binding = 2) readonly buffer Am { float A[]; };
layout(std430, binding = 3) readonly buffer Bm { float Bs[]; };
layout(std430, binding = 4) readonly buffer Db { float dbias[]; };
layout(std430, binding = 5) writeonly buffer S { float S_local[]; };
layout(std430, binding = 6) writeonly buffer Sd { float S_dt[]; };
#elif defined(PASS_CARRY)
layout(std430, binding = 0) readonly buffer Am { float A[]; };
layout(std430, binding = 1) readonly buffer Sd { float S_dt[]; };
layout(std430, binding = 2) buffer S { float S_local[]; };
layout(std430, binding = 3) buffer St { float state[]; };
#else
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Dl { float delta[]; };
layout(std430, binding = 2) readonly buffer Am { float A[]; };
layout(std430, binding = 3) readonly buffer Bm { float Bs[]; };
layout(std430, binding = 4) readonly buffer Cm { float Cs[]; };
layout(std430, binding = 5) readonly buffer Dk { float Dskip[]; };
layout(std430, binding = 6) readonly buffer Z { float z[]; };
layout(std430, binding = 7) readonly buffer Db { float dbias[]; };
layout(std430, binding = 8) buffer H { float Hs[]; };
layout(std430, binding = 9) writeonly buffer Y { float y[]; };
#endif

#if !defined(PASS_CARRY)
float step_dt(uint idx, uint d) {
    float v = delta[p.dl_shift + idx];
    if (p.has_dbias != 0u) v += dbias[d];
    if (p.softplus != 0u) v = v > 20.0 ? v : log(1.0 + exp(v));
    return v;
}
#endif

void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
#if defined(PASS_CARRY)
    if (i >= p.batch * p.dim * N_STATE) return;
    const uint n = i % N_STATE;
    const uint d = (i / N_STATE) % p.dim;
    const uint b = i / (N_STATE * p.dim);
    const float a = A[d * N_STATE + n];
    float h = state[p.st_shift + i];
    for (uint c = 0; c < p.nchunks; ++c) {
        const uint slot = ((b * p.nchunks + c) * p.dim + d) * N_STATE + n;
        const float local = S_local[slot];
        S_local[slot] = h;  // the state entering chunk c
        h = exp(a * S_dt[(b * p.nchunks + c) * p.dim + d]) * h + local;
    }
    state[p.st_shift + i] = h;
#else
    if (i >= p.batch * p.nchunks * p.dim) return;
    const uint d = i % p.dim;
    const uint c = (i / p.dim) % p.nchunks;
    const uint b = i / (p.dim * p.nchunks);
    const uint t0 = c * p.chunk;
    const uint t1 = min(t0 + p.chunk, p.len);
    float a[N_STATE];
    float h[N_STATE];
    for (uint n = 0; n < N_STATE; ++n) a[n] = A[d * N_STATE + n];
#if defined(PASS_CHUNK)
    for (uint n = 0; n < N_STATE; ++n) h[n] = 0.0;
    float dt_sum = 0.0;
    for (uint t = t0; t < t1; ++t) {
        const uint idx = (b * p.len + t) * p.dim + d;
        const float dt = step_dt(idx, d);
        const float dx = dt * x[p.x_shift + idx];
        dt_sum += dt;
        const uint bt = p.b_shift + (b * p.len + t) * N_STATE;
        for (uint n = 0; n < N_STATE; ++n) h[n] = exp(dt * a[n]) * h[n] + dx * Bs[bt + n];
    }
    for (uint n = 0; n < N_STATE; ++n) S_local[i * N_STATE + n] = h[n];
    S_dt[i] = dt_sum;
#else
    for (uint n = 0; n < N_STATE; ++n) h[n] = Hs[p.h_shift + i * N_STATE + n];
    const float dskip = p.has_d != 0u ? Dskip[d] : 0.0;
    for (uint t = t0; t < t1; ++t) {
        const uint idx = (b * p.len + t) * p.dim + d;
        const float dt = step_dt(idx, d);
        const float xv = x[p.x_shift + idx];
        const float dx = dt * xv;
        const uint bt = (b * p.len + t) * N_STATE;
        float acc = 0.0;
        for (uint n = 0; n < N_STATE; ++n) {
            h[n] = exp(dt * a[n]) * h[n] + dx * Bs[p.b_shift + bt + n];
            acc += Cs[p.c_shift + bt + n] * h[n];
        }
        float out_v = acc + dskip * xv;
        if (p.has_z != 0u) out_v *= silu(z[p.z_shift + idx]);
        y[p.y_shift + idx] = out_v;
    }
    if (p.write_back != 0u)
        for (uint n = 0; n < N_STATE; ++n) Hs[p.h_shift + i * N_STATE + n] = h[n];
#endif
#endif
}
