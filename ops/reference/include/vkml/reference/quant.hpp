// CPU reference of the GGUF block formats (tests only), written per element from the format
// definitions, independently of the library's quantizers in ops/src/quant_cpu.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "vkml/dtype.hpp"

namespace vkml::reference {

// q8_0 and q4_0 exactly as ggml's quantize_row_*_ref; q6_k with a plain absmax scale per 16
// weights (not ggml's search: a layout cross-check, not a quality reference).
std::vector<uint8_t> quantize(DType t, const std::vector<float>& x);

// Element i of a tensor of blocks, from the format definition.
float dequantize_element(DType t, const uint8_t* blocks, int64_t i);
std::vector<float> dequantize(DType t, const std::vector<uint8_t>& q, int64_t count);

// y[n, m] = x[n, k] * dequantize(w)[m, k]^T, double accumulation.
std::vector<float> matmul_quantized(DType t, const std::vector<uint8_t>& w, const std::vector<float>& x,
                                    int64_t m, int64_t n, int64_t k);

}  // namespace vkml::reference
