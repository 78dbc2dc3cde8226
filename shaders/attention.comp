#version 450
// Fused attention over an f16 KV cache (flash-attention style): softmax(scale * q k^T + mask) v
// without materialising the score matrix.
//
// q [n_q, heads, D] f32; k, v caches [max_ctx, kv_heads, D] f16 with kv_len valid rows; heads =
// kv_heads * g (grouped-query). A workgroup owns BR "rows" (query t, head h) that share one KV
// head: row R of KV head c is query t = R / g, head c * g + R % g. It walks the visible keys in
// blocks of BK rows held in shared memory, keeping each row's running max m, sum l and
// unnormalised output (online softmax), so K and V are read once per workgroup, not per head.
//
// Causal mask: query t sits at position kv_len - n_q + t and sees keys [0, that position]. The
// optional length scale multiplies query t's logits by log(i) / log(n_train) when its 1-based
// position i exceeds n_train (Qwen's "logn" attention scaling).
//
// The split variant gives each gl_WorkGroupID.z one slice of the keys and writes the unnormalised
// output with (m, l) per row; attention_combine.comp merges the slices (split-K, for decode).
//
// The _at variants read the cache length on the device, kv_len = positions[0] + n_q (clamped to
// max_len), so one recording serves every decode step (replay); slices past kv_len find no key.
//!variant attention_f16 -DVKML_SPLIT=0
//!variant attention_f16_split -DVKML_SPLIT=1
//!variant attention_f16_at -DVKML_SPLIT=0 -DVKML_POS_BUF=1
//!variant attention_f16_split_at -DVKML_SPLIT=1 -DVKML_POS_BUF=1
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;  // a multiple of D4 (the host picks it)
layout(constant_id = 1) const uint D = 64;    // head_dim, even
layout(constant_id = 2) const uint BR = 16;   // rows per workgroup
layout(constant_id = 3) const uint BK = 32;   // keys per block

// Shared tiles hold vec4s (head_dim padded to D4 quads with zeros): every shared access moves
// four values, which matters most where each lane's access is a separate load (CPU devices).
// Output phase: invocation tid owns quad c4 = tid % D4 of rows tid / D4 + i * RPP, so one V quad
// it loads serves NACC rows. Score phase: invocation tid owns key j = tid % BK of rows
// tid / BK + i * SG, so one K quad serves NS rows.
const uint D4 = (D + 3u) / 4u;
const uint RPP = WG / D4;
const uint NACC = (BR + RPP - 1u) / RPP;
const uint SG = WG / BK;
const uint NS = (BR + SG - 1u) / SG;
const uint KS4 = D4 + 1u;  // padded row stride: the score phase reads K rows across lanes

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer KC { f16vec2 k_cache[]; };  // pairs: D is even
layout(std430, binding = 2) readonly buffer VC { f16vec2 v_cache[]; };
#if VKML_SPLIT
layout(std430, binding = 3) writeonly buffer PO { float part_o[]; };   // [splits, n_q*heads, D]
layout(std430, binding = 4) writeonly buffer PML { float part_ml[]; }; // [splits, n_q*heads, 2]
#else
layout(std430, binding = 3) writeonly buffer O { float o[]; };  // [n_q, heads, D]
#endif
#if VKML_POS_BUF
layout(std430, binding = 4 + VKML_SPLIT) readonly buffer P { uint positions[]; };  // [n_q]
#endif

layout(push_constant) uniform Params {
    uint n_q;
    uint heads;
    uint kv_heads;
    uint group;       // heads / kv_heads
    uint kv_len;      // _at variants: the most rows the caches hold (max_len)
    uint causal;      // 0 or 1
    uint chunk;       // keys per split (a multiple of BK); kv_len when not split
    float scale;      // logit scale
    float inv_log_n_train;  // 1 / ln(n_train); 0 disables the length scale
    uint n_train;
} p;

shared vec4 sq[BR * D4];
shared vec4 skv[BK * KS4];
shared float ss[BR * BK];
shared float s_m[BR];
shared float s_l[BR];
shared float s_alpha[BR];
shared uint s_lim[BR];

#define kNegInf uintBitsToFloat(0xFF800000u)

