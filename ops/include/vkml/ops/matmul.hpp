// Matrix products with weights: Y = X * W^T (PyTorch Linear / GGUF layout).
//
// Records into a Stream and returns at once; the result is ready after Stream::finish().
#pragma once

#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml::ops {

// y[n, m] = x[n, k] * w[m, k]^T.
//   w: [m, k], f32 or f16 (f16 needs caps().fp16_storage), or a block-quantized type
//      (q8_0, q6_k, q4_0), which is handed to the quantized kernels.
//   x: [..., k] f32; leading dimensions are folded into n = x.rows().
//   y: [..., m] f32 with y.rows() == n (any shape whose last dim is m).
// n <= 8 runs a matrix-vector kernel that reads W once (decode); larger n a tiled kernel.
// Tensors over the device's maxStorageBufferRange are split into row ranges; f32/f16 rows
// longer than one binding are summed over chunks of k with the matrix-vector kernel (whatever
// the kernel option). Quantized rows must fit one binding.
// Throws InvalidArgument for mismatched shapes or types, Unsupported for a missing feature.
void matmul(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y);

// Which kernel runs (f32/f16 weights). Auto is the right choice for users; the others let tests
// and benchmarks reach every path on any device.
enum class MatmulKernel {
    Auto,        // matrix-vector for n <= 8, tiled otherwise
    Gemv,        // matrix-vector for any n (in chunks of 8 rows of x), subgroup reduction if able
    GemvShared,  // matrix-vector with the shared-memory reduction (for devices without subgroups)
    Tiled,       // the tiled kernel for any n
};
struct MatmulOptions {
    MatmulKernel kernel = MatmulKernel::Auto;
};
void matmul(Stream& s, const Tensor& w, const Tensor& x, const Tensor& y, const MatmulOptions& opts);

}  // namespace vkml::ops
