// EfficientViM HSM-SSD kernels (Lee et al. 2025), included by ssd.comp when HSM_* is defined.
// Tokens are rows: x [Bt, L, C]; bcdt [Bt, L, 3N] holds (B | C | dt) after the 3x3 dwconv.
//   hsm_state: h[b,n,:] = sum_l softmax_l(dt[b,l,n] + A_p[n]) B[b,l,n] x[b,l,:]   -> [Bt, N, C]
//   hsm_gate:  g = h * silu(z) + D * h with [h | z] = hz [Bt*N, 2C]              -> [Bt*N, C]
//   hsm_out:   y[b,l,:] = sum_n C[b,l,n] h[b,n,:]                                -> [Bt, L, C]
#ifndef VKML_SCAN_HSM_GLSL
#define VKML_SCAN_HSM_GLSL

layout(local_size_x_id = 0) in;

layout(push_constant) uniform Params {
    uint batch;
    uint len;
    uint states;    // N
    uint channels;  // C
} p;

float silu_h(float v) { return v / (1.0 + exp(-v)); }

#if defined(HSM_STATE)
layout(std430, binding = 0) readonly buffer Bcdt { float bcdt[]; };
layout(std430, binding = 1) readonly buffer Ap { float A_p[]; };
layout(std430, binding = 2) readonly buffer X { float x[]; };
layout(std430, binding = 3) writeonly buffer H { float h[]; };
shared float red[gl_WorkGroupSize.x];
shared float wts[gl_WorkGroupSize.x];

float logit(uint b, uint l, uint n) { return bcdt[(b * p.len + l) * 3u * p.states + 2u * p.states + n] + A_p[n]; }

void main() {
    const uint n = gl_WorkGroupID.x, b = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
    const uint wg = gl_WorkGroupSize.x;
    // Softmax over tokens: max, then sum of exponentials (tree reductions in shared memory).
    float m = -3.4e38;
    for (uint l = lid; l < p.len; l += wg) m = max(m, logit(b, l, n));
    red[lid] = m;
    barrier();
    for (uint s = wg / 2u; s > 0u; s >>= 1) {
        if (lid < s) red[lid] = max(red[lid], red[lid + s]);
        barrier();
    }
    m = red[0];
    barrier();
    float sum = 0.0;
    for (uint l = lid; l < p.len; l += wg) sum += exp(logit(b, l, n) - m);
    red[lid] = sum;
    barrier();
    for (uint s = wg / 2u; s > 0u; s >>= 1) {
        if (lid < s) red[lid] += red[lid + s];
        barrier();
    }
    const float inv = 1.0 / red[0];
    // h[c] = sum_l w_l x[l, c], token weights staged per tile of wg tokens.
    for (uint c0 = 0; c0 < p.channels; c0 += wg) {
        const uint c = c0 + lid;
        float acc = 0.0;
        for (uint l0 = 0; l0 < p.len; l0 += wg) {
            barrier();
            const uint l = l0 + lid;
            wts[lid] = l < p.len ? exp(logit(b, l, n) - m) * inv * bcdt[(b * p.len + l) * 3u * p.states + n] : 0.0;
            barrier();
            if (c < p.channels) {
                const uint lend = min(wg, p.len - l0);
                for (uint k = 0; k < lend; ++k) acc += wts[k] * x[(b * p.len + l0 + k) * p.channels + c];
            }
        }
        if (c < p.channels) h[(b * p.states + n) * p.channels + c] = acc;
    }
}
#elif defined(HSM_GATE)
layout(std430, binding = 0) readonly buffer Hz { float hz[]; };
layout(std430, binding = 1) readonly buffer Dk { float Dskip[]; };
layout(std430, binding = 2) writeonly buffer G { float g[]; };
void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.batch * p.states * p.channels) return;
    const uint c = i % p.channels, r = i / p.channels;
    const float hv = hz[r * 2u * p.channels + c], zv = hz[r * 2u * p.channels + p.channels + c];
    g[i] = hv * silu_h(zv) + Dskip[c] * hv;
}
#elif defined(HSM_OUT)
layout(std430, binding = 0) readonly buffer Bcdt { float bcdt[]; };
layout(std430, binding = 1) readonly buffer H { float h[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.batch * p.len * p.channels) return;
    const uint c = i % p.channels, row = i / p.channels, b = row / p.len;
    float acc = 0.0;
    for (uint n = 0; n < p.states; ++n)
        acc += bcdt[row * 3u * p.states + p.states + n] * h[(b * p.states + n) * p.channels + c];
    y[i] = acc;
}
#endif

#endif