// Quad k4 of the cache row starting at pair index `base2`; dims past D read as zero.
vec4 load_k(uint base2, uint k4) {
    const vec2 a = vec2(k_cache[base2 + 2u * k4]);
    const vec2 b = 4u * k4 + 2u < D ? vec2(k_cache[base2 + 2u * k4 + 1u]) : vec2(0.0);
    return vec4(a, b);
}
vec4 load_v(uint base2, uint k4) {
    const vec2 a = vec2(v_cache[base2 + 2u * k4]);
    const vec2 b = 4u * k4 + 2u < D ? vec2(v_cache[base2 + 2u * k4 + 1u]) : vec2(0.0);
    return vec4(a, b);
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint kvh = gl_WorkGroupID.y;
    const uint split = gl_WorkGroupID.z;
    const uint rows_total = p.n_q * p.group;
    const uint r0 = gl_WorkGroupID.x * BR;
#if VKML_POS_BUF
    // A wild position is clamped so nothing is read past the caches.
    const uint kv_len = min(positions[0], p.kv_len - p.n_q) + p.n_q;
#else
    const uint kv_len = p.kv_len;
#endif
    const uint past = kv_len - p.n_q;  // host guarantees kv_len >= n_q when causal

    // Keys visible to the last valid row bound the walk; each row masks its own limit.
    const uint t_last = (min(rows_total, r0 + BR) - 1u) / p.group;
    const uint lo = split * p.chunk;
    const uint hi = min(lo + p.chunk, p.causal != 0u ? past + t_last + 1u : kv_len);

    for (uint e = tid; e < BR * D4; e += WG) {
        const uint r = e / D4, k4 = e - r * D4;
        const uint R = r0 + r;
        vec4 v = vec4(0.0);
        if (R < rows_total) {
            const uint t = R / p.group;
            const uint head = kvh * p.group + (R - t * p.group);
            float f = p.scale;
            const uint pos1 = past + t + 1u;  // 1-based position of the query
            if (p.inv_log_n_train > 0.0 && pos1 > p.n_train) f *= log(float(pos1)) * p.inv_log_n_train;
            const uint base = (t * p.heads + head) * D + 4u * k4;
            for (uint c = 0u; c < 4u; ++c)
                if (4u * k4 + c < D) v[c] = q[base + c] * f;
        }
        sq[e] = v;
    }
    if (tid < BR) {
        const uint R = r0 + tid;
        uint lim = 0u;
        if (R < rows_total) lim = p.causal != 0u ? past + R / p.group + 1u : kv_len;
        s_lim[tid] = min(lim, hi);
        s_m[tid] = kNegInf;
        s_l[tid] = 0.0;
    }

    const uint c4 = tid % D4, rr = tid / D4;
    vec4 acc[NACC];
    for (uint i = 0u; i < NACC; ++i) acc[i] = vec4(0.0);

    const uint row2 = p.kv_heads * D / 2u;  // pairs per cache row
    for (uint j0 = lo; j0 < hi; j0 += BK) {
        const uint nb = min(BK, hi - j0);
        barrier();  // the previous block's readers of skv / ss are done
        for (uint e = tid; e < BK * D4; e += WG) {
            const uint j = e / D4, k4 = e - j * D4;
            skv[j * KS4 + k4] = j < nb ? load_k((j0 + j) * row2 + kvh * D / 2u, k4) : vec4(0.0);
        }
        barrier();
        {
            const uint j = tid % BK, rg = tid / BK;
            if (rg < SG) {
                float sc[NS];
                for (uint i = 0u; i < NS; ++i) sc[i] = 0.0;
                for (uint k4 = 0u; k4 < D4; ++k4) {
                    const vec4 kv = skv[j * KS4 + k4];
                    for (uint i = 0u; i < NS; ++i) {
                        const uint r = rg + i * SG;
                        if (r < BR) sc[i] += dot(sq[r * D4 + k4], kv);
                    }
                }
                for (uint i = 0u; i < NS; ++i) {
                    const uint r = rg + i * SG;
                    if (r < BR) ss[r * BK + j] = j0 + j < s_lim[r] ? sc[i] : kNegInf;
                }
            }
        }
        barrier();
        // K is consumed: load V into the same tile while the row owners update the softmax.
        for (uint e = tid; e < BK * D4; e += WG) {
            const uint j = e / D4, k4 = e - j * D4;
            skv[j * KS4 + k4] = j < nb ? load_v((j0 + j) * row2 + kvh * D / 2u, k4) : vec4(0.0);
        }
        if (tid < BR) {
            const float m_old = s_m[tid];
            float mx = m_old;
            for (uint j = 0u; j < nb; ++j) mx = max(mx, ss[tid * BK + j]);
            float alpha = 1.0, sum = 0.0;
            if (mx != kNegInf) {  // else the row has seen no visible key yet: nothing changes
                alpha = exp(m_old - mx);  // 0 when m_old is -inf
                for (uint j = 0u; j < nb; ++j) {
                    const float e = exp(ss[tid * BK + j] - mx);  // masked: exp(-inf) = 0
                    ss[tid * BK + j] = e;
                    sum += e;
                }
            } else {
                for (uint j = 0u; j < nb; ++j) ss[tid * BK + j] = 0.0;
            }
            s_m[tid] = mx;
            s_l[tid] = s_l[tid] * alpha + sum;
            s_alpha[tid] = alpha;
        }
        barrier();
        for (uint i = 0u; i < NACC; ++i) {
            const uint r = rr + i * RPP;
            if (r < BR) acc[i] *= s_alpha[r];
        }
        for (uint j = 0u; j < nb; ++j) {
            const vec4 v = skv[j * KS4 + c4];
            for (uint i = 0u; i < NACC; ++i) {
                const uint r = rr + i * RPP;
                if (r < BR) acc[i] += ss[r * BK + j] * v;
            }
        }
    }
    barrier();  // s_m / s_l from the last block (or the initial values) are visible

    const uint rows_all = p.n_q * p.heads;
    for (uint i = 0u; i < NACC; ++i) {
        const uint r = rr + i * RPP;
        const uint R = r0 + r;
        if (r >= BR || R >= rows_total) continue;
        const uint t = R / p.group;
        const uint row = t * p.heads + kvh * p.group + (R - t * p.group);
#if VKML_SPLIT
        for (uint c = 0u; c < 4u; ++c)
            if (4u * c4 + c < D) part_o[(split * rows_all + row) * D + 4u * c4 + c] = acc[i][c];
        if (c4 == 0u) {
            part_ml[(split * rows_all + row) * 2u] = s_m[r];
            part_ml[(split * rows_all + row) * 2u + 1u] = s_l[r];
        }
#else
        const float inv = 1.0 / s_l[r];
        for (uint c = 0u; c < 4u; ++c)
            if (4u * c4 + c < D) o[row * D + 4u * c4 + c] = acc[i][c] * inv;
#endif
    }
}
