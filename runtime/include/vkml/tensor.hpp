// Tensor: a typed, shaped view of a device buffer.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "vkml/buffer.hpp"
#include "vkml/dtype.hpp"

namespace vkml {

class Device;

// Dimensions, outermost first; the last dimension is contiguous.
using Shape = std::vector<int64_t>;
std::string shape_string(const Shape& s);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& s);

// The byte order of a matrix's rows. lanes == 0 (the default): dense row-major, what every op
// reads. Otherwise the tensor was made by ops::upload_matmul_weight for the matrix-vector kernel
// of CPU devices and only ops::matmul reads it (other ops, reshape, row_slice and to_floats
// refuse it): the rows come in groups of lanes * rows_per_lane, the last group padded with zero
// rows, and inside a group the rows' 16-byte units interleave lane by lane (q6_k rows padded)
// (docs/quantization.md, "Interleaved weights").
struct RowInterleave {
    uint32_t lanes = 0, rows_per_lane = 0;
    uint64_t group_rows() const { return uint64_t{lanes} * rows_per_lane; }
    explicit operator bool() const { return lanes != 0; }
    bool operator==(const RowInterleave&) const = default;
};

class Tensor {
public:
    Tensor() = default;

    // Uninitialized storage of the given type and shape.
    static Tensor empty(Device& device, DType dtype, Shape shape, Pool pool = Pool::Activations);
    // Storage filled from host bytes; `bytes` must equal the tensor's size.
    static Tensor from_host(Device& device, DType dtype, Shape shape, const void* data,
                            uint64_t bytes, Pool pool = Pool::Weights);
    // Convenience: f32 or f16 tensor from floats (converted to half for f16).
    static Tensor from_floats(Device& device, DType dtype, Shape shape,
                              const std::vector<float>& values, Pool pool = Pool::Weights);

    // A tensor over bytes [offset, offset + size) of an existing buffer (planners and loaders).
    static Tensor view_of(std::shared_ptr<Buffer> buffer, uint64_t offset, DType dtype, Shape shape);
    // A [rows, cols] matrix of bytes already in the interleaved order `il` (ops::upload_matmul_weight
    // writes them): `bytes` covers whole groups of il.group_rows() rows, each row at least as long
    // as a dense one (the layout may pad rows).
    static Tensor from_host_interleaved(Device& device, DType dtype, Shape shape, RowInterleave il,
                                        const void* data, uint64_t bytes);

    explicit operator bool() const { return buffer_ != nullptr; }
    DType dtype() const { return dtype_; }
    const Shape& shape() const { return shape_; }
    int rank() const { return static_cast<int>(shape_.size()); }
    int64_t dim(int i) const;  // negative i counts from the end
    int64_t numel() const { return shape_numel(shape_); }
    // Element strides, outermost first. vkml tensors are dense row-major views (slices and
    // reshapes keep them dense), so these are always the contiguous strides of shape().
    std::vector<int64_t> strides() const;
    uint64_t bytes() const { return bytes_; }
    uint64_t offset() const { return offset_; }  // bytes from the start of buffer()
    const std::shared_ptr<Buffer>& buffer() const { return buffer_; }
    Device& device() const { return buffer_->device(); }
    const RowInterleave& interleave() const { return interleave_; }
    std::string describe() const;  // "f32[4, 7]", "q4_0[4096, 4096] (rows interleaved 8x16)"

    // Rows are the outermost dimension folded with all but the last: numel / dim(-1).
    int64_t rows() const;
    int64_t cols() const { return dim(-1); }

    // The same bytes seen with another shape (same element count).
    Tensor reshape(Shape shape) const;
    // Rows [first, first + count) of the tensor viewed as rows() x cols().
    Tensor row_slice(int64_t first, int64_t count) const;

    // Synchronous host copies of the whole tensor (waits for the device).
    void upload(const void* data, uint64_t bytes);
    void download(void* data, uint64_t bytes) const;
    // f32 or f16 contents as floats; i32/u32 contents reinterpreted for convenience elsewhere.
    std::vector<float> to_floats() const;
    template <class T>
    std::vector<T> to_vector() const {
        std::vector<T> out(bytes_ / sizeof(T));
        download(out.data(), out.size() * sizeof(T));
        return out;
    }

private:
    Tensor(std::shared_ptr<Buffer> buffer, uint64_t offset, DType dtype, Shape shape);
    std::shared_ptr<Buffer> buffer_;
    uint64_t offset_ = 0;
    uint64_t bytes_ = 0;
    DType dtype_ = DType::f32;
    Shape shape_;
    RowInterleave interleave_;
};

}  // namespace vkml
