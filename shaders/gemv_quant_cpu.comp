#version 450
// Matrix-vector products with q4_0, q8_0, q6_k or f16 weights, shaped for SIMD-on-CPU devices
// (llvmpipe, where a subgroup is one SIMD vector), for each row t of X (grid z; decode has one,
// a prompt many):
//   part[chunk, t, row] = sum over the 512 columns of the chunk of x[t, i] * dequant(w)[row, i]
//   y[t, row] = sum over chunks of part[chunk, t, row]            (gemv_cpu_reduce)
// (chunk-major, so the HALF variant's chunk is a range of its own.)
//
// How llvmpipe compiles loads (common/cpu_simd.glsl) shapes it:
// - each lane owns RPT rows (8 lanes apart) and reads a chunk of each, 16 blocks = 288 bytes
//   (q8_0: 544), as 18 (34) fetches of 16-byte texels: W is bound as a uniform texel buffer
//   (RGBA32UI). q4_0 4096x14336 took 7.9 ms with 9 u64vec4 storage-buffer loads per row chunk,
//   5.0 ms with the texels;
// - every lane needs the same 512 values of x, read with loads whose address is uniform by
//   llvmpipe's own test; the chunk index and the row of x go through uniform_id();
// - the body is unrolled over compile-time bounds ([[unroll]]), so no loop hides that either,
//   and every nibble's (byte's) word and bit position is a constant: the masked (shifted) word
//   converts exactly to q * 2^shift, and x is pre-scaled by 2^-shift once per workgroup (3
//   vector operations per weight: and or shift, convert, fma).
// Consecutive workgroups take consecutive chunks of the same rows, so each row streams; with
// INTERLEAVED weights (what models upload on CPU devices) each workgroup's chunk is one
// contiguous block and each fetch reads the lanes' adjacent texels. For a
// prompt the rows of W are read once per row of x: a kernel that dequantized each weight once
// for several rows of x measured slower on llvmpipe (docs/quantization.md, session 8).
// q6_k: a chunk is two 210-byte super-blocks, 420 bytes = 105 words, word aligned but not
// 16-byte aligned; each lane reads the 28 texels (HALF: 15) from the one its chunk starts in,
// and moves the words into place with two selects per word (the phase, 0..3 words, differs
// between lanes), after which every bit position is again a constant. A word of ql and
// one of qh then give the 6-bit codes of 4 weights as the 4 bytes of one word (4 or 5
// operations), and each byte costs 3 as in q4_0 (about 4.1 vector operations per weight; reading
// the low and high bits as two fields costs 6).
// No constant may enter the accumulation chain (e.g. scaling a converted value by 16): then
// LLVM's extractelement scalarization pulls the whole chain, lane by lane, into llvmpipe's
// per-lane store loop at the end (measured 5x slower).
// Requires k a multiple of 512 (or 512 c + 256, see PHASED and HALF), W rows 16-byte (q6_k:
// 4-byte, or 2-byte with PHASED) and x 16-byte aligned in their bindings; the host checks and
// otherwise uses gemv_quant.comp.
//!variant gemv_q4_0_cpu -DQ4_0=1
//!variant gemv_q4_0_cpu_half -DQ4_0=1 -DHALF=1
//!variant gemv_q8_0_cpu -DQ8_0=1
//!variant gemv_q8_0_cpu_half -DQ8_0=1 -DHALF=1
//!variant gemv_q6_k_cpu -DQ6_K=1
//!variant gemv_q6_k_cpu_half -DQ6_K=1 -DHALF=1
//!variant gemv_f16_cpu -DF16=1
//!variant gemv_f16_cpu_half -DF16=1 -DHALF=1
//!variant gemv_cpu_reduce -DREDUCE=1
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;              // the subgroup size
layout(constant_id = 1) const uint RPT = 16;  // rows per lane (the host passes its own)
// k = 512 c + 256: the last 256 columns are the HALF variant's (8 blocks: 9, 17 or 32 texels a
// row; q6_k: one super-block). q4_0, q8_0 and f16 rows stay 16-byte aligned, whole texels; q6_k
// rows are then only 2-byte aligned, so a chunk starts 0 or 2 bytes into a word (PHASED).
layout(constant_id = 2) const bool PHASED = false;
// W's rows interleaved in groups of one workgroup's (lanes x RPT) rows, q6_k chunks padded to
// whole texels (ops::upload_matmul_weight, interleaved_texel()): one texel fetch reads the
// lanes' adjacent texels instead of a texel of 8 rows a row apart (up to 37% faster on
// llvmpipe, bench/RESULTS.md).
layout(constant_id = 3) const bool INTERLEAVED = false;

