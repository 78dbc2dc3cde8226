// Argmax and top-k over the last dimension of f32 tensors.
//
// Elements are ranked by value, descending, with ties going to the lower index. NaN ranks above
// +inf (as torch.argmax / torch.topk do: a row holding NaN reports the first NaN), and -0 ranks
// equal to +0. Tensors larger than maxStorageBufferRange are walked in row chunks.
#pragma once

#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml::ops {

// idx[r] = index of the largest element of row r; idx is u32 with rows() elements.
void argmax(Stream& s, const Tensor& x, const Tensor& idx);

// The k largest elements of each row, best first: values f32 and indices u32, each [rows, k]
// (any shape whose last dimension is k and whose rows match x). 1 <= k <= cols.
void top_k(Stream& s, const Tensor& x, int k, const Tensor& values, const Tensor& indices);

}  // namespace vkml::ops
