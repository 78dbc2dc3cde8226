// Element types of tensors, including the GGUF block-quantized formats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vkml {

enum class DType : uint8_t { f32, f16, i32, u32, u8, q8_0, q6_k, q4_0 };

struct DTypeInfo {
    std::string_view name;
    uint32_t block_elems;  // elements per block: 1 for plain types
    uint32_t block_bytes;  // bytes per block
};

const DTypeInfo& dtype_info(DType t);
inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }
inline bool is_quantized(DType t) { return dtype_info(t).block_elems > 1; }

// Bytes taken by `elems` elements of type t. Throws if elems is not a multiple of the block.
size_t dtype_bytes(DType t, uint64_t elems);

// IEEE half <-> float, round to nearest even (matches Vulkan and ggml).
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);

}  // namespace vkml
