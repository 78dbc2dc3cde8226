// Internal to the runtime: the Vulkan handles behind the public types.
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vkml/buffer.hpp"
#include "vkml/device.hpp"
#include "vkml/error.hpp"
#include "vkml/kernel.hpp"

namespace vkml::detail {

const char* vk_result_name(VkResult r);

// Throws vkml::Error naming the call and its VkResult; the kind follows from the result.
[[noreturn]] void throw_vk(VkResult r, const char* call);

#define VKML_VK(call)                                                    \
    do {                                                                 \
        VkResult vkml_result_ = (call);                                  \
        if (vkml_result_ != VK_SUCCESS) ::vkml::detail::throw_vk(vkml_result_, #call); \
    } while (0)

// The process-wide Vulkan instance (the one piece of global state besides the device list).
struct InstanceState {
    VkInstance instance = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    bool validation = false;
    std::vector<VkPhysicalDevice> physical;
    std::vector<Capabilities> caps;
    ~InstanceState();
};
std::shared_ptr<InstanceState> instance_state();

std::string cache_directory();  // $VKML_CACHE_DIR, $XDG_CACHE_HOME/vkml or ~/.cache/vkml
std::string getenv_str(const char* name);

// Live Vulkan objects of one device, by kind (the counters behind Device::live_objects()).
enum class Obj {
    Buffer, DeviceMemory, Pipeline, PipelineLayout, DescriptorSetLayout, DescriptorPool,
    DescriptorSet, CommandPool, CommandBuffer, Fence, Semaphore, QueryPool, ShaderModule,
    PipelineCache, BufferView, Count
};
struct ObjectCounts {
    std::atomic<int64_t> n[static_cast<int>(Obj::Count)];  // zero: C++20 atomics value-initialize
    void add(Obj o, int64_t delta = 1) { n[static_cast<int>(o)].fetch_add(delta); }
    void sub(Obj o, int64_t delta = 1) { n[static_cast<int>(o)].fetch_sub(delta); }
};

}  // namespace vkml::detail

namespace vkml {

struct Kernel::Handles {
    VkDevice device = VK_NULL_HANDLE;
    detail::ObjectCounts* counts = nullptr;
    VkShaderModule module = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkPipeline pipeline = VK_NULL_HANDLE;
    ~Handles();
};

struct Device::Impl {
    std::shared_ptr<detail::InstanceState> instance;
    uint32_t index = 0;
    Capabilities caps;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    uint32_t queue_family = 0;
    VkQueue queue = VK_NULL_HANDLE;
    std::mutex queue_mutex;  // VkQueue use is externally synchronized
    VkPhysicalDeviceMemoryProperties memory_props{};

    VkPipelineCache pipeline_cache = VK_NULL_HANDLE;
    bool use_disk_cache = true;
    bool cache_dirty = false;
    std::mutex kernel_mutex;
    std::map<std::string, std::unique_ptr<Kernel>> kernels;  // key: name + spec constants

    std::unique_ptr<Allocator> allocator;
    std::atomic<bool> lost{false};
    detail::ObjectCounts counts;

    // Bound on every fence wait; a wait that runs past it marks the device lost (vkml/testing.hpp
    // and $VKML_FENCE_TIMEOUT_MS lower it).
    std::atomic<uint64_t> fence_timeout_ns{120ull * 1000 * 1000 * 1000};
    // Fault injection (vkml/testing.hpp, $VKML_INJECT_DEVICE_LOST): when non-zero, the
    // countdown-th queue submission or fence wait from now reports VK_ERROR_DEVICE_LOST.
    std::atomic<uint64_t> inject_lost_countdown{0};
    bool take_injected_loss();

    // One-shot transfer helpers for staging copies (discrete GPUs).
    VkCommandPool transfer_pool = VK_NULL_HANDLE;
    std::mutex transfer_mutex;

    // Submits under the queue lock; marks the device lost on VK_ERROR_DEVICE_LOST.
    void submit(const VkSubmitInfo& info, VkFence fence);
    void wait_fence(VkFence fence);
    // Runs `record` in a one-shot command buffer and waits for it.
    template <class F>
    void run_sync(F&& record);
    void check(VkResult r, const char* call);
    void check_alive() const;
};

template <class F>
void Device::Impl::run_sync(F&& record) {
    std::lock_guard<std::mutex> lock(transfer_mutex);
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = transfer_pool;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkCommandBuffer cb = VK_NULL_HANDLE;
    check_alive();
    check(vkAllocateCommandBuffers(device, &ai, &cb), "vkAllocateCommandBuffers");
    counts.add(detail::Obj::CommandBuffer);
    VkFence fence = VK_NULL_HANDLE;
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkResult r = vkCreateFence(device, &fi, nullptr, &fence);
    if (r != VK_SUCCESS) {
        vkFreeCommandBuffers(device, transfer_pool, 1, &cb);
        counts.sub(detail::Obj::CommandBuffer);
        check(r, "vkCreateFence");
    }
    counts.add(detail::Obj::Fence);
    struct Cleanup {
        Impl* self;
        VkCommandBuffer cb;
        VkFence fence;
        ~Cleanup() {
            vkDestroyFence(self->device, fence, nullptr);
            vkFreeCommandBuffers(self->device, self->transfer_pool, 1, &cb);
            self->counts.sub(detail::Obj::Fence);
            self->counts.sub(detail::Obj::CommandBuffer);
        }
    } cleanup{this, cb, fence};
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(cb, &bi), "vkBeginCommandBuffer");
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT;
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                         0, 1, &mb, 0, nullptr, 0, nullptr);
    record(cb);
    mb.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_MEMORY_READ_BIT;
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1, &mb,
                         0, nullptr, 0, nullptr);
    check(vkEndCommandBuffer(cb), "vkEndCommandBuffer");
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cb;
    submit(si, fence);
    wait_fence(fence);
}

}  // namespace vkml
