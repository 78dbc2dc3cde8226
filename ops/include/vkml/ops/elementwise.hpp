// Elementwise ops on f32 tensors, and f32 <-> f16 casts.
//
// Every op records into a Stream and returns at once; results are ready after Stream::finish().
// Outputs may alias inputs (in-place). Tensors larger than the device's maxStorageBufferRange are
// processed in ranges.
#pragma once

#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml::ops {

// y = a + b and y = a * b. b has the shape of a, or is one row broadcast over a's rows
// (b.numel() == a.cols()).
void add(Stream& s, const Tensor& a, const Tensor& b, const Tensor& y);
void mul(Stream& s, const Tensor& a, const Tensor& b, const Tensor& y);

// y = alpha * x + beta.
void scale(Stream& s, const Tensor& x, const Tensor& y, float alpha, float beta = 0.0f);

// Activations (y may be x).
void silu(Stream& s, const Tensor& x, const Tensor& y);
void gelu(Stream& s, const Tensor& x, const Tensor& y);  // tanh approximation
void selu(Stream& s, const Tensor& x, const Tensor& y);

// y = x converted between f32 and f16 (same shape; same type is a copy).
void cast(Stream& s, const Tensor& x, const Tensor& y);

}  // namespace vkml::ops
