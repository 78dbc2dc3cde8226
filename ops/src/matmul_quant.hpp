// Quantized-weight matrix products, called by ops::matmul when the weight is q8_0/q6_k/q4_0, and
// the CPU-shaped matrix-vector kernel (internal to ops/).
#pragma once

#include <algorithm>
#include <cstdint>

#include "vkml/device.hpp"
#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml::ops::detail {

// y[n, m] = x[n, k] * w[m, k]^T with w block-quantized along k. Shapes and dtypes of x and y
// are checked by the caller (ops::matmul); this checks the quantized layout.
void matmul_quantized(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y);

// y = x w^T with shaders/gemv_quant_cpu.comp (the matrix-vector kernel for SIMD-on-CPU devices,
// one product per row of x) when it can take the product (q4_0, q8_0, q6_k or f16 w; k a
// multiple of 256 of at least 512; aligned rows): records it and returns true, else records
// nothing and returns false.
// Interleaved W (Tensor::interleave()) is always taken, or a clear Error says why it can't be.
bool gemv_cpu(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y);

// y = x w^T for W whose rows are interleaved (upload_matmul_weight), which only the CPU kernel
// reads: throws InvalidArgument where it cannot (W interleaved for another subgroup size, x not
// 16-byte aligned).
void gemv_cpu_interleaved(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y);

}  // namespace vkml::ops::detail
