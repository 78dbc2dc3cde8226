#version 450
// Device limit probe: independent FMA chains in registers, the reference for "fraction of
// FMA throughput". Each invocation performs 8 chains x iters FMAs (2 FLOP each).
#extension GL_GOOGLE_include_directive : require
#include "indexing.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) writeonly buffer Out { float result[]; };

layout(push_constant) uniform Params { uint iters; float seed; } p;

void main() {
    uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    vec4 a = vec4(p.seed + float(i & 7u)), b = a + 1.0;
    const vec4 m = vec4(0.9999), c = vec4(0.0001);
    for (uint k = 0u; k < p.iters; ++k) {
        a = fma(a, m, c);
        b = fma(b, m, c);
    }
    result[i] = dot(a + b, vec4(1.0));
}
