#version 450
// Embedding lookup: y[i, :] = table[ids[i] - first, :] for ids inside this dispatch's row range
// [first, first + rows) of the table; other ids are left to the dispatch that binds their range.
//!variant embed_f32 -DTABLE_T=float
//!variant embed_f16 -DTABLE_T=float16_t
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Table { TABLE_T table[]; };
layout(std430, binding = 1) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
    uint n;      // ids
    uint dim;    // columns
    uint first;  // first table row bound here
    uint rows;   // table rows bound here
} p;

void main() {
    const uint i = gl_WorkGroupID.y;  // one id per workgroup row
    if (i >= p.n) return;
    const uint r = ids[i] - p.first;  // wraps to a huge value below `first`
    if (r >= p.rows) return;
    for (uint c = gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x; c < p.dim;
         c += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
        y[i * p.dim + c] = float(table[r * p.dim + c]);
}
