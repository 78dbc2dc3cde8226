// Helpers for kernels shaped for SIMD-on-CPU devices (llvmpipe, where a subgroup is one SIMD
// vector and every invocation a lane of it), such as gemv_quant_cpu.comp.
//
// llvmpipe turns a storage-buffer load whose address differs between lanes into a loop over the
// lanes and components (per scalar: a bounds check, a branch, a load and a round trip of the
// result vector through the stack), a texel fetch from a buffer view into a gather (one 16-byte
// load per lane, no branch), and a load whose address it can prove uniform into one scalar load
// broadcast to the vector. Its proof (nir_src_is_always_uniform) accepts push constants,
// constants and arithmetic on them, and it takes the scalar path only outside control flow: a
// load inside a loop that is not unrolled goes lane by lane again.
//
// The including shader declares, before the include:
//   layout(push_constant) uniform ... { ...; uint w_texels; ...; uint nib[16]; } p;
//       (nib[i] = i, see uniform_id(); w_texels: texels of the W binding)
//   layout(binding = ...) uniform usamplerBuffer w;   (W as 16-byte RGBA32UI texels)
#ifndef VKML_CPU_SIMD_GLSL
#define VKML_CPU_SIMD_GLSL

// wd[0 .. 4 n) = the 32-bit words of texels t0, t0 + step, .., t0 + (n - 1) step of W, in
// order (each texel index clamped to the binding). A macro, not a function, so that the word
// array is never copied.
#define LOAD_TEXELS(wd, t0, n, step)                                                    \
    [[unroll]] for (uint i_ = 0u; i_ < (n); ++i_) {                                     \
        const uvec4 t_ = texelFetch(w, int(min((t0) + i_ * (step), p.w_texels - 1u)));  \
        [[unroll]] for (uint c_ = 0u; c_ < 4u; ++c_) wd[4u * i_ + c_] = t_[c_];         \
    }

// v rebuilt from push-constant loads, so llvmpipe sees it as uniform (a push-constant array
// read with a dynamically uniform index is valid Vulkan; elsewhere it is a few scalar ops).
// gl_WorkGroupID does not pass llvmpipe's test by itself.
uint uniform_id(uint v) {
    uint r = 0u;
    [[unroll]] for (uint i = 0u; i < 32u; i += 4u) r |= p.nib[(v >> i) & 15u] << i;
    return r;
}

#endif
