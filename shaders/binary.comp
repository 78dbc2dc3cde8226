#version 450
// y = a (op) b, f32, with b broadcast over rows when it holds one row (b_n == cols).
#extension GL_GOOGLE_include_directive : require
#include "indexing.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
    uint n;    // elements of a and y
    uint b_n;  // elements of b: n, or a divisor of n (broadcast)
    uint op;   // 0 add, 1 mul
} p;

void main() {
    uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    float bv = b[p.b_n == p.n ? i : i % p.b_n];
    y[i] = p.op == 0u ? a[i] + bv : a[i] * bv;
}
