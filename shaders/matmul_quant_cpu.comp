#version 450
// Matrix product with q4_0, q8_0 or f16 weights and many rows of X (prompt processing), shaped
// for SIMD-on-CPU devices (llvmpipe; see common/cpu_simd.glsl for the rules it follows):
//   y[t, row] (+)= sum over one chunk of 256 columns of x[t, i] * dequant(w)[row, i]
// One dispatch per chunk of columns, its offsets in push constants so that every address of x
// stays uniform: the first dispatch writes y, the next ones add to it, in column order (so the
// result does not depend on scheduling).
//
// A workgroup is one subgroup. Each lane owns RPT rows of W (lanes apart), and the workgroup
// NTOK consecutive tokens (rows of x, the same for every lane). A lane reads its rows' chunk as
// 16-byte texels (a gather) and dequantizes each weight exactly, in 2-3 vector operations with
// every bit position a constant, then meets it with the NTOK tokens (one FMA each; x comes in
// uniform vec4 loads broadcast to the lanes):
// - q4_0: the word is XORed with 0x88888888 (each nibble q becomes the 4-bit two's complement of
//   q - 8), the nibble shifted to the top and masked: exactly (q - 8) * 2^28 as an int; the
//   block's d is scaled by 2^-28 once.
// - q8_0: the byte shifted to the top and masked: q * 2^24; d scaled by 2^-24.
// - f16: unpackHalf2x16.
// The body is unrolled over compile-time bounds: inside a loop llvmpipe would load x lane by lane.
// On llvmpipe (LLVM 15, 2 cores) RPT x NTOK = 8 x 1, 4 x 2, 4 x 4, 2 x 4, 1 x 8 and 256- or
// 512-column chunks all ran q4_0 512x4096x4096 in 0.9-1.3 s: the unrolled body is bound by its
// register spills (every accumulator goes through the stack) and its size, not by the
// dequantization that more tokens would share. 8 x 1 and 256 columns compile fastest (about 3 s
// a pipeline against 40 s for 8 x 8 over 512 columns).
// Requires k a multiple of 256, W rows and W's binding offset 16-byte aligned (whole texels:
// q4_0 144, q8_0 272, f16 512 bytes per 256 columns), x 16-byte aligned; the host checks and
// otherwise uses the tiled kernel.
//!variant matmul_q4_0_cpu -DQ4_0=1
//!variant matmul_q8_0_cpu -DQ8_0=1
//!variant matmul_f16_cpu -DF16=1
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;              // the subgroup size
layout(constant_id = 1) const uint RPT = 8;   // rows per lane
layout(constant_id = 2) const uint NTOK = 1;  // tokens per workgroup

#define NB 8u  // blocks of 32 columns per chunk: 256 columns
#if F16
#define BB 64u  // bytes per 32 columns
#elif Q8_0
#define BB 34u
#else
#define BB 18u
#endif
#define NT (NB * BB / 16u)  // texels per row chunk

layout(push_constant) uniform Params {
    uint m;           // rows of W (columns of y) in this dispatch
    uint n;           // tokens (rows of x and y) in this dispatch
    uint k4;          // x row stride in vec4s (k / 4)
    uint w_off;       // bytes from the W binding start to row 0 at the chunk's first column
    uint row_bytes;   // bytes of one W row
    uint w_texels;    // texels of the W binding
    uint x_off;       // vec4s from the X binding start to token 0 at the chunk's first column
    uint y_off;       // floats from the Y binding start to y[0, 0]
    uint ldy;         // y row stride in floats
    uint accumulate;  // 0: y = the chunk's sums; otherwise y += them
    uint nib[16];     // nib[i] = i, see uniform_id()
} p;

layout(binding = 0) uniform usamplerBuffer w;  // W as 16-byte texels (RGBA32UI)
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 2) buffer Y { float y[]; };

#include "cpu_simd.glsl"

