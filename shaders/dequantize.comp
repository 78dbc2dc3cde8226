#version 450
// y = dequantize(q): one invocation per four elements; f32 or f16 output.
//!variant dequantize_q8_0_f32 -DQ8_0=1
//!variant dequantize_q4_0_f32 -DQ4_0=1
//!variant dequantize_q6_k_f32 -DQ6_K=1
//!variant dequantize_q8_0_f16 -DQ8_0=1 -DY_F16=1
//!variant dequantize_q4_0_f16 -DQ4_0=1 -DY_F16=1
//!variant dequantize_q6_k_f16 -DQ6_K=1 -DY_F16=1
#extension GL_GOOGLE_include_directive : require
#if Y_F16
#extension GL_EXT_shader_16bit_storage : require
#endif

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Q { uint wq[]; };
#if Y_F16
layout(std430, binding = 1) writeonly buffer Y { float16_t y[]; };
#else
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
#endif

layout(push_constant) uniform Params {
    uint nvec;   // elements / 4
    uint q_off;  // bytes from the binding start to the first block (even)
    uint y_off;  // elements from the binding start to the first output
} p;

#include "indexing.glsl"
#include "quant.glsl"

void main() {
    const uint i = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.nvec) return;
    const uint g = 4u * i;
    const vec4 v = dequant4(p.q_off + (g / QK) * QB, g % QK);
    const uint o = p.y_off + g;
#if Y_F16
    y[o] = float16_t(v.x);
    y[o + 1u] = float16_t(v.y);
    y[o + 2u] = float16_t(v.z);
    y[o + 3u] = float16_t(v.w);
#else
    y[o] = v.x;
    y[o + 1u] = v.y;
    y[o + 2u] = v.z;
    y[o + 3u] = v.w;
#endif
}
