// CPU quantizers and dequantizers for the GGUF block formats (q8_0, q4_0, q6_k), bit-compatible
// with ggml's reference quantizers. The library uses them to quantize weights on the host
// (quantize_on_host, `vkml quantize`); tests compare them with an independent implementation
// in ops/reference.
#pragma once

#include <cstdint>
#include <vector>

#include "vkml/dtype.hpp"

namespace vkml::ops {

// Quantizes `count` floats (a multiple of the block of `t`) into dtype_bytes(t, count) bytes at
// `out`. Throws InvalidArgument for a non-quantized type or a count that is not a block multiple.
//   q8_0: d = absmax / 127, q = roundf(x / d) (ties away from zero), d stored as f16.
//   q4_0: d = (value of largest magnitude) / -8, q = min(15, trunc(x / d + 8.5)).
//   q6_k: per 16 weights a scale chosen by ggml's weighted search (make_qx_quants, nmax 32),
//         per 256 an f16 super-scale, 8-bit sub-scales.
void quantize_cpu(DType t, const float* x, int64_t count, uint8_t* out);
std::vector<uint8_t> quantize_cpu(DType t, const std::vector<float>& x);

// Expands `count` elements of blocks at `q` into floats.
void dequantize_cpu(DType t, const uint8_t* q, int64_t count, float* out);
std::vector<float> dequantize_cpu(DType t, const std::vector<uint8_t>& q, int64_t count);

}  // namespace vkml::ops
