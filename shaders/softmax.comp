#version 450
// Row-wise softmax, log-softmax and entropy of softmax(scale * x) over the last dimension, f32.
//
// Whole-row kernels (softmax_sg / softmax_shared): one workgroup per row, looping over the row.
// Pass 1 keeps, per invocation, an online (running-max) sum of exp(z - m) and, for the entropy,
// sum exp(z - m) * (z - m); the workgroup then rescales the partials to the row max. Pass 2
// re-reads x and writes y. Two reads and one write per element, numerically stable.
//
// Split-row kernels, for few long rows (one workgroup per row would leave a GPU idle): the row
// is cut into `segs` segments; softmax_part_* writes each segment's (max, sum, entropy term) to
// a scratch buffer, and softmax_finish_* merges a row's partials in every segment's workgroup
// and writes that segment. A row longer than one binding (maxStorageBufferRange) is walked in
// windows of whole segments, one dispatch per window: x and y are bound from the window's
// first column (col0), and seg_count > 0 says the dispatch covers segments seg_base ..
// seg_base + seg_count - 1 of a single row.
//!variant softmax_sg -DVKML_SUBGROUP=1
//!variant softmax_shared
//!variant softmax_part_sg -DVKML_SUBGROUP=1 -DSTAGE=1
//!variant softmax_part_shared -DSTAGE=1
//!variant softmax_finish_sg -DVKML_SUBGROUP=1 -DSTAGE=2
//!variant softmax_finish_shared -DSTAGE=2
#extension GL_GOOGLE_include_directive : require

#ifndef STAGE
#define STAGE 0
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