#if F16
// Column e (0..31) of 32-column group b: half e & 1 of word 16 b + e / 2.
#define WEIGHT(wd, b, e) unpackHalf2x16(wd[16u * (b) + (e) / 2u])[(e) & 1u]
#elif Q8_0
// Element e of block b is the signed byte 34 b + 2 + e; its d the f16 at byte 34 b.
uint elem_byte(uint b, uint e) { return 34u * b + 2u + e; }
#define WEIGHT(wd, b, e) \
    float(int(wd[elem_byte(b, e) / 4u] << (24u - 8u * (elem_byte(b, e) % 4u))) & int(0xFF000000u))
#define D_LIFT (1.0 / 16777216.0)
#else
// Element e of block b: the low (e < 16) or high nibble of byte 18 b + 2 + e % 16; its d the
// f16 at byte 18 b.
uint nib_byte(uint b, uint e) { return 18u * b + 2u + (e & 15u); }
uint nib_bit(uint b, uint e) { return 8u * (nib_byte(b, e) % 4u) + 4u * (e >> 4); }
#define WEIGHT(wd, b, e) \
    float(int((wd[nib_byte(b, e) / 4u] ^ 0x88888888u) << (28u - nib_bit(b, e))) & int(0xF0000000u))
#define D_LIFT (1.0 / 268435456.0)
#endif

void main() {
    const uint t0 = uniform_id(gl_WorkGroupID.y) * NTOK;
    const uint lane = gl_LocalInvocationID.x;
    const uint row0 = gl_WorkGroupID.x * gl_WorkGroupSize.x * RPT + lane;

    // Tokens past n read token n - 1 (their sums are not stored).
    uint xrow[NTOK];
    [[unroll]] for (uint t = 0u; t < NTOK; ++t) xrow[t] = p.x_off + min(t0 + t, p.n - 1u) * p.k4;

    uint wd[RPT][NT * 4u];
    float acc[RPT][NTOK];
    [[unroll]] for (uint r = 0u; r < RPT; ++r) {
        const uint row = min(row0 + r * gl_WorkGroupSize.x, p.m - 1u);
        LOAD_TEXELS(wd[r], (p.w_off + row * p.row_bytes) / 16u, NT);
        [[unroll]] for (uint t = 0u; t < NTOK; ++t) acc[r][t] = 0.0;
    }

    [[unroll]] for (uint b = 0u; b < NB; ++b) {
        float d[RPT];
        [[unroll]] for (uint r = 0u; r < RPT; ++r) {
#if F16
            d[r] = 1.0;
#else
            d[r] = unpackHalf2x16(wd[r][BB * b / 4u] >> (8u * (BB * b % 4u))).x * D_LIFT;
#endif
        }
        [[unroll]] for (uint e4 = 0u; e4 < 8u; ++e4) {
            vec4 xv[NTOK];
            [[unroll]] for (uint t = 0u; t < NTOK; ++t) xv[t] = x4[xrow[t] + 8u * b + e4];
            [[unroll]] for (uint c = 0u; c < 4u; ++c)
                [[unroll]] for (uint r = 0u; r < RPT; ++r) {
#if F16
                    const float q = WEIGHT(wd[r], b, 4u * e4 + c);
#else
                    const float q = WEIGHT(wd[r], b, 4u * e4 + c) * d[r];
#endif
                    [[unroll]] for (uint t = 0u; t < NTOK; ++t) acc[r][t] = fma(q, xv[t][c], acc[r][t]);
                }
        }
    }

    [[unroll]] for (uint r = 0u; r < RPT; ++r) {
        const uint row = row0 + r * gl_WorkGroupSize.x;
        [[unroll]] for (uint t = 0u; t < NTOK; ++t) {
            if (row < p.m && t0 + t < p.n) {
                const uint i = p.y_off + (t0 + t) * p.ldy + row;
                y[i] = p.accumulate != 0u ? y[i] + acc[r][t] : acc[r][t];
            }
        }
    }
}
