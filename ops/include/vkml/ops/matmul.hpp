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

// A weight for matmul, uploaded in the byte order the device's kernel reads fastest.
// On CPU devices (llvmpipe) a q4_0, q8_0, q6_k or f16 matrix the CPU-shaped kernel takes (k a
// multiple of 256, at least 512) gets its rows interleaved (Tensor::interleave(); q6_k chunks
// padded to whole 16-byte units): each 16-byte gather of that kernel then reads one run of
// adjacent bytes instead of one row each. matmul reads such a tensor (always with that kernel;
// x must be 16-byte aligned in its buffer), other ops refuse it. Everywhere else the tensor is
// the dense one Tensor::from_host makes.
//   data, bytes: the dense row-major bytes of the [m, k] matrix (dtype_bytes(dtype, m * k)).
//   Auto: interleave where described above, unless $VKML_INTERLEAVE_WEIGHTS is 0.
//   Interleave: interleave on any device wherever the kernel takes the shape and one group of
//   rows fits a binding (tests).
//   Dense: never.
enum class WeightLayout { Auto, Dense, Interleave };
Tensor upload_matmul_weight(Device& dev, DType dtype, const Shape& shape, const void* data, uint64_t bytes,
                            WeightLayout layout = WeightLayout::Auto);

}  // namespace vkml::ops
