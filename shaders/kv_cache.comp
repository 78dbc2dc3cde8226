#version 450
// KV-cache append: k, v [n, kv_heads, head_dim] f32 -> rows [pos, pos + n) of the f16 caches
// [max_ctx, kv_heads, head_dim]. The caches are bound from an aligned row at or before pos (rows
// need not start at an aligned offset), so the distance to pos is a push constant.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#include "indexing.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer K { float k[]; };
layout(std430, binding = 1) readonly buffer V { float v[]; };
layout(std430, binding = 2) buffer KC { float16_t k_cache[]; };
layout(std430, binding = 3) buffer VC { float16_t v_cache[]; };

layout(push_constant) uniform Params {
    uint n;      // elements of k (= of v)
    uint first;  // (pos - first bound row) * kv_heads * head_dim
} p;

void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    k_cache[p.first + i] = float16_t(k[i]);
    v_cache[p.first + i] = float16_t(v[i]);
}
