// Device memory: move-only buffers sub-allocated from large blocks, in three pools.
#pragma once

#include <cstdint>
#include <memory>

typedef struct VkBuffer_T* VkBuffer;

namespace vkml {

class Device;

enum class Pool : uint8_t {
    Weights,      // long-lived, read by kernels
    Activations,  // scratch and outputs, rewritten every pass
    Staging,      // host-visible, for uploads and downloads on discrete GPUs
};
const char* to_string(Pool p);

struct PoolStats {
    uint64_t blocks = 0;       // VkDeviceMemory objects held
    uint64_t block_bytes = 0;  // their total size
    uint64_t used_bytes = 0;   // bytes handed out in live buffers
    uint64_t live_buffers = 0;
};

// A range of device memory. Freed back to its pool when destroyed; never outlives its Device.
class Buffer {
public:
    Buffer() = default;
    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer&& other) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer();

    explicit operator bool() const { return block_ != nullptr; }
    uint64_t size() const { return size_; }
    Pool pool() const { return pool_; }
    // Host pointer to the first byte, or nullptr when the memory is not host visible.
    void* mapped() const;
    VkBuffer vk_buffer() const;
    uint64_t vk_offset() const { return offset_; }  // offset of this range inside vk_buffer()
    Device& device() const;

private:
    friend class Allocator;
    struct Block;
    Block* block_ = nullptr;
    uint64_t offset_ = 0;
    uint64_t size_ = 0;
    Pool pool_ = Pool::Activations;
    std::shared_ptr<Device> device_;  // keeps the device alive while memory is held
};

class Allocator {
public:
    // Rounds `bytes` up to the device's storage-offset alignment. Throws OutOfMemory when the
    // request exceeds maxMemoryAllocationSize or the heap, naming the sizes.
    Buffer allocate(uint64_t bytes, Pool pool);
    PoolStats stats(Pool pool) const;
    // Frees blocks with no live buffers.
    void trim();

    struct Impl;
    explicit Allocator(Device& device);
    ~Allocator();
    Allocator(const Allocator&) = delete;
    Allocator& operator=(const Allocator&) = delete;

private:
    friend class Buffer;
    std::unique_ptr<Impl> impl_;
};

}  // namespace vkml
