#version 450
// q = quantize(x), f32 -> q8_0 or q4_0, one invocation per block, bit-identical to ggml's
// reference quantizer (and ops/src/quant_cpu.cpp):
//   q8_0: d = amax / 127, id = 1 / d (0 if d == 0), q = roundf(x * id), ties away from zero
//   q4_0: m = the first value of largest |x|, d = m / -8, q = min(15, int(x * id + 8.5))
// d is rounded to f16 with round-to-nearest-even done in integer arithmetic (packHalf2x16's
// rounding is not pinned down by the spec), and `precise` keeps the compiler from fusing
// x * id + 8.5 into an FMA, which would change the truncation on some inputs.
//
// Blocks are 2-byte aligned, so a block shares its first or last word with its neighbour:
// whole words are stored plainly (one owner), shared half-words with atomicAnd/atomicOr.
//!variant quantize_q8_0 -DQ8_0=1
//!variant quantize_q4_0 -DQ4_0=1
//
// quantize_act_q8 quantizes activations for the integer-dot GEMV (gemv_quant.comp, _dot): the
// q8_0 rule, but codes and scales in separate word-aligned arrays (xq: 8 words per block,
// xd: one f32 scale per block, not rounded to f16).
//!variant quantize_act_q8 -DACT=1
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
#if ACT
layout(std430, binding = 1) writeonly buffer XQ { uint xq[]; };
layout(std430, binding = 2) writeonly buffer XD { float xd[]; };
layout(push_constant) uniform Params {
    uint nblocks;
    uint x_off;   // elements
    uint xq_off;  // words
    uint xd_off;  // elements
} p;
#define Q8_0 1
#else
layout(std430, binding = 1) buffer Q { uint wq[]; };
layout(push_constant) uniform Params {
    uint nblocks;
    uint x_off;  // elements
    uint q_off;  // bytes from the binding start to the first block (even)
} p;
#endif

#include "indexing.glsl"
#if !ACT
#include "quant.glsl"
#endif

// f32 -> f16 bits, round to nearest even, as vkml::float_to_half (finite inputs; overflow to inf).
uint half_bits(float f) {
    const uint u = floatBitsToUint(f);
    const uint sign = (u >> 16) & 0x8000u;
    const uint a = u & 0x7FFFFFFFu;
    if (a >= 0x7F800000u) return sign | 0x7C00u | (a > 0x7F800000u ? 0x200u : 0u);
    if (a >= 0x477FF000u) return sign | 0x7C00u;  // rounds to >= 65520: inf
    if (a < 0x38800000u) {                          // below the smallest normal half
        if (a < 0x33000000u) return sign;           // below half the smallest subnormal
        const uint e = a >> 23;
        const uint mant = (a & 0x7FFFFFu) | 0x800000u;
        const uint shift = 126u - e;                // 14 + (112 - e) + ... : value = mant * 2^(e-150)
        // half subnormal unit is 2^-24: h = mant * 2^(e - 150 + 24) = mant >> (126 - e)
        uint h = mant >> shift;
        const uint rem = mant & ((1u << shift) - 1u);
        const uint halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (h & 1u) != 0u)) h += 1u;
        return sign | h;
    }
    uint h = ((a - 0x38000000u) >> 13);
    const uint rem = a & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) h += 1u;
    return sign | h;
}

// roundf: nearest, ties away from zero (a - trunc(a) is exact).
int round_away(float v) {
    const float a = abs(v);
    float t = trunc(a);
    if (a - t >= 0.5) t += 1.0;
    return int(v < 0.0 ? -t : t);
}

#if !ACT
void store_word(uint wi, uint v) { wq[wi] = v; }
// Bytes of a half word shared with the neighbouring block.
void store_half(uint wi, uint v, bool high) {
    const uint mask = high ? 0xFFFF0000u : 0x0000FFFFu;
    atomicAnd(wq[wi], ~mask);
    atomicOr(wq[wi], high ? (v << 16) : (v & 0xFFFFu));
}
#endif

void main() {
    const uint b = linear_group_id() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (b >= p.nblocks) return;
    const uint xb = p.x_off + b * 32u;
    float v[32];
    for (uint j = 0u; j < 32u; ++j) v[j] = x[xb + j];
#if ACT
    float amax = 0.0;
    for (uint j = 0u; j < 32u; ++j) amax = max(amax, abs(v[j]));
    const float d = amax / 127.0;
    const float id = d != 0.0 ? 1.0 / d : 0.0;
    xd[p.xd_off + b] = d;
    for (uint i = 0u; i < 8u; ++i) {
        uint w = 0u;
        for (uint j = 0u; j < 4u; ++j) w |= (uint(round_away(v[4u * i + j] * id)) & 0xFFu) << (8u * j);
        xq[p.xq_off + 8u * b + i] = w;
    }
#else

    // The block as little-endian words: bw[0] = d | q0 q1, bw[i] = bytes 4i .. 4i+3.
    uint bw[(QB + 3u) / 4u];
    for (uint i = 0u; i < bw.length(); ++i) bw[i] = 0u;
#if Q8_0
    float amax = 0.0;
    for (uint j = 0u; j < 32u; ++j) amax = max(amax, abs(v[j]));
    const float d = amax / 127.0;
    const float id = d != 0.0 ? 1.0 / d : 0.0;
    bw[0] = half_bits(d);
    for (uint j = 0u; j < 32u; ++j) {
        precise float s = v[j] * id;
        const uint q = uint(round_away(s)) & 0xFFu;
        const uint byte = 2u + j;
        bw[byte >> 2] |= q << ((byte & 3u) * 8u);
    }
#else
    float amax = 0.0, m = 0.0;
    for (uint j = 0u; j < 32u; ++j)
        if (amax < abs(v[j])) {
            amax = abs(v[j]);
            m = v[j];
        }
    const float d = m / -8.0;
    const float id = d != 0.0 ? 1.0 / d : 0.0;
    bw[0] = half_bits(d);
    for (uint j = 0u; j < 16u; ++j) {
        precise float s0 = v[j] * id + 8.5;
        precise float s1 = v[j + 16u] * id + 8.5;
        const uint q0 = uint(min(15, int(s0)));
        const uint q1 = uint(min(15, int(s1)));
        const uint byte = 2u + j;
        bw[byte >> 2] |= (q0 | (q1 << 4)) << ((byte & 3u) * 8u);
    }
#endif

    const uint o = p.q_off + b * QB;
    const uint a = o >> 2;
    const uint full = (QB - 2u) / 4u;  // whole words a block owns
    if ((o & 2u) == 0u) {
        for (uint i = 0u; i < full; ++i) store_word(a + i, bw[i]);
        store_half(a + full, bw[full], false);
    } else {
        store_half(a, bw[0], true);
        for (uint i = 1u; i <= full; ++i) store_word(a + i, (bw[i - 1u] >> 16) | (bw[i] << 16));
    }
#endif
}
