// Block-quantized tensors (GGUF q8_0, q4_0, q6_k): quantize, dequantize, and matrix products with
// quantized weights. Formats and kernels: docs/quantization.md.
//
// Records into a Stream and returns at once; results are ready after Stream::finish().
#pragma once

#include "vkml/device.hpp"
#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml::ops {

// q = quantize(x). x: f32 [..., k]; q: q8_0 or q4_0 of the same shape (k a multiple of 32).
// Output is byte-identical to ggml's reference quantizer (and to quantize_cpu).
void quantize(Stream& s, const Tensor& x, const Tensor& q);

// y = dequantize(q). q: q8_0, q4_0 or q6_k; y: f32 or f16 (f16 needs caps().fp16_storage) of
// the same shape.
void dequantize(Stream& s, const Tensor& q, const Tensor& y);

// A quantized tensor made on the host from `count = numel(shape)` floats (quantize_cpu): for
// loaders and tests. Any of q8_0, q4_0, q6_k.
Tensor quantize_on_host(Device& dev, DType t, const Shape& shape, const float* data,
                        Pool pool = Pool::Weights);

// Which kernel ops::matmul runs for quantized weights. Auto is right for users; the others let
// tests and benchmarks reach every path on any device.
enum class QuantKernel {
    Auto,        // matrix-vector for n <= 8, tiled otherwise; on CPU devices the CPU-shaped
                 // kernel where it fits (for n <= 8 unless the integer-dot path is on)
    Gemv,          // matrix-vector for any n (chunks of 8 rows of x): subgroup if able, else shared
    GemvSubgroup,  // matrix-vector, rows split over a subgroup, subgroupAdd (falls back to shared)
    GemvShared,    // matrix-vector, rows split over threads, shared-memory reduction
    GemvRows,      // matrix-vector, whole rows per invocation (uniform X loads, no reduction)
    GemvCpu,       // matrix-vector shaped for SIMD-on-CPU devices (llvmpipe), one product per row
                   // of x: q4_0/q8_0/q6_k, k a multiple of 256 of at least 512, W 16-byte (q6_k:
                   // 2-byte) and x 16-byte aligned; anything else (or the integer-dot path) falls
                   // back to Gemv
    Tiled,       // tiled, W tiles dequantized into shared memory
};
// The integer dot-product path of the matrix-vector kernel (x quantized to 8-bit blocks, 4 x
// 8-bit packed dot products). Auto: used when caps().integer_dot_product_accelerated, or when
// $VKML_FORCE_INT_DOT=1 and the device has the extension ($VKML_FORCE_INT_DOT=0 turns it off).
// On: used whenever the device has the extension. Off: never.
enum class IntDot { Auto, On, Off };
struct QuantMatmulOptions {
    QuantKernel kernel = QuantKernel::Auto;
    IntDot int_dot = IntDot::Auto;
};

// y[n, m] = x[n, k] * dequantize(w)[m, k]^T; w: q8_0/q4_0/q6_k [m, k]; x: f32 [..., k];
// y: f32 [..., m] with y.rows() == x.rows(). ops::matmul calls this with default options.
void matmul_quantized(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y,
                      const QuantMatmulOptions& opts);

}  // namespace vkml::ops
