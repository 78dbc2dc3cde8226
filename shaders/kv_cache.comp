#version 450
// KV-cache append: k, v [n, kv_heads, head_dim] f32 -> rows [pos, pos + n) of the f16 caches
// [max_ctx, kv_heads, head_dim].
//
// kv_cache: pos is known when recording. The caches are bound from an aligned row at or before
// pos (rows need not start at an aligned offset), so the distance to pos is a push constant.
// kv_cache_at: pos = positions[0] is read on the device, so one recording serves every decode
// step (replay); the whole caches are bound, and writes past `limit` are dropped (the host
// checks pos, the kernel must still never write out of bounds).
//!variant kv_cache
//!variant kv_cache_at -DVKML_POS_BUF=1
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#include "indexing.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer K { float k[]; };
layout(std430, binding = 1) readonly buffer V { float v[]; };
layout(std430, binding = 2) buffer KC { float16_t k_cache[]; };
layout(std430, binding = 3) buffer VC { float16_t v_cache[]; };
#if VKML_POS_BUF
layout(std430, binding = 4) readonly buffer P { uint positions[]; };
#endif

layout(push_constant) uniform Params {
    uint n;      // elements of k (= of v)
    uint first;  // kv_cache: (pos - first bound row) * kv_heads * head_dim
    uint row;    // kv_cache_at: kv_heads * head_dim
    uint limit;  // kv_cache_at: elements of one bound cache
} p;

void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.n) return;
#if VKML_POS_BUF
    const uint pos = positions[0];
    if (pos >= p.limit / p.row) return;  // before multiplying: a wild pos must not wrap around
    const uint e = pos * p.row + i;
    if (e >= p.limit) return;
#else
    const uint e = p.first + i;
#endif
    k_cache[e] = float16_t(k[i]);
    v_cache[e] = float16_t(v[i]);
}
