// Sub-allocation of device memory: each pool holds large blocks (one VkDeviceMemory and one
// VkBuffer spanning it) and hands out aligned ranges with a first-fit free list.
#include <algorithm>
#include <map>

#include "vk_internal.hpp"

namespace vkml {

const char* to_string(Pool p) {
    switch (p) {
        case Pool::Weights: return "weights";
        case Pool::Activations: return "activations";
        case Pool::Staging: return "staging";
    }
    return "?";
}

struct Buffer::Block {
    Allocator::Impl* owner = nullptr;
    Pool pool = Pool::Activations;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkBuffer buffer = VK_NULL_HANDLE;
    uint64_t size = 0;
    uint64_t used = 0;
    uint64_t live = 0;
    char* mapped = nullptr;
    bool dedicated = false;
    std::map<uint64_t, uint64_t> free;  // offset -> size, coalesced
};

struct Allocator::Impl {
    Device* device = nullptr;
    std::mutex mutex;
    std::vector<std::unique_ptr<Buffer::Block>> blocks[3];
    uint64_t block_size = 0;
    uint64_t alignment = 256;

    Device::Impl& dev() { return device->impl(); }

    int memory_type(uint32_t type_bits, Pool pool) const {
        const Capabilities& c = device->caps();
        const VkPhysicalDeviceMemoryProperties& mp = device->impl().memory_props;
        const VkMemoryPropertyFlags local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                           VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        std::vector<VkMemoryPropertyFlags> prefs;
        if (c.unified_memory) {
            prefs = {local | host, host};
        } else if (pool == Pool::Staging) {
            prefs = {host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, host};
        } else {
            prefs = {local, 0};
        }
        for (VkMemoryPropertyFlags want : prefs)
            for (uint32_t i = 0; i < mp.memoryTypeCount; ++i)
                if ((type_bits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & want) == want)
                    return static_cast<int>(i);
        return -1;
    }

    std::unique_ptr<Buffer::Block> create_block(uint64_t size, Pool pool, bool dedicated) {
        Device::Impl& d = dev();
        auto b = std::make_unique<Buffer::Block>();
        b->owner = this;
        b->pool = pool;
        b->size = size;
        b->dedicated = dedicated;
        VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
        bci.size = size;
        // Uniform texel buffer: kernels may view a range as 16-byte texels (see ShaderInterface).
        bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                    VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
        bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
        d.check(vkCreateBuffer(d.device, &bci, nullptr, &b->buffer), "vkCreateBuffer");
        d.counts.add(detail::Obj::Buffer);
        VkMemoryRequirements req{};
        vkGetBufferMemoryRequirements(d.device, b->buffer, &req);
        const int type = memory_type(req.memoryTypeBits, pool);
        if (type < 0) {
            destroy_block(*b);
            throw Error(ErrorKind::Unsupported, std::string("no memory type for the ") +
                                                    to_string(pool) + " pool on '" +
                                                    device->caps().name + "'");
        }
        VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
        mai.allocationSize = req.size;
        mai.memoryTypeIndex = static_cast<uint32_t>(type);
        VkResult r = vkAllocateMemory(d.device, &mai, nullptr, &b->memory);
        if (r != VK_SUCCESS) {
            b->memory = VK_NULL_HANDLE;
            destroy_block(*b);
            if (r == VK_ERROR_DEVICE_LOST) d.lost = true;
            throw Error(r == VK_ERROR_DEVICE_LOST ? ErrorKind::DeviceLost : ErrorKind::OutOfMemory,
                        "vkAllocateMemory of " + std::to_string(req.size) + " bytes for the " +
                            to_string(pool) + " pool on '" + device->caps().name + "' failed with " +
                            detail::vk_result_name(r));
        }
        d.counts.add(detail::Obj::DeviceMemory);
        r = vkBindBufferMemory(d.device, b->buffer, b->memory, 0);
        if (r == VK_SUCCESS && (d.memory_props.memoryTypes[type].propertyFlags &
                                VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)) {
            void* p = nullptr;
            r = vkMapMemory(d.device, b->memory, 0, VK_WHOLE_SIZE, 0, &p);
            b->mapped = static_cast<char*>(p);
        }
        if (r != VK_SUCCESS) {
            destroy_block(*b);
            d.check(r, "vkBindBufferMemory/vkMapMemory");
        }
        b->free[0] = size;
        return b;
    }

    void destroy_block(Buffer::Block& b) {
        Device::Impl& d = dev();
        if (b.buffer) {
            vkDestroyBuffer(d.device, b.buffer, nullptr);
            d.counts.sub(detail::Obj::Buffer);
        }
        if (b.memory) {
            vkFreeMemory(d.device, b.memory, nullptr);  // unmaps implicitly
            d.counts.sub(detail::Obj::DeviceMemory);
        }
        b.buffer = VK_NULL_HANDLE;
        b.memory = VK_NULL_HANDLE;
    }

    // First fit; returns the offset or UINT64_MAX.
    static uint64_t take(Buffer::Block& b, uint64_t bytes) {
        for (auto it = b.free.begin(); it != b.free.end(); ++it) {
            if (it->second < bytes) continue;
            const uint64_t off = it->first;
            const uint64_t rest = it->second - bytes;
            b.free.erase(it);
            if (rest) b.free[off + bytes] = rest;
            b.used += bytes;
            ++b.live;
            return off;
        }
        return UINT64_MAX;
    }

