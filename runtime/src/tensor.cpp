#include "vkml/tensor.hpp"

#include <cstring>

#include "vk_internal.hpp"

namespace vkml {

namespace {

void check_shape(DType dtype, const Shape& shape) {
    if (shape.empty() || shape.size() > 4)
        throw Error(ErrorKind::InvalidArgument,
                    "tensor rank must be 1..4, got shape " + shape_string(shape));
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d <= 0) throw Error(ErrorKind::InvalidArgument, "tensor shape " + shape_string(shape) +
                                                                " has a non-positive dimension");
        if (n > (int64_t{1} << 50) / d)
            throw Error(ErrorKind::InvalidArgument, "tensor shape " + shape_string(shape) + " is too large");
        n *= d;
    }
    const uint32_t block = dtype_info(dtype).block_elems;
    if (shape.back() % block != 0)
        throw Error(ErrorKind::InvalidArgument,
                    std::string(dtype_name(dtype)) + " tensor " + shape_string(shape) +
                        ": the last dimension must be a multiple of the block size " +
                        std::to_string(block));
}

}  // namespace

Tensor::Tensor(std::shared_ptr<Buffer> buffer, uint64_t offset, DType dtype, Shape shape)
    : buffer_(std::move(buffer)), offset_(offset), dtype_(dtype), shape_(std::move(shape)) {
    bytes_ = dtype_bytes(dtype_, static_cast<uint64_t>(numel()));
}

Tensor Tensor::empty(Device& device, DType dtype, Shape shape, Pool pool) {
    check_shape(dtype, shape);
    const uint64_t bytes = dtype_bytes(dtype, static_cast<uint64_t>(shape_numel(shape)));
    auto buf = std::make_shared<Buffer>(device.allocator().allocate(bytes, pool));
    return Tensor(std::move(buf), 0, dtype, std::move(shape));
}

Tensor Tensor::view_of(std::shared_ptr<Buffer> buffer, uint64_t offset, DType dtype, Shape shape) {
    check_shape(dtype, shape);
    if (!buffer || !*buffer) throw Error(ErrorKind::InvalidArgument, "view_of an empty buffer");
    Tensor t(std::move(buffer), offset, dtype, std::move(shape));
    if (t.offset_ + t.bytes_ > t.buffer_->size() || t.offset_ + t.bytes_ < t.offset_)
        throw Error(ErrorKind::InvalidArgument, t.describe() + " at offset " + std::to_string(offset) +
                                                    " does not fit its " + std::to_string(t.buffer_->size()) +
                                                    "-byte buffer");
    return t;
}

Tensor Tensor::from_host_interleaved(Device& device, DType dtype, Shape shape, RowInterleave il,
                                     const void* data, uint64_t bytes) {
    check_shape(dtype, shape);
    if (shape.size() != 2 || !il)
        throw Error(ErrorKind::InvalidArgument, "from_host_interleaved: " + std::string(dtype_name(dtype)) +
                                                    shape_string(shape) + " must be a matrix with lanes > 0");
    // Whole groups of rows of at least the dense row's bytes (a layout may pad its rows).
    const uint64_t g = il.group_rows(), rows = (static_cast<uint64_t>(shape[0]) + g - 1) / g * g;
    if (bytes % rows != 0 || bytes / rows < dtype_bytes(dtype, static_cast<uint64_t>(shape[1])))
        throw Error(ErrorKind::InvalidArgument, "from_host_interleaved: " + std::to_string(bytes) + " bytes for " +
                                                    std::string(dtype_name(dtype)) + shape_string(shape) +
                                                    " are not " + std::to_string(rows) + " whole rows (groups of " +
                                                    std::to_string(g) + ")");
    auto buf = std::make_shared<Buffer>(device.allocator().allocate(bytes, Pool::Weights));
    Tensor t(std::move(buf), 0, dtype, std::move(shape));
    t.interleave_ = il;
    t.bytes_ = bytes;
    t.upload(data, bytes);
    return t;
}

Tensor Tensor::from_host(Device& device, DType dtype, Shape shape, const void* data, uint64_t bytes,
                         Pool pool) {
    Tensor t = empty(device, dtype, std::move(shape), pool);
    t.upload(data, bytes);
    return t;
}

Tensor Tensor::from_floats(Device& device, DType dtype, Shape shape, const std::vector<float>& v,
                           Pool pool) {
    if (static_cast<int64_t>(v.size()) != shape_numel(shape))
        throw Error(ErrorKind::InvalidArgument, std::to_string(v.size()) +
                                                    " values do not fill a tensor of shape " +
                                                    shape_string(shape));
    if (dtype == DType::f32) return from_host(device, dtype, std::move(shape), v.data(), v.size() * 4, pool);
    if (dtype == DType::f16) {
        std::vector<uint16_t> h(v.size());
        for (size_t i = 0; i < v.size(); ++i) h[i] = float_to_half(v[i]);
        return from_host(device, dtype, std::move(shape), h.data(), h.size() * 2, pool);
    }
    throw Error(ErrorKind::InvalidArgument,
                "from_floats makes f32 or f16 tensors, not " + std::string(dtype_name(dtype)));
}

