// GGUF block decoding (q8_0, q4_0, q6_k) from a buffer of uint words.
//
// Blocks are 34, 18 and 210 bytes: only 2-byte aligned. Every read here takes an even byte
// offset from the start of the binding and assembles the bytes from 32-bit words, so no
// 8/16-bit storage feature is needed.
//
// The including shader declares the block buffer as a uint array and names it with
//   #define QWORDS name      (default: wq)
// before the include, and picks the format with one of -DQ8_0=1, -DQ4_0=1, -DQ6_K=1 (which
// defines QK, elements per block, and QB, bytes per block, and dequant4()).
#ifndef VKML_QUANT_GLSL
#define VKML_QUANT_GLSL

#ifndef QWORDS
#define QWORDS wq
#endif

#if defined(Q8_0) && Q8_0
#define QK 32u
#define QB 34u
#elif defined(Q4_0) && Q4_0
#define QK 32u
#define QB 18u
#elif defined(Q6_K) && Q6_K
#define QK 256u
#define QB 210u
#endif

// Four bytes starting at an even byte offset, little-endian.
uint q_u32(uint byteoff) {
    const uint a = byteoff >> 2;
    const uint lo = QWORDS[a];
    if ((byteoff & 2u) == 0u) return lo;
    return (lo >> 16) | (QWORDS[a + 1u] << 16);
}

// The f16 at an even byte offset, as float (exact).
float q_half(uint byteoff) {
    return unpackHalf2x16(QWORDS[byteoff >> 2] >> ((byteoff & 2u) * 8u)).x;
}

// The signed byte at any byte offset.
int q_i8(uint byteoff) {
    return bitfieldExtract(int(QWORDS[byteoff >> 2]), int((byteoff & 3u) * 8u), 8);
}

// The four signed bytes of a word, as floats (byte 0 first).
vec4 i8x4(uint w) {
    const int s = int(w);
    return vec4(ivec4(s << 24, s << 16, s << 8, s) >> 24);
}

// The low (shift 0) or high (shift 4) nibbles of the four bytes of a word.
vec4 u4x4(uint w, uint shift) {
    const uvec4 b = (uvec4(w) >> uvec4(shift, shift + 8u, shift + 16u, shift + 24u)) & 0xFu;
    return vec4(b);
}

// Q6_K: the four 6-bit codes (0..63) of elements 128 h + 32 t + l .. + 3 (l a multiple of 4)
// of the super-block at byte o, packed one per byte.
uint q6_codes4(uint o, uint h, uint t, uint l) {
    const uint ql = q_u32(o + 64u * h + 32u * (t & 1u) + l);
    const uint qh = q_u32(o + 128u + 32u * h + l);
    return ((ql >> (4u * (t >> 1))) & 0x0F0F0F0Fu) | (((qh >> (2u * t)) & 0x03030303u) << 4);
}

vec4 u8x4(uint w) {
    return vec4((uvec4(w) >> uvec4(0u, 8u, 16u, 24u)) & 0xFFu);
}

#ifdef QK
// Elements e .. e + 3 (e a multiple of 4, e < QK) of the block at byte offset o.
vec4 dequant4(uint o, uint e) {
#if defined(Q8_0) && Q8_0
    return q_half(o) * i8x4(q_u32(o + 2u + e));
#elif defined(Q4_0) && Q4_0
    return q_half(o) * (u4x4(q_u32(o + 2u + (e & 15u)), e >= 16u ? 4u : 0u) - 8.0);
#else
    const uint h = e >> 7, j = e & 127u;
    const float s = q_half(o + 208u) * float(q_i8(o + 192u + (e >> 4)));
    return s * (u8x4(q6_codes4(o, h, j >> 5, j & 31u)) - 32.0);
#endif
}
#endif

#endif
