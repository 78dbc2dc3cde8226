// Softmax, log-softmax and per-row entropy over the last dimension of f32 tensors.
//
// A row is the last dimension; rows() = numel / cols. Rows of any length work (one workgroup
// loops over the row), and tensors larger than maxStorageBufferRange are walked in row chunks.
// y may be x (in place). Results are ready after Stream::finish().
//
// Numerics: the row max is subtracted before exp. -inf inputs get probability 0 (a row that is
// entirely -inf, or that holds NaN or +inf, gives NaN, as in PyTorch).
#pragma once

#include <cstdint>

#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml::ops {

struct SoftmaxOptions {
    float scale = 1.0f;  // softmax(scale * x)
    // Causal mask for a tensor [..., q, k]: the row's query index is i = row % dim(-2) (0 for a
    // 1-D tensor) and column j is masked (probability 0, log-probability -inf) when
    // j > i + causal_offset. Decoding q new tokens against a KV cache of k uses k - q.
    bool causal = false;
    int64_t causal_offset = 0;  // must be >= 0 (a negative offset masks all of row 0)
};

// y = softmax(scale * x) over the last dimension; y has x's shape.
void softmax(Stream& s, const Tensor& x, const Tensor& y, SoftmaxOptions opts = {});
// y = log_softmax(scale * x) = scale*x - max - log(sum exp(scale*x - max)).
void log_softmax(Stream& s, const Tensor& x, const Tensor& y, SoftmaxOptions opts = {});
// h[r] = Shannon entropy in nats of softmax(scale * x[r, :]); h is f32 with rows() elements.
void entropy(Stream& s, const Tensor& x, const Tensor& h, float scale = 1.0f);

}  // namespace vkml::ops
