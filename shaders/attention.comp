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
//!variant attention_f16 -DVKML_SPLIT=0
//!variant attention_f16_split -DVKML_SPLIT=1
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint D = 64;    // head_dim
layout(constant_id = 2) const uint BR = 16;   // rows per workgroup
layout(constant_id = 3) const uint BK = 32;   // keys per block

const uint KS = D + 1u;  // padded shared row stride: the score loop reads K rows across lanes
const uint NACC = (BR * D + WG - 1u) / WG;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer KC { float16_t k_cache[]; };
layout(std430, binding = 2) readonly buffer VC { float16_t v_cache[]; };
#if VKML_SPLIT
layout(std430, binding = 3) writeonly buffer PO { float part_o[]; };   // [splits, n_q*heads, D]
layout(std430, binding = 4) writeonly buffer PML { float part_ml[]; }; // [splits, n_q*heads, 2]
#else
layout(std430, binding = 3) writeonly buffer O { float o[]; };  // [n_q, heads, D]
#endif

layout(push_constant) uniform Params {
    uint n_q;
    uint heads;
    uint kv_heads;
    uint group;       // heads / kv_heads
    uint kv_len;
    uint causal;      // 0 or 1
    uint chunk;       // keys per split (a multiple of BK); kv_len when not split
    float scale;      // logit scale
    float inv_log_n_train;  // 1 / ln(n_train); 0 disables the length scale
    uint n_train;
} p;

shared float sq[BR * D];
shared float skv[BK * KS];
shared float ss[BR * BK];
shared float s_m[BR];
shared float s_l[BR];
shared float s_alpha[BR];
shared uint s_lim[BR];

#define kNegInf uintBitsToFloat(0xFF800000u)

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint kvh = gl_WorkGroupID.y;
    const uint split = gl_WorkGroupID.z;
    const uint rows_total = p.n_q * p.group;
    const uint r0 = gl_WorkGroupID.x * BR;
    const uint past = p.kv_len - p.n_q;  // host guarantees kv_len >= n_q when causal

    // Keys visible to the last valid row bound the walk; each row masks its own limit.
    const uint t_last = (min(rows_total, r0 + BR) - 1u) / p.group;
    const uint lo = split * p.chunk;
    const uint hi = min(lo + p.chunk, p.causal != 0u ? past + t_last + 1u : p.kv_len);

    for (uint e = tid; e < BR * D; e += WG) {
        const uint r = e / D, k = e - r * D;
        const uint R = r0 + r;
        float v = 0.0;
        if (R < rows_total) {
            const uint t = R / p.group;
            const uint head = kvh * p.group + (R - t * p.group);
            float f = p.scale;
            const uint pos1 = past + t + 1u;  // 1-based position of the query
            if (p.inv_log_n_train > 0.0 && pos1 > p.n_train) f *= log(float(pos1)) * p.inv_log_n_train;
            v = q[(t * p.heads + head) * D + k] * f;
        }
        sq[e] = v;
    }
    if (tid < BR) {
        const uint R = r0 + tid;
        uint lim = 0u;
        if (R < rows_total) lim = p.causal != 0u ? past + R / p.group + 1u : p.kv_len;
        s_lim[tid] = min(lim, hi);
        s_m[tid] = kNegInf;
        s_l[tid] = 0.0;
    }

    float acc[NACC];
    for (uint i = 0u; i < NACC; ++i) acc[i] = 0.0;

    const uint kv_stride = p.kv_heads * D;
    for (uint j0 = lo; j0 < hi; j0 += BK) {
        const uint nb = min(BK, hi - j0);
        barrier();  // the previous block's readers of skv / ss are done
        for (uint e = tid; e < BK * D; e += WG) {
            const uint j = e / D, k = e - j * D;
            skv[j * KS + k] = j < nb ? float(k_cache[(j0 + j) * kv_stride + kvh * D + k]) : 0.0;
        }
        barrier();
        for (uint e = tid; e < BR * BK; e += WG) {
            const uint r = e / BK, j = e - r * BK;
            float s = kNegInf;
            if (j0 + j < s_lim[r]) {
                s = 0.0;
                for (uint k = 0u; k < D; ++k) s = fma(sq[r * D + k], skv[j * KS + k], s);
            }
            ss[e] = s;
        }
        barrier();
        // K is consumed: load V into the same tile while the row owners update the softmax.
        for (uint e = tid; e < BK * D; e += WG) {
            const uint j = e / D, k = e - j * D;
            skv[j * KS + k] = j < nb ? float(v_cache[(j0 + j) * kv_stride + kvh * D + k]) : 0.0;
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
            const uint e = tid + i * WG;
            if (e < BR * D) {
                const uint r = e / D, d = e - r * D;
                float a = acc[i] * s_alpha[r];
                for (uint j = 0u; j < nb; ++j) a = fma(ss[r * BK + j], skv[j * KS + d], a);
                acc[i] = a;
            }
        }
    }
    barrier();  // s_m / s_l from the last block (or the initial values) are visible

    const uint rows_all = p.n_q * p.heads;
    for (uint i = 0u; i < NACC; ++i) {
        const uint e = tid + i * WG;
        if (e >= BR * D) break;
        const uint r = e / D, d = e - r * D;
        const uint R = r0 + r;
        if (R >= rows_total) continue;
        const uint t = R / p.group;
        const uint row = t * p.heads + kvh * p.group + (R - t * p.group);
#if VKML_SPLIT
        part_o[(split * rows_all + row) * D + d] = acc[i];
        if (d == 0u) {
            part_ml[(split * rows_all + row) * 2u] = s_m[r];
            part_ml[(split * rows_all + row) * 2u + 1u] = s_l[r];
        }
#else
        o[row * D + d] = acc[i] / s_l[r];
#endif
    }
}
