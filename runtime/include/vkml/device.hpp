// Devices: enumerate every Vulkan device, open one, read its compute capabilities once.
//
// Thread safety: Device is safe to share between threads (kernel lookup, allocation and the
// pipeline cache are internally locked). A Stream belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vkml/error.hpp"

typedef struct VkDevice_T* VkDevice;
typedef struct VkPhysicalDevice_T* VkPhysicalDevice;

namespace vkml {

enum class DeviceType { Other, IntegratedGpu, DiscreteGpu, VirtualGpu, Cpu };
const char* to_string(DeviceType t);

struct MemoryHeap {
    uint64_t size = 0;
    bool device_local = false;
};

// Everything vkml needs to know about a device, read once when it is enumerated.
struct Capabilities {
    std::string name;
    DeviceType type = DeviceType::Other;
    uint32_t api_version = 0;  // VK_MAKE_API_VERSION encoding
    uint32_t vendor_id = 0;
    uint32_t device_id = 0;
    uint32_t driver_version = 0;
    std::string driver_name;
    std::string driver_info;
    uint8_t pipeline_cache_uuid[16] = {};

    uint32_t subgroup_size = 1;
    bool subgroup_basic = false, subgroup_arithmetic = false, subgroup_shuffle = false,
         subgroup_ballot = false;
    bool subgroup_size_control = false;
    uint32_t min_subgroup_size = 1, max_subgroup_size = 1;

    bool fp16_storage = false;     // storageBuffer16BitAccess
    bool fp16_arithmetic = false;  // shaderFloat16
    bool int8_storage = false;     // storageBuffer8BitAccess
    bool int8_arithmetic = false;  // shaderInt8
    bool int16_arithmetic = false; // shaderInt16
    bool int64_arithmetic = false; // shaderInt64
    bool integer_dot_product = false;              // VK_KHR_shader_integer_dot_product present
    bool integer_dot_product_accelerated = false;  // 4x8-bit packed signed dot is accelerated
    bool cooperative_matrix = false;               // VK_KHR_cooperative_matrix present

    uint32_t max_shared_memory = 0;
    uint32_t max_workgroup_invocations = 0;
    uint32_t max_workgroup_size[3] = {};
    uint32_t max_workgroup_count[3] = {};
    uint32_t max_push_constants = 0;
    uint64_t max_storage_buffer_range = 0;  // after VKML_MAX_BUFFER_RANGE is applied
    uint64_t device_storage_buffer_range = 0;  // as the driver reports it
    uint64_t max_allocation_size = 0;
    uint64_t min_storage_offset_alignment = 0;
    uint64_t min_texel_offset_alignment = 0;  // minTexelBufferOffsetAlignment
    uint64_t max_texel_buffer_elements = 0;   // maxTexelBufferElements
    std::vector<MemoryHeap> heaps;
    bool unified_memory = false;  // device-local memory is host visible: no staging needed
    float timestamp_period_ns = 0;  // 0 when the compute queue has no timestamps
    uint32_t timestamp_valid_bits = 0;

    uint64_t device_local_bytes() const;
    std::string api_version_string() const;
};

// What the loader sees; one entry per physical device, in enumeration order.
const std::vector<Capabilities>& list_devices();

// Picks a device index: `selector` may be an index ("1") or part of a name ("llvmpipe"),
// case-insensitive. Empty means $VKML_DEVICE, or the best device (discrete > integrated >
// virtual > CPU). Throws InvalidArgument naming the selector when nothing matches.
uint32_t select_device(const std::string& selector = "");

class Allocator;
class Kernel;
struct KernelKey;

struct DeviceOptions {
    bool pipeline_cache = true;  // load/save the on-disk pipeline cache
    // Lowers maxStorageBufferRange for this device (0 keeps it), like $VKML_MAX_BUFFER_RANGE:
    // tests use it to prove that ops split large tensors into ranges.
    uint64_t max_buffer_range = 0;
    // Capabilities to treat as absent, comma-separated: "fp16" (16-bit storage and float16
    // arithmetic), "subgroup" (every subgroup operation), "int8" (8-bit storage and int8
    // arithmetic), "int_dot" (integer dot product). Joined with $VKML_DISABLE (same syntax).
    // The device is then created without those features and caps() reports them false, so ops
    // take their fallback paths or throw Unsupported naming the feature. Tests use it to cover
    // devices that lack a feature; an unknown name throws InvalidArgument.
    std::string disable;
};

// Vulkan objects vkml currently holds on one device (Device::live_objects()), counted where
// vkml creates and destroys them. Flat counts over a long run mean nothing leaks. vkml creates
// no semaphores today; the field is there so the struct covers every kind it could.
struct LiveObjects {
    uint64_t buffers = 0, device_memory = 0, pipelines = 0, pipeline_layouts = 0,
             descriptor_set_layouts = 0, descriptor_pools = 0, descriptor_sets = 0,
             command_pools = 0, command_buffers = 0, fences = 0, semaphores = 0, query_pools = 0,
             shader_modules = 0, pipeline_caches = 0, buffer_views = 0;
    uint64_t total() const;
    std::string to_string() const;  // "buffers=3 device_memory=3 ..." (every field)
    bool operator==(const LiveObjects&) const = default;
};
// Validation layers are on for the whole process when $VKML_VALIDATION is set (1: with
// synchronization validation, core: without); read when the first device is listed or opened.

class Device : public std::enable_shared_from_this<Device> {
public:
    // Opens the device chosen by select_device(selector).
    static std::shared_ptr<Device> open(const std::string& selector = "", DeviceOptions opts = {});
    static std::shared_ptr<Device> open_index(uint32_t index, DeviceOptions opts = {});
    ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    const Capabilities& caps() const;
    uint32_t index() const;

    // A compiled pipeline for an embedded kernel with the given specialization constants
    // (constant_id 0, 1, 2, ...). Built on first use, then cached in memory and on disk.
    const Kernel& kernel(const std::string& name, const std::vector<uint32_t>& spec = {});

    Allocator& allocator();

    // Number of validation-layer warnings and errors seen on this device's instance.
    static uint64_t validation_message_count();
    static std::string last_validation_message();

    // Writes the pipeline cache to disk now (it is also written when the device closes).
    void save_pipeline_cache();
    std::string pipeline_cache_path() const;

    // Throws DeviceLost if a previous call lost the device. A device is lost when a Vulkan
    // call returns VK_ERROR_DEVICE_LOST or a fence wait runs past its bound (120 s); from then
    // on every call that would touch the device (Stream construction and every Stream call,
    // allocation, upload/download, kernel(), save_pipeline_cache()) throws Error of kind
    // DeviceLost instead of hanging. Destroying streams, tensors, buffers and the Device
    // afterwards is safe. Fault injection for tests: vkml/testing.hpp.
    void check_alive() const;
    bool lost() const;

    // Live Vulkan objects created by vkml on this device (thread-safe snapshot).
    LiveObjects live_objects() const;

    struct Impl;
    Impl& impl() { return *impl_; }
    const Impl& impl() const { return *impl_; }

private:
    explicit Device(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace vkml