    void give_back(Buffer::Block* b, uint64_t off, uint64_t bytes) {
        std::lock_guard<std::mutex> lock(mutex);
        b->used -= bytes;
        --b->live;
        auto next = b->free.lower_bound(off);
        if (next != b->free.end() && off + bytes == next->first) {
            bytes += next->second;
            next = b->free.erase(next);
        }
        if (next != b->free.begin()) {
            auto prev = std::prev(next);
            if (prev->first + prev->second == off) {
                prev->second += bytes;
                bytes = 0;
            }
        }
        if (bytes) b->free[off] = bytes;
        if (b->live == 0) {
            // Dedicated blocks go at once; keep at most one empty shared block per pool.
            auto& list = blocks[static_cast<int>(b->pool)];
            const auto empties = std::count_if(list.begin(), list.end(),
                                               [](const auto& x) { return x->live == 0; });
            if (b->dedicated || empties > 1) {
                destroy_block(*b);
                list.erase(std::find_if(list.begin(), list.end(),
                                        [b](const auto& x) { return x.get() == b; }));
            }
        }
    }
};

Allocator::Allocator(Device& device) : impl_(std::make_unique<Impl>()) {
    impl_->device = &device;
    const Capabilities& c = device.caps();
    impl_->block_size = std::min<uint64_t>(64ull << 20, c.max_allocation_size);
    impl_->alignment = std::max<uint64_t>(c.min_storage_offset_alignment, 256);
}

Allocator::~Allocator() {
    for (auto& list : impl_->blocks)
        for (auto& b : list) impl_->destroy_block(*b);
}

Buffer Allocator::allocate(uint64_t bytes, Pool pool) {
    Impl& a = *impl_;
    a.device->check_alive();
    const Capabilities& c = a.device->caps();
    if (bytes == 0) bytes = 1;
    const uint64_t size = (bytes + a.alignment - 1) / a.alignment * a.alignment;
    if (size < bytes || size > c.max_allocation_size)
        throw Error(ErrorKind::OutOfMemory,
                    "a buffer of " + std::to_string(bytes) + " bytes exceeds the largest allocation '" +
                        c.name + "' allows (maxMemoryAllocationSize = " +
                        std::to_string(c.max_allocation_size) + ")");
    uint64_t largest_heap = 0;
    for (const MemoryHeap& h : c.heaps) largest_heap = std::max(largest_heap, h.size);
    if (size > largest_heap)
        throw Error(ErrorKind::OutOfMemory, "a buffer of " + std::to_string(bytes) +
                                                " bytes exceeds the largest memory heap of '" +
                                                c.name + "' (" + std::to_string(largest_heap) + " bytes)");

    std::lock_guard<std::mutex> lock(a.mutex);
    auto& list = a.blocks[static_cast<int>(pool)];
    Buffer out;
    out.pool_ = pool;
    out.size_ = size;
    out.device_ = a.device->shared_from_this();
    if (size <= a.block_size / 2) {
        for (auto& b : list) {
            if (b->dedicated) continue;
            const uint64_t off = Impl::take(*b, size);
            if (off != UINT64_MAX) {
                out.block_ = b.get();
                out.offset_ = off;
                return out;
            }
        }
    }
    const bool dedicated = size > a.block_size / 2;
    std::unique_ptr<Buffer::Block> block;
    try {
        block = a.create_block(dedicated ? size : a.block_size, pool, dedicated);
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::OutOfMemory) throw;
        // Release empty blocks of every pool and try once more before giving up.
        for (auto& l : a.blocks)
            for (auto it = l.begin(); it != l.end();)
                if ((*it)->live == 0) {
                    a.destroy_block(**it);
                    it = l.erase(it);
                } else {
                    ++it;
                }
        block = a.create_block(dedicated ? size : a.block_size, pool, dedicated);
    }
    out.block_ = block.get();
    out.offset_ = Impl::take(*block, size);
    list.push_back(std::move(block));
    return out;
}

PoolStats Allocator::stats(Pool pool) const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    PoolStats s;
    for (const auto& b : impl_->blocks[static_cast<int>(pool)]) {
        ++s.blocks;
        s.block_bytes += b->size;
        s.used_bytes += b->used;
        s.live_buffers += b->live;
    }
    return s;
}

void Allocator::trim() {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    for (auto& l : impl_->blocks)
        for (auto it = l.begin(); it != l.end();)
            if ((*it)->live == 0) {
                impl_->destroy_block(**it);
                it = l.erase(it);
            } else {
                ++it;
            }
}

Buffer::Buffer(Buffer&& o) noexcept
    : block_(o.block_), offset_(o.offset_), size_(o.size_), pool_(o.pool_),
      device_(std::move(o.device_)) {
    o.block_ = nullptr;
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
    if (this != &o) {
        this->~Buffer();
        new (this) Buffer(std::move(o));
    }
    return *this;
}

Buffer::~Buffer() {
    if (block_) block_->owner->give_back(block_, offset_, size_);
    block_ = nullptr;
}

void* Buffer::mapped() const { return block_ && block_->mapped ? block_->mapped + offset_ : nullptr; }
VkBuffer Buffer::vk_buffer() const { return block_ ? block_->buffer : VK_NULL_HANDLE; }
Device& Buffer::device() const { return *device_; }

}  // namespace vkml