int64_t Tensor::dim(int i) const {
    const int r = rank();
    const int j = i < 0 ? i + r : i;
    if (j < 0 || j >= r)
        throw Error(ErrorKind::InvalidArgument, "dimension " + std::to_string(i) +
                                                    " is out of range for shape " + shape_string(shape_));
    return shape_[static_cast<size_t>(j)];
}

std::vector<int64_t> Tensor::strides() const {
    std::vector<int64_t> s(shape_.size(), 1);
    for (int i = rank() - 2; i >= 0; --i) s[i] = s[i + 1] * shape_[i + 1];
    return s;
}

int64_t Tensor::rows() const { return shape_.empty() ? 0 : numel() / shape_.back(); }

std::string Tensor::describe() const {
    std::string d = std::string(dtype_name(dtype_)) + shape_string(shape_);
    if (interleave_)
        d += " (rows interleaved " + std::to_string(interleave_.lanes) + "x" + std::to_string(interleave_.rows_per_lane) + ")";
    return d;
}

namespace {

void check_dense(const Tensor& t, const char* what) {
    if (t.interleave())
        throw Error(ErrorKind::InvalidArgument, std::string(what) + " of " + t.describe() +
                                                    ": its rows are interleaved for ops::matmul, which alone reads them");
}

}  // namespace

Tensor Tensor::reshape(Shape shape) const {
    check_dense(*this, "reshape");
    check_shape(dtype_, shape);
    if (shape_numel(shape) != numel())
        throw Error(ErrorKind::InvalidArgument,
                    "cannot reshape " + describe() + " to " + shape_string(shape));
    return Tensor(buffer_, offset_, dtype_, std::move(shape));
}

Tensor Tensor::row_slice(int64_t first, int64_t count) const {
    check_dense(*this, "row_slice");
    const int64_t r = rows();
    if (first < 0 || count <= 0 || first + count > r)
        throw Error(ErrorKind::InvalidArgument, "rows [" + std::to_string(first) + ", " +
                                                    std::to_string(first + count) + ") are outside " +
                                                    describe());
    const uint64_t row_bytes = dtype_bytes(dtype_, static_cast<uint64_t>(cols()));
    return Tensor(buffer_, offset_ + static_cast<uint64_t>(first) * row_bytes, dtype_, {count, cols()});
}

void Tensor::upload(const void* data, uint64_t bytes) {
    if (!buffer_) throw Error(ErrorKind::InvalidArgument, "upload to an empty tensor");
    if (bytes != bytes_)
        throw Error(ErrorKind::InvalidArgument, "upload of " + std::to_string(bytes) +
                                                    " bytes into " + describe() + " which holds " +
                                                    std::to_string(bytes_));
    Device& dev = device();
    dev.check_alive();
    if (void* p = buffer_->mapped()) {
        std::memcpy(static_cast<char*>(p) + offset_, data, bytes);
        return;
    }
    Buffer staging = dev.allocator().allocate(bytes, Pool::Staging);
    std::memcpy(staging.mapped(), data, bytes);
    dev.impl().run_sync([&](VkCommandBuffer cb) {
        VkBufferCopy region{staging.vk_offset(), buffer_->vk_offset() + offset_, bytes};
        vkCmdCopyBuffer(cb, staging.vk_buffer(), buffer_->vk_buffer(), 1, &region);
    });
}

void Tensor::download(void* data, uint64_t bytes) const {
    if (!buffer_) throw Error(ErrorKind::InvalidArgument, "download from an empty tensor");
    if (bytes != bytes_)
        throw Error(ErrorKind::InvalidArgument, "download of " + std::to_string(bytes) +
                                                    " bytes from " + describe() + " which holds " +
                                                    std::to_string(bytes_));
    Device& dev = device();
    dev.check_alive();
    if (const void* p = buffer_->mapped()) {
        std::memcpy(data, static_cast<const char*>(p) + offset_, bytes);
        return;
    }
    Buffer staging = dev.allocator().allocate(bytes, Pool::Staging);
    dev.impl().run_sync([&](VkCommandBuffer cb) {
        VkBufferCopy region{buffer_->vk_offset() + offset_, staging.vk_offset(), bytes};
        vkCmdCopyBuffer(cb, buffer_->vk_buffer(), staging.vk_buffer(), 1, &region);
    });
    std::memcpy(data, staging.mapped(), bytes);
}

std::vector<float> Tensor::to_floats() const {
    check_dense(*this, "to_floats");
    if (dtype_ == DType::f32) return to_vector<float>();
    if (dtype_ == DType::f16) {
        const std::vector<uint16_t> h = to_vector<uint16_t>();
        std::vector<float> out(h.size());
        for (size_t i = 0; i < h.size(); ++i) out[i] = half_to_float(h[i]);
        return out;
    }
    throw Error(ErrorKind::InvalidArgument, "to_floats reads f32 or f16 tensors, not " + describe());
}

}  // namespace vkml
