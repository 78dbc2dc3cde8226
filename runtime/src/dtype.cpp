#include "vkml/dtype.hpp"

#include <cstring>
#include <string>

#include "vkml/error.hpp"

namespace vkml {

const DTypeInfo& dtype_info(DType t) {
    // GGUF block layouts: q8_0 = f16 d + 32 x int8; q4_0 = f16 d + 16 bytes of nibbles;
    // q6_k = ql[128] + qh[64] + int8 scales[16] + f16 d per 256 weights.
    static const DTypeInfo kInfo[] = {
        {"f32", 1, 4},   {"f16", 1, 2},     {"i32", 1, 4},    {"u32", 1, 4},
        {"u8", 1, 1},    {"q8_0", 32, 34},  {"q6_k", 256, 210}, {"q4_0", 32, 18},
    };
    return kInfo[static_cast<size_t>(t)];
}

size_t dtype_bytes(DType t, uint64_t elems) {
    const DTypeInfo& info = dtype_info(t);
    if (elems % info.block_elems != 0)
        throw Error(ErrorKind::InvalidArgument,
                    std::to_string(elems) + " elements of " + std::string(info.name) +
                        " is not a whole number of " + std::to_string(info.block_elems) +
                        "-element blocks");
    return static_cast<size_t>(elems / info.block_elems * info.block_bytes);
}

uint16_t float_to_half(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t exp = (x >> 23) & 0xffu;
    uint32_t mant = x & 0x7fffffu;
    if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
    int32_t e = static_cast<int32_t>(exp) - 127 + 15;
    if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow to infinity
    if (e <= 0) {
        if (e < -10) return static_cast<uint16_t>(sign);  // underflow to signed zero
        mant |= 0x800000u;
        const uint32_t shift = static_cast<uint32_t>(14 - e);
        uint32_t half_mant = mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1u);
        const uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (half_mant & 1u))) ++half_mant;
        return static_cast<uint16_t>(sign | half_mant);
    }
    uint32_t h = sign | (static_cast<uint32_t>(e) << 10) | (mant >> 13);
    const uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent
    return static_cast<uint16_t>(h);
}

float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t x;
    if (exp == 0) {
        if (mant == 0) {
            x = sign;
        } else {  // subnormal: normalize
            int e = -1;
            do {
                mant <<= 1;
                ++e;
            } while ((mant & 0x400u) == 0);
            x = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 0x1f) {
        x = sign | 0x7f800000u | (mant << 13);
    } else {
        x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &x, 4);
    return f;
}

}  // namespace vkml
