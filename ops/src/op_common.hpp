// Shared argument checks and dispatch geometry for op implementations (internal to ops/).
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "vkml/device.hpp"
#include "vkml/error.hpp"
#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml::ops::detail {

inline uint32_t ceil_div(uint64_t a, uint64_t b) { return static_cast<uint32_t>((a + b - 1) / b); }

[[noreturn]] inline void fail(const char* op, const std::string& what) {
    throw Error(ErrorKind::InvalidArgument, std::string(op) + ": " + what);
}

inline void check_present(const char* op, const Tensor& t, const char* name) {
    if (!t) fail(op, std::string(name) + " is an empty tensor");
}

// Also refuses a tensor whose rows are interleaved for the CPU matrix-vector kernel
// (Tensor::interleave()): matmul alone reads those, and passes interleaved_ok for its weight.
inline void check_dtype(const char* op, const Tensor& t, const char* name,
                        std::initializer_list<DType> allowed, bool interleaved_ok = false) {
    check_present(op, t, name);
    if (t.interleave() && !interleaved_ok)
        fail(op, std::string(name) + " " + t.describe() + " has rows interleaved for matmul, which alone reads them");
    for (DType d : allowed)
        if (t.dtype() == d) return;
    std::string list;
    for (DType d : allowed) list += (list.empty() ? "" : " or ") + std::string(dtype_name(d));
    fail(op, std::string(name) + " must be " + list + ", got " + t.describe());
}

inline void check_same_shape(const char* op, const Tensor& a, const char* an, const Tensor& b,
                             const char* bn) {
    if (a.shape() != b.shape())
        fail(op, std::string(an) + " " + a.describe() + " and " + bn + " " + b.describe() +
                     " must have the same shape");
}

inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
    if (&a.device() != &b.device()) fail(op, "tensors live on different devices");
}

inline void check_u32(const char* op, int64_t v, const char* what) {
    if (v > static_cast<int64_t>(UINT32_MAX)) fail(op, std::string(what) + " = " + std::to_string(v) + " exceeds 2^32-1");
}

// Spreads `groups` workgroups over x and y within the device's limits; shaders recover the
// linear index with linear_group_id() (shaders/common/indexing.glsl).
inline Groups grid_1d(const Device& dev, uint64_t groups) {
    const uint64_t max_x = dev.caps().max_workgroup_count[0];
    if (groups <= max_x) return {static_cast<uint32_t>(std::max<uint64_t>(groups, 1)), 1, 1};
    const uint64_t y = (groups + max_x - 1) / max_x;
    // x * y may exceed `groups`: shaders bound-check their index.
    return {static_cast<uint32_t>((groups + y - 1) / y), static_cast<uint32_t>(y), 1};
}

// Where a binding may start: multiples of the device's storage-buffer offset alignment and of
// `min_align` bytes (window_binding's default 4 keeps 32-bit words whole; 1 asks for the
// device's rule alone).
inline uint64_t window_alignment(const Device& dev, uint64_t min_align = 4) {
    return std::max<uint64_t>(dev.caps().min_storage_offset_alignment, min_align);
}

// The largest number of rows per chunk such that `row_bytes` x rows stays within the device's
// storage-buffer range and each chunk starts at an aligned offset. Ops that bind tensors larger
// than maxStorageBufferRange walk them in chunks of this many rows.
inline int64_t rows_per_binding(const Device& dev, const char* op, uint64_t row_bytes) {
    const uint64_t range = dev.caps().max_storage_buffer_range;
    const uint64_t align = window_alignment(dev, 1);
    if (row_bytes > range)
        fail(op, "one row of " + std::to_string(row_bytes) + " bytes exceeds maxStorageBufferRange " +
                     std::to_string(range));
    uint64_t rows = range / row_bytes;
    // Chunk starts at multiples of rows*row_bytes: make that a multiple of the alignment.
    uint64_t step = 1;
    while ((step * row_bytes) % align != 0) ++step;
    rows = rows / step * step;
    if (rows == 0) fail(op, "rows of " + std::to_string(row_bytes) + " bytes cannot be bound at aligned offsets within maxStorageBufferRange");
    return static_cast<int64_t>(rows);
}

// Binds bytes [begin, begin + bytes) of t from the aligned offset at or below them, the range
// rounded up to whole 32-bit words (buffers are allocated in aligned sizes, so the rounding
// stays inside the buffer). `offset` receives the byte offset of `begin` inside the binding;
// kernels add it to their indices. Used where a slice cannot start at an aligned offset:
// quantized blocks (2-byte aligned) and windows of rows longer than one binding. `min_align`:
// the least alignment of the binding start (16 for shaders that index vec4 arrays).
inline Binding window_binding(const Device& dev, const Tensor& t, uint64_t begin, uint64_t bytes,
                              Access access, uint64_t& offset, uint64_t min_align = 4) {
    const uint64_t align = window_alignment(dev, min_align);
    const uint64_t at = t.offset() + begin;
    const uint64_t start = at / align * align;
    uint64_t range = (at + bytes - start + 3) / 4 * 4;
    range = std::min(range, t.buffer()->size() - start);
    offset = at - start;
    return Binding{t.buffer().get(), start, range, access};
}

// The most bytes one window_binding may cover and still leave room for its alignment slack and
// rounding within maxStorageBufferRange.
inline uint64_t window_cap(const Device& dev, uint64_t min_align = 4) {
    const uint64_t align = window_alignment(dev, min_align);
    const uint64_t range = dev.caps().max_storage_buffer_range;
    return range > align + 4 ? range - align - 4 : 0;
}

// The slices of a product y[n, m] = x[n, k] w[m, k]^T whose bindings each fit: f(n0, nn, m0, mm)
// for rows [n0, n0 + nn) of x and y (nc at a time, the outer loop) and rows [m0, m0 + mm) of W
// (columns of y; mc at a time).
template <class F>
void for_each_slice(uint64_t n, uint64_t nc, uint64_t m, uint64_t mc, F&& f) {
    for (uint64_t n0 = 0; n0 < n; n0 += nc)
        for (uint64_t m0 = 0; m0 < m; m0 += mc) f(n0, std::min(nc, n - n0), m0, std::min(mc, m - m0));
}

}  // namespace vkml::ops::detail
