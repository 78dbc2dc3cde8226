// RMSNorm and LayerNorm over the last dimension of f32 tensors (as PyTorch and llama.cpp define
// them). y may be x (in place); weight and bias are one row of cols() values broadcast over every
// row, or an empty Tensor() for none. Tensors larger than maxStorageBufferRange are walked in
// row chunks.
#pragma once

#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml::ops {

// y = x / sqrt(mean(x^2) + eps) * weight
void rms_norm(Stream& s, const Tensor& x, const Tensor& weight, const Tensor& y, float eps = 1e-6f);

// y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance (divide by cols).
void layer_norm(Stream& s, const Tensor& x, const Tensor& weight, const Tensor& bias,
                const Tensor& y, float eps = 1e-5f);

}  // namespace vkml::ops
