#version 450
// Row-wise argmax and top-k over the last dimension of an f32 tensor, one workgroup per row.
//
// Elements are ranked by a total order: value descending (NaN above +inf, -0 equal to +0), then
// index ascending. Top-k selects the k best by repeated workgroup argmax with exclusion: each
// invocation keeps the M best not-yet-taken elements of its strided slice of the row, the
// workgroup picks the best of the invocations' heads, and only the invocation that owned the
// winner advances, rescanning its slice (for elements after the winner in the order) once its
// list runs out. Each step therefore costs one workgroup reduction, not a pass over the row.
//
// Argmax of few long rows is split: argmax_part_* finds each segment's best (key, index) and
// argmax_finish_* picks the best of a row's segments.
//
// Rows longer than one binding (maxStorageBufferRange): argmax binds x per window of whole
// segments (x_off, col0, seg_base, seg_count); top_k finds each window's k best (written with
// idx_base added), then the k best of those candidates, and top_k_map turns the winners'
// candidate positions back into column indices.
//!variant argmax_sg -DVKML_SUBGROUP=1 -DARGMAX=1
//!variant argmax_shared -DARGMAX=1
//!variant argmax_part_sg -DVKML_SUBGROUP=1 -DARGMAX=1 -DSTAGE=1
//!variant argmax_part_shared -DARGMAX=1 -DSTAGE=1
//!variant argmax_finish_sg -DVKML_SUBGROUP=1 -DARGMAX=1 -DSTAGE=2
//!variant argmax_finish_shared -DARGMAX=1 -DSTAGE=2
//!variant top_k_sg -DVKML_SUBGROUP=1
//!variant top_k_shared
//!variant top_k_map -DSTAGE=3
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

#include "reduce.glsl"
#include "indexing.glsl"

#ifndef STAGE
#define STAGE 0
#endif

#if STAGE == 3
layout(std430, binding = 0) readonly buffer C { uint cand[]; };  // candidates' column indices
layout(std430, binding = 1) buffer I { uint out_idx[]; };        // [k]: positions -> columns
#elif STAGE == 2
layout(std430, binding = 0) readonly buffer P { uint part[]; };  // [rows, segs, 2]: key, index
#else
layout(std430, binding = 0) readonly buffer X { float x[]; };
#endif
#if STAGE == 3
#define M 1u
#elif defined(ARGMAX)
#define M 1u
#if STAGE == 1
layout(std430, binding = 1) writeonly buffer P { uint part[]; };
#else
layout(std430, binding = 1) writeonly buffer I { uint out_idx[]; };  // [rows]
#endif
#else
#define M 4u
layout(std430, binding = 1) writeonly buffer V { float out_val[]; };  // [rows, k]
layout(std430, binding = 2) buffer I { uint out_idx[]; };  // [rows, k]; read to resume a split
#endif

layout(push_constant) uniform Params {
    uint rows;
    uint cols;
    uint k;
    uint t_begin;  // this dispatch finds ranks [t_begin, t_end); a split (for llvmpipe's loop
    uint t_end;    // limit) resumes after rank t_begin - 1, written by the previous dispatch
    uint segs;     // split argmax: segments per row, of seg_cols columns each
    uint seg_cols;
    uint x_off;     // elements from the x (top_k_map: cand) binding start to column col0 of row 0
    uint col0;
    uint seg_base;  // split argmax over one long row: this dispatch's segments
    uint seg_count;
    uint part_off;  // elements from the part binding start
    uint o_off;     // elements from the output binding start(s)
    uint idx_base;  // top_k: added to the indices written (subtracted when resuming)
} p;

// Monotone map of the value order onto unsigned integers. 0 is never produced (-inf maps to
// 0x007FFFFF), so it marks "no candidate".
uint order_key(float v) {
    uint b = floatBitsToUint(v);
    if ((b & 0x7FFFFFFFu) > 0x7F800000u) return 0xFFFFFFFFu;  // any NaN: above +inf
    if (b == 0x80000000u) b = 0u;                              // -0 ranks as +0
    return (b & 0x80000000u) != 0u ? ~b : (b | 0x80000000u);
}

uint lk[M];
uint li[M];
uint cnt = 0u;
uint head = 0u;

