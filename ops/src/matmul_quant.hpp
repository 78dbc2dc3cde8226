// Quantized-weight matrix products, called by ops::matmul when the weight is q8_0/q6_k/q4_0,
// and helpers shared by the quantized ops (internal to ops/).
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

// Binds bytes [begin, begin + bytes) of t from the aligned offset at or below them, the range
// rounded up to whole 32-bit words (kernels read blocks as words; buffers are allocated in
// aligned sizes, so the rounding stays inside the buffer). `offset` receives the byte offset of
// `begin` inside the binding.
inline Binding quant_binding(const Device& dev, const Tensor& t, uint64_t begin, uint64_t bytes,
                             Access access, uint64_t& offset) {
    const uint64_t align = std::max<uint64_t>(dev.caps().min_storage_offset_alignment, 4);
    const uint64_t at = t.offset() + begin;
    const uint64_t start = at / align * align;
    uint64_t range = (at + bytes - start + 3) / 4 * 4;
    range = std::min(range, t.buffer()->size() - start);
    offset = at - start;
    return Binding{t.buffer().get(), start, range, access};
}

// The most bytes one binding may cover and still leave room for the alignment slack and
// rounding of quant_binding.
inline uint64_t quant_binding_cap(const Device& dev) {
    const uint64_t align = std::max<uint64_t>(dev.caps().min_storage_offset_alignment, 4);
    const uint64_t range = dev.caps().max_storage_buffer_range;
    return range > align + 4 ? range - align - 4 : 0;
}

}  // namespace vkml::ops::detail