#if HALF
#define NB 8u   // the last 256 columns of k = 512 c + 256, as chunk 0 of a dispatch of its own
#define NSB 1u  // q6_k: super-blocks per chunk
#else
#define NSB 2u
#endif
#if F16
#define BB 64u  // 32 halves; a chunk is 1024 bytes = 64 texels of a row
#elif Q8_0
#define BB 34u  // bytes per block; a chunk is 544 bytes = 34 texels of a row
#elif Q6_K
#define BB 210u // bytes per super-block; a chunk is 105 words (HALF: 53), read as 28 (15) texels
#define NTX (NSB == 2u ? 28u : 15u)
#define NTP (NSB == 2u ? 27u : 14u)  // INTERLEAVED: the chunk padded to whole texels
#else
#define BB 18u  // a chunk is 288 bytes = 18 texels of a row
#endif
#ifndef NB
#define NB 16u  // blocks per chunk: 512 columns
#endif
#define NT (NB * BB / 16u)  // texels per row chunk (not q6_k)

layout(push_constant) uniform Params {
    uint m;          // rows of W in this dispatch
    uint chunks;     // gemv_cpu_reduce: chunks of partial sums, k / 512 and one for a half chunk
    uint w_off;      // bytes from the W binding start to row 0
    uint row_bytes;  // bytes of one W row
    uint w_texels;   // texels of the W binding (q6_k reads up to 2 past its chunk, clamped)
    uint x_off;      // vec4s from the X binding start
    uint part_off;   // elements from the partial-sum binding start
    uint y_off;      // gemv_cpu_reduce: elements from the Y binding start
    uint x_stride;   // vec4s from one row of X to the next
    uint ldy;        // gemv_cpu_reduce: elements from one row of Y to the next
    uint nib[16];    // nib[i] = i, see uniform_id()
} p;

