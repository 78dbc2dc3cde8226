#version 450
// Conversion between f32 and f16 storage (round to nearest even, as the hardware does).
//!variant cast_f32_f16 -DSRC_T=float -DDST_T=float16_t
//!variant cast_f16_f32 -DSRC_T=float16_t -DDST_T=float
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#include "indexing.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X { SRC_T x[]; };
layout(std430, binding = 1) writeonly buffer Y { DST_T y[]; };

layout(push_constant) uniform Params { uint n; } p;

void main() {
    uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    y[i] = DST_T(float(x[i]));
}
