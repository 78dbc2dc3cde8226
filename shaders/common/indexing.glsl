// Linear workgroup index for 2-D dispatch grids: ops split more than
// maxComputeWorkGroupCount[0] groups over y (see ops/src/op_common.hpp: grid_1d).
#ifndef VKML_INDEXING_GLSL
#define VKML_INDEXING_GLSL

uint linear_group_id() {
    return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}

#endif