#if REDUCE
layout(std430, binding = 0) readonly buffer Part { float part[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

void main() {
    const uint row = gl_GlobalInvocationID.x, t = gl_WorkGroupID.z;
    if (row >= p.m) return;
    float s = 0.0;
    for (uint c = 0u; c < p.chunks; ++c) s += part[p.part_off + (c * gl_NumWorkGroups.z + t) * p.m + row];
    y[p.y_off + t * p.ldy + row] = s;
}
#else
layout(binding = 0) uniform usamplerBuffer w;  // W as 16-byte texels (RGBA32UI)
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 2) writeonly buffer Part { float part[]; };

#include "cpu_simd.glsl"

// INTERLEAVED: the first texel of this lane's pass r over chunk `chunk` (nt texels a row) in
// the workgroup's group of rows, where each chunk's rows take G nt texels (G = lanes RPT), pass
// r's lanes r nt lanes of them, and a lane's texels follow `lanes` apart.
uint interleaved_texel(uint chunk, uint r, uint nt) {
    const uint lanes = gl_WorkGroupSize.x;
    return p.w_off / 16u + gl_WorkGroupID.y * RPT * lanes * (p.row_bytes / 16u) + (chunk * RPT + r) * nt * lanes +
           gl_LocalInvocationID.x;
}

#if F16
#elif Q8_0
// Element e (0..31) of block b is the signed byte 34 b + 2 + e of the chunk: word elem_word,
// shifted left by elem_lift so that its top bit is the word's (exactly q * 2^24 as an int).
uint elem_word(uint b, uint e) { return (34u * b + 2u + e) / 4u; }
uint elem_lift(uint b, uint e) { return 24u - 8u * ((34u * b + 2u + e) % 4u); }
#elif Q6_K
// Element i (0..511) of the chunk: super-block s = i / 256, e = i % 256 = 128 h + 32 q + l. Its
// low nibble is in ql[64 h + 32 (q & 1) + l] (the high half for q >= 2), its two high bits in
// qh[32 h + l] at bit 2 q, its scale is scales[e / 16]; the super-block's f16 d is at byte 208.
uint lo_byte(uint i) {
    const uint e = i % 256u;
    return 210u * (i / 256u) + 64u * (e / 128u) + 32u * ((e / 32u) & 1u) + e % 32u;
}
#else
// Element e (0..31) of block b: its nibble is at byte 18 b + 2 + e % 16 of the chunk, the high
// half for e >= 16. nibble_word: the 32-bit word; nibble_bit: the bit offset inside it.
uint nibble_word(uint b, uint e) { return (18u * b + 2u + (e & 15u)) / 4u; }
uint nibble_bit(uint b, uint e) { return 8u * ((18u * b + 2u + (e & 15u)) % 4u) + 4u * (e >> 4); }
// The exponent the masked value carries: the top nibble (bit 28) is read 4 bits lower, so every
// masked value stays below 2^31 and converts as a signed integer.
uint nibble_scale(uint b, uint e) { return min(nibble_bit(b, e), 24u); }
#endif

#if Q6_K
void main() {
    const uint chunk = uniform_id(gl_WorkGroupID.x);
    const uint lane = gl_LocalInvocationID.x;
    const uint row0 = gl_WorkGroupID.y * gl_WorkGroupSize.x * RPT + lane;

    // x of the chunk (uniform loads): xg = 32 * (sum of x) per 16 columns for the offset of 32;
    // xs: x scaled by 2^(-8 k) for the byte k of the word its weight's code is put in.
    vec4 xs[64u * NSB];
    float xg[16u * NSB];
    const uint x0 = p.x_off + uniform_id(gl_WorkGroupID.z) * p.x_stride + chunk * 64u * NSB;
    [[unroll]] for (uint i = 0u; i < 64u * NSB; ++i) xs[i] = x4[x0 + i];
    [[unroll]] for (uint g = 0u; g < 16u * NSB; ++g) {
        const vec4 t = xs[4u * g] + xs[4u * g + 1u] + xs[4u * g + 2u] + xs[4u * g + 3u];
        xg[g] = 32.0 * (t.x + t.y + t.z + t.w);
    }
    [[unroll]] for (uint i = 0u; i < 256u * NSB; ++i) xs[i / 4u][i % 4u] *= uintBitsToFloat((127u - 8u * (lo_byte(i) % 4u)) << 23);

    [[unroll]] for (uint r = 0u; r < RPT; ++r) {
        const uint row = row0 + r * gl_WorkGroupSize.x;
        uint wd[4u * NTX];
        if (INTERLEAVED) {
            // Each chunk padded to whole texels (27, HALF: 14): it starts at word 0, no phase to
            // undo. Words 4 NTP and up are never read.
            LOAD_TEXELS(wd, interleaved_texel(chunk, r, NTP), NTP, gl_WorkGroupSize.x);
        } else {
            const uint at = p.w_off + min(row, p.m - 1u) * p.row_bytes + chunk * BB * NSB;  // byte, even
            const uint first = at / 4u, phase = first % 4u;
            // Words 4 (first / 4) .. + 4 NTX: the chunk's 105 words (HALF: 53; one more with
            // PHASED) after `phase` words. Texels past the binding are clamped: past the last row's
            // end no word is used.
            LOAD_TEXELS(wd, first / 4u, NTX, 1u);
            // Shift the chunk down to word 0 by the phase, one bit of it at a time.
            [[unroll]] for (uint i = 0u; i < 4u * NTX - 4u; ++i) wd[i] = (phase & 2u) != 0u ? wd[i + 2u] : wd[i];
            [[unroll]] for (uint i = 0u; i < 4u * NTX - 5u; ++i) wd[i] = (phase & 1u) != 0u ? wd[i + 1u] : wd[i];
            if (PHASED) {
                // Rows of 210 (2 c + 1) bytes (k = 512 c + 256): every other row starts 2 bytes
                // into a word; move its chunk down by 16 bits.
                const bool odd = (at & 2u) != 0u;
                [[unroll]] for (uint i = 0u; i < (BB * NSB + 3u) / 4u; ++i) wd[i] = odd ? (wd[i] >> 16) | (wd[i + 1u] << 16) : wd[i];
            }
        }

        // Quarter by quarter (32 weights, two groups of 16 with one int8 scale each): a word of
        // ql and a word of qh give the 6-bit codes of 4 weights, one per byte (4 or 5 operations),
        // then each byte is masked, converted to q * 2^(8 k) and multiplied by x pre-scaled by
        // 2^(-8 k). Super-block 1 starts 2 bytes into a word, so its fields span 9 words each.
        float acc = 0.0;
        [[unroll]] for (uint sb = 0u; sb < NSB; ++sb) {
            const uint off = (210u * sb) % 4u;
            float sacc = 0.0;
            [[unroll]] for (uint h = 0u; h < 2u; ++h)
                [[unroll]] for (uint q = 0u; q < 4u; ++q) {
                    vec4 t0 = vec4(0.0), t1 = vec4(0.0);  // columns l < 16, l >= 16
                    [[unroll]] for (uint t = 0u; t < 9u; ++t) {  // the 9th word: super-block 1 only
                        const uint ql = wd[(210u * sb + 64u * h + 32u * (q & 1u)) / 4u + t];
                        const uint qh = wd[(210u * sb + 128u + 32u * h) / 4u + t];
                        const uint c = q == 0u ? (ql & 0x0F0F0F0Fu) | ((qh << 4) & 0x30303030u)
                                     : q == 1u ? (ql & 0x0F0F0F0Fu) | ((qh << 2) & 0x30303030u)
                                     : q == 2u ? ((ql >> 4) & 0x0F0F0F0Fu) | (qh & 0x30303030u)
                                               : ((ql >> 4) & 0x0F0F0F0Fu) | ((qh >> 2) & 0x30303030u);
                        [[unroll]] for (uint k = 0u; k < 4u; ++k) {
                            const uint l = 4u * t + k - off;  // wraps past 31 below the field
                            if (l < 32u) {
                                const uint i = 256u * sb + 128u * h + 32u * q + l;
                                const float v = float(int(c & (0xFFu << (8u * k)))) * xs[i / 4u][i % 4u];
                                if (l < 16u) t0[k] += v;
                                else t1[k] += v;
                            }
                        }
                    }
                    const uint g = 16u * sb + 8u * h + 2u * q;
                    const uint sc = 210u * sb + 192u + 8u * h + 2u * q;  // bytes of the two int8 scales
                    const float s0 = float(bitfieldExtract(int(wd[sc / 4u]), int(8u * (sc % 4u)), 8));
                    const float s1 = float(bitfieldExtract(int(wd[(sc + 1u) / 4u]), int(8u * ((sc + 1u) % 4u)), 8));
                    sacc += s0 * (t0.x + t0.y + t0.z + t0.w - xg[g]) + s1 * (t1.x + t1.y + t1.z + t1.w - xg[g + 1u]);
                }
            const uint db = 210u * sb + 208u;  // the super-block's f16 d
            acc += unpackHalf2x16(wd[db / 4u] >> (8u * (db % 4u))).x * sacc;
        }
        if (row < p.m) part[p.part_off + (chunk * gl_NumWorkGroups.z + gl_WorkGroupID.z) * p.m + row] = acc;
    }
}
#else
void main() {
    const uint chunk = uniform_id(gl_WorkGroupID.x);
    const uint lane = gl_LocalInvocationID.x;
    const uint row0 = gl_WorkGroupID.y * gl_WorkGroupSize.x * RPT + lane;

    // x of the chunk (uniform loads), scaled by the power of two the weight it meets carries
    // (q4_0: 2^-shift of its nibble, after 8 * (sum of x) per block for the offset of 8; q8_0:
    // 2^-24).
    vec4 xv[NB * 8u];
    float xs[NB];
    const uint x0 = p.x_off + uniform_id(gl_WorkGroupID.z) * p.x_stride + chunk * NB * 8u;
    [[unroll]] for (uint i = 0u; i < NB * 8u; ++i) xv[i] = x4[x0 + i];
    [[unroll]] for (uint b = 0u; b < NB; ++b) {
#if F16
        xs[b] = 0.0;
#elif Q8_0
        xs[b] = 0.0;
        [[unroll]] for (uint i = 0u; i < 8u; ++i) xv[8u * b + i] *= 1.0 / 16777216.0;
#else
        vec4 t = vec4(0.0);
        [[unroll]] for (uint i = 0u; i < 8u; ++i) t += xv[8u * b + i];
        xs[b] = 8.0 * (t.x + t.y + t.z + t.w);
        [[unroll]] for (uint e = 0u; e < 32u; ++e)
            xv[8u * b + e / 4u][e % 4u] *= uintBitsToFloat((127u - nibble_scale(b, e)) << 23);
#endif
    }

    [[unroll]] for (uint r = 0u; r < RPT; ++r) {
        const uint row = row0 + r * gl_WorkGroupSize.x;
        uint wd[NT * 4u];  // the chunk's blocks as 32-bit words
        if (INTERLEAVED) {  // the last group is padded with rows of zeros
            LOAD_TEXELS(wd, interleaved_texel(chunk, r, NT), NT, gl_WorkGroupSize.x);
        } else {
            const uint t0 = (p.w_off + min(row, p.m - 1u) * p.row_bytes) / 16u + chunk * NT;
            LOAD_TEXELS(wd, t0, NT, 1u);
        }
        float acc = 0.0;
#if F16
        vec4 s = vec4(0.0);
        [[unroll]] for (uint i = 0u; i < NT * 2u; ++i)  // 4 halves per 2 words
            s += vec4(unpackHalf2x16(wd[2u * i]), unpackHalf2x16(wd[2u * i + 1u])) * xv[i];
        acc = s.x + s.y + s.z + s.w;
#else
        [[unroll]] for (uint b = 0u; b < NB; ++b) {
            const uint db = BB * b;  // byte of the block's f16 scale
            const float d = unpackHalf2x16(wd[db / 4u] >> (8u * (db % 4u))).x;
            vec4 s = vec4(0.0);
            [[unroll]] for (uint e = 0u; e < 32u; ++e) {
#if Q8_0
                const int q = int(wd[elem_word(b, e)] << elem_lift(b, e)) & int(0xFF000000u);
#else
                const uint w = wd[nibble_word(b, e)], bit = nibble_bit(b, e);
                const int q = int(bit == 28u ? (w >> 4) & 0x0F000000u : w & (15u << bit));
#endif
                s[e % 4u] += float(q) * xv[8u * b + e / 4u][e % 4u];
            }
            acc += d * (s.x + s.y + s.z + s.w - xs[b]);
        }
#endif
        if (row < p.m) part[p.part_off + (chunk * gl_NumWorkGroups.z + gl_WorkGroupID.z) * p.m + row] = acc;
    }
}
#endif  // Q6_K
#endif