#if STAGE < 2
// Refills this invocation's list with the M best elements of its slice of columns [j0, j1) that
// come strictly after (tk, ti) in the order (all of them when !bounded), best first.
void rescan(uint base, uint j0, uint j1, bool bounded, uint tk, uint ti) {
    [[unroll]] for (uint q = 0u; q < M; ++q) {
        lk[q] = 0u;  // "none": below every real key
        li[q] = 0xFFFFFFFFu;
    }
    cnt = 0u;
    head = 0u;
    for (uint j = j0 + gl_LocalInvocationID.x; j < j1; j += WG) {
        uint key = order_key(x[base + j]);
        if (bounded && !(key < tk || (key == tk && j > ti))) continue;
        if (key <= lk[M - 1u]) continue;  // an equal key kept earlier has the lower index
        cnt = min(cnt + 1u, M);
        // Insert by a fixed compare-exchange chain (unrolled: no data-dependent loop).
        uint idx = j;
        [[unroll]] for (uint q = 0u; q < M; ++q) {
            // The displaced element carries on down; on equal keys the lower index goes first.
            if (key > lk[q] || (key == lk[q] && idx < li[q])) {
                const uint tk2 = lk[q], ti2 = li[q];
                lk[q] = key;
                li[q] = idx;
                key = tk2;
                idx = ti2;
            }
        }
    }
}

#endif

void main() {
#if STAGE == 3
    const uint i = gl_GlobalInvocationID.x;
    if (i >= p.k) return;
    out_idx[p.o_off + i] = cand[p.x_off + out_idx[p.o_off + i]];
#elif STAGE == 1
    const uint gid = linear_group_id();
    uint row = gid / p.segs, g = gid % p.segs;
    if (p.seg_count != 0u) {
        row = 0u;
        g = p.seg_base + gid;
        if (gid >= p.seg_count) return;
    }
    if (row >= p.rows) return;  // uniform across the workgroup
    const uint j0 = g * p.seg_cols;
    // Column j of the row is x[row * cols + x_off - col0 + j] (wrap-around intended: j >= col0).
    rescan(row * p.cols + p.x_off - p.col0, j0, min(p.cols, j0 + p.seg_cols), false, 0u, 0u);
    uint key = lk[0], idx = li[0];
    wg_best(key, idx);
    if (gl_LocalInvocationID.x == 0u) {
        const uint o = p.part_off + (row * p.segs + g) * 2u;
        part[o] = key;
        part[o + 1u] = idx;
    }
#elif STAGE == 2
    const uint row = linear_group_id();
    if (row >= p.rows) return;
    uint key = 0u, idx = 0xFFFFFFFFu;
    for (uint i = gl_LocalInvocationID.x; i < p.segs; i += WG) {
        const uint o = p.part_off + (row * p.segs + i) * 2u;
        const uint k2 = part[o], i2 = part[o + 1u];
        if (k2 > key || (k2 == key && i2 < idx)) {
            key = k2;
            idx = i2;
        }
    }
    wg_best(key, idx);
    if (gl_LocalInvocationID.x == 0u) out_idx[p.o_off + row] = idx;
#else
    const uint row = linear_group_id();
    if (row >= p.rows) return;  // uniform across the workgroup
    const uint base = row * p.cols + p.x_off;

#ifdef ARGMAX
    rescan(base, 0u, p.cols, false, 0u, 0u);
#else
    const uint ob = p.o_off + row * p.k;
    if (p.t_begin == 0u) {
        rescan(base, 0u, p.cols, false, 0u, 0u);
    } else {
        const uint prev = out_idx[ob + p.t_begin - 1u] - p.idx_base;
        rescan(base, 0u, p.cols, true, order_key(x[base + prev]), prev);
    }
#endif
    for (uint t = p.t_begin; t < p.t_end; ++t) {
        uint key = head < cnt ? lk[head] : 0u;
        uint idx = head < cnt ? li[head] : 0xFFFFFFFFu;
        wg_best(key, idx);
        if (gl_LocalInvocationID.x == 0u) {
#ifdef ARGMAX
            out_idx[p.o_off + row] = idx;
#else
            out_val[ob + t] = x[base + idx];
            out_idx[ob + t] = idx + p.idx_base;
#endif
        }
        if (head < cnt && li[head] == idx) {
            ++head;
            if (head == cnt && cnt == M) rescan(base, 0u, p.cols, true, key, idx);
        }
    }
#endif
}
