// Workgroup-wide reductions for one-workgroup-per-row kernels (softmax, norms, argmax, top-k).
//
// The including shader declares, before the include:
//   layout(local_size_x_id = 0) in;
//   layout(constant_id = 0) const uint WG = 256;   // a power of two (the shared-memory tree)
// and builds two variants: one with -DVKML_SUBGROUP=1 (needs subgroup arithmetic; the op picks
// it from Capabilities::subgroup_arithmetic) and one without (shared memory only, any device).
//
// Every invocation of the workgroup must call a reduction (they contain barriers) and every
// invocation receives the same result. Each call starts with a barrier, so consecutive calls may
// reuse the scratch arrays without the caller adding barriers.
#ifndef VKML_REDUCE_GLSL
#define VKML_REDUCE_GLSL

#ifdef VKML_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

// One slot per invocation: enough for the tree and for one partial per subgroup.
shared float red_f[WG];
shared uint red_k[WG];
shared uint red_i[WG];

#ifdef VKML_SUBGROUP

// Subgroup partials, then every subgroup folds the per-subgroup partials itself (the same
// operations in the same order everywhere, so all invocations agree bit for bit) and no second
// barrier is needed.
float wg_sum(float v) {
    v = subgroupAdd(v);
    if (gl_NumSubgroups == 1u) return v;  // one subgroup (e.g. CPU devices): no shared memory
    barrier();
    if (subgroupElect()) red_f[gl_SubgroupID] = v;
    barrier();
    float t = 0.0;
    for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize) t += red_f[i];
    return subgroupAdd(t);
}

float wg_max(float v) {
    v = subgroupMax(v);
    if (gl_NumSubgroups == 1u) return v;
    barrier();
    if (subgroupElect()) red_f[gl_SubgroupID] = v;
    barrier();
    float t = uintBitsToFloat(0xFF800000u);  // -inf
    for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize) t = max(t, red_f[i]);
    return subgroupMax(t);
}

// The best (key, index) pair: largest key, then smallest index. Returns the pair in key/idx.
void wg_best(inout uint key, inout uint idx) {
    uint k = subgroupMax(key);
    uint i = subgroupMin(key == k ? idx : 0xFFFFFFFFu);
    if (gl_NumSubgroups == 1u) {
        key = k;
        idx = i;
        return;
    }
    barrier();
    if (subgroupElect()) {
        red_k[gl_SubgroupID] = k;
        red_i[gl_SubgroupID] = i;
    }
    barrier();
    k = 0u;
    i = 0xFFFFFFFFu;
    for (uint s = gl_SubgroupInvocationID; s < gl_NumSubgroups; s += gl_SubgroupSize) {
        const uint ks = red_k[s], is = red_i[s];
        if (ks > k || (ks == k && is < i)) {
            k = ks;
            i = is;
        }
    }
    key = subgroupMax(k);
    idx = subgroupMin(k == key ? i : 0xFFFFFFFFu);
}

#else  // shared-memory tree: WG must be a power of two

float wg_sum(float v) {
    const uint t = gl_LocalInvocationID.x;
    barrier();
    red_f[t] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) red_f[t] += red_f[t + s];
        barrier();
    }
    return red_f[0];
}

float wg_max(float v) {
    const uint t = gl_LocalInvocationID.x;
    barrier();
    red_f[t] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) red_f[t] = max(red_f[t], red_f[t + s]);
        barrier();
    }
    return red_f[0];
}

void wg_best(inout uint key, inout uint idx) {
    const uint t = gl_LocalInvocationID.x;
    barrier();
    red_k[t] = key;
    red_i[t] = idx;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) {
            const uint ko = red_k[t + s], io = red_i[t + s];
            if (ko > red_k[t] || (ko == red_k[t] && io < red_i[t])) {
                red_k[t] = ko;
                red_i[t] = io;
            }
        }
        barrier();
    }
    key = red_k[0];
    idx = red_i[0];
}

#endif

#endif