#include "reduce.glsl"
#include "indexing.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };
#if STAGE == 0
layout(std430, binding = 1) writeonly buffer Y { float y[]; };  // [rows, cols], or [rows] for entropy
#elif STAGE == 1
layout(std430, binding = 1) writeonly buffer P { float part[]; };  // [rows, segs, 3]
#else
layout(std430, binding = 1) readonly buffer P { float part[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
#endif

layout(push_constant) uniform Params {
    uint rows;      // rows in this dispatch
    uint cols;
    uint row_base;  // global index of this dispatch's first row, mod q_dim (causal query index)
    uint q_dim;     // dim(-2): query index = global row % q_dim
    uint mode;      // 0 softmax, 1 log-softmax, 2 entropy
    uint causal;    // 0 or 1
    uint offset;    // causal offset (>= 0), clamped on the host
    float scale;
    uint segs;      // split-row kernels: segments per row, of seg_cols columns each
    uint seg_cols;
    uint x_off;     // split-row kernels: elements from the x / y / part binding starts
    uint y_off;
    uint part_off;
    uint col0;      // column of the row that x_off (and y_off) points at
    uint seg_base;  // windows of one long row: first segment, and segments in this dispatch
    uint seg_count;
} p;

#define kNegInf uintBitsToFloat(0xFF800000u)

// Columns [0, n) of a row take part; the rest are masked (probability 0).
uint valid_cols(uint row) {
    if (p.causal == 0u) return p.cols;
    const uint i = (p.row_base + row) % p.q_dim;
    return min(p.cols, i + p.offset + 1u);  // host keeps i + offset + 1 within 32 bits
}

// Online accumulation over columns [j0, j1): m = running max of z = scale * x, s = sum exp(z - m),
// t = sum exp(z - m) * (z - m).
void accumulate(uint base, uint j0, uint j1, inout float m, inout float s, inout float t) {
    for (uint j = j0 + gl_LocalInvocationID.x; j < j1; j += WG) {
        const float z = p.scale * x[base + j];
        if (z == kNegInf) continue;  // contributes nothing (avoids -inf - -inf)
        if (z > m) {
            const float d = m - z;  // <= 0; -inf while nothing was seen
            const float c = exp(d);
            t = s > 0.0 ? c * (t + d * s) : 0.0;
            s = c * s + 1.0;
            m = z;
        } else {
            const float e = exp(z - m);
            s += e;
            t += e * (z - m);
        }
    }
}

// Workgroup combine of the invocations' (m, s, t) at the common max: returns it in m, s, t.
void combine(inout float m, inout float s, inout float t, bool need_t) {
    const float mx = wg_max(m);
    const float f = s > 0.0 ? exp(m - mx) : 0.0;
    const float sum = wg_sum(s * f);
    if (need_t) t = wg_sum(s > 0.0 ? f * (t + (m - mx) * s) : 0.0);
    m = mx;
    s = sum;
}

#if STAGE != 1
// Writes y over columns [j0, j1) of the row given the row max and sum.
void write_row(uint base, uint ybase, uint j0, uint j1, uint n, float mx, float sum) {
    if (p.mode == 1u) {
        const float ls = log(sum);
        for (uint j = j0 + gl_LocalInvocationID.x; j < j1; j += WG)
            y[ybase + j] = j < n ? (p.scale * x[base + j] - mx) - ls : kNegInf;
    } else {
        const float inv = 1.0 / sum;
        for (uint j = j0 + gl_LocalInvocationID.x; j < j1; j += WG)
            y[ybase + j] = j < n ? exp(p.scale * x[base + j] - mx) * inv : 0.0;
    }
}
#endif

void main() {
    const uint tid = gl_LocalInvocationID.x;
#if STAGE == 0
    const uint row = linear_group_id();
    if (row >= p.rows) return;  // uniform across the workgroup
    const uint base = row * p.cols;
    const uint n = valid_cols(row);
    float m = kNegInf, s = 0.0, t = 0.0;
    accumulate(base, 0u, n, m, s, t);
    combine(m, s, t, p.mode == 2u);
    if (p.mode == 2u) {
        // H = -sum p log p = log S - (sum e^(z-M) (z-M)) / S
        if (tid == 0u) y[row] = log(s) - t / s;
        return;
    }
    write_row(base, base, 0u, p.cols, n, m, s);
#else
    const uint gid = linear_group_id();
    uint row = gid / p.segs, g = gid % p.segs;
    if (p.seg_count != 0u) {
        row = 0u;
        g = p.seg_base + gid;
        if (gid >= p.seg_count) return;
    }
    if (row >= p.rows) return;
    // Element (row, j) sits at x[base + j] (and y[ybase + j]); unsigned wrap-around is
    // intended: j >= col0 always.
    const uint base = row * p.cols + p.x_off - p.col0;
    const uint n = valid_cols(row);
    const uint j0 = g * p.seg_cols, j1 = min(p.cols, j0 + p.seg_cols);
#if STAGE == 1
    float m = kNegInf, s = 0.0, t = 0.0;
    accumulate(base, j0, min(j1, n), m, s, t);
    combine(m, s, t, p.mode == 2u);
    if (tid == 0u) {
        const uint o = p.part_off + (row * p.segs + g) * 3u;
        part[o] = m;
        part[o + 1u] = s;
        part[o + 2u] = t;
    }
#else
    // Merge the row's segment partials (an empty segment has s = 0).
    float m = kNegInf, s = 0.0, t = 0.0;
    for (uint i = tid; i < p.segs; i += WG) {
        const uint o = p.part_off + (row * p.segs + i) * 3u;
        const float m2 = part[o], s2 = part[o + 1u], t2 = part[o + 2u];
        if (s2 == 0.0) continue;  // (a NaN partial is merged, so NaN reaches the whole row)
        if (s == 0.0) {
            m = m2;
            s = s2;
            t = t2;
            continue;
        }
        const float mn = max(m, m2);
        const float c1 = exp(m - mn), c2 = exp(m2 - mn);
        t = c1 * (t + (m - mn) * s) + c2 * (t2 + (m2 - mn) * s2);
        s = c1 * s + c2 * s2;
        m = mn;
    }
    combine(m, s, t, p.mode == 2u);
    if (p.mode == 2u) {
        if (g == 0u && tid == 0u) y[p.y_off + row] = log(s) - t / s;
        return;
    }
    write_row(base, row * p.cols + p.y_off - p.col0, j0, j1, n, m, s);
#endif
#endif
}
