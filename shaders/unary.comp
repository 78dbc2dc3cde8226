#version 450
// y = f(alpha * x + beta) elementwise, f32. One pipeline serves every unary op: the op code is a
// push constant (uniform across the dispatch, so the branch costs nothing).
#extension GL_GOOGLE_include_directive : require
#include "indexing.glsl"
#include "activations.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
    uint n;
    uint op;  // 0 identity(scale), 1 silu, 2 gelu, 3 selu
    float alpha;
    float beta;
} p;

void main() {
    uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    float v = p.alpha * x[i] + p.beta;
    if (p.op == 1u) v = silu(v);
    else if (p.op == 2u) v = gelu(v);
    else if (p.op == 3u) v = selu(v);
    y[i] = v;
}
