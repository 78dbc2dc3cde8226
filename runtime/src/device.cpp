// Opening a logical device, the pipeline cache on disk, and kernels.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vk_internal.hpp"

namespace vkml {

namespace detail {
uint64_t validation_count();
std::string last_validation();
}  // namespace detail

Kernel::Handles::~Handles() {
    if (pipeline) vkDestroyPipeline(device, pipeline, nullptr);
    if (layout) vkDestroyPipelineLayout(device, layout, nullptr);
    if (set_layout) vkDestroyDescriptorSetLayout(device, set_layout, nullptr);
    if (module) vkDestroyShaderModule(device, module, nullptr);
}

Kernel::Kernel(std::string name, std::vector<uint32_t> spec, ShaderInterface iface,
               std::unique_ptr<Handles> handles)
    : name_(std::move(name)), spec_(std::move(spec)), iface_(std::move(iface)),
      handles_(std::move(handles)) {}
Kernel::~Kernel() = default;

void Device::Impl::check(VkResult r, const char* call) {
    if (r == VK_ERROR_DEVICE_LOST) lost = true;
    if (r != VK_SUCCESS) detail::throw_vk(r, call);
}

void Device::Impl::submit(const VkSubmitInfo& info, VkFence fence) {
    if (lost) throw Error(ErrorKind::DeviceLost, "the device '" + caps.name + "' was lost earlier");
    std::lock_guard<std::mutex> lock(queue_mutex);
    check(vkQueueSubmit(queue, 1, &info, fence), "vkQueueSubmit");
}

void Device::Impl::wait_fence(VkFence fence) {
    // Bounded waits so a hung device surfaces as an error instead of a hang.
    const uint64_t kTimeoutNs = 120ull * 1000 * 1000 * 1000;
    VkResult r = vkWaitForFences(device, 1, &fence, VK_TRUE, kTimeoutNs);
    if (r == VK_TIMEOUT) {
        lost = true;
        throw Error(ErrorKind::DeviceLost, "vkWaitForFences timed out after 120 s on '" +
                                               caps.name + "'; treating the device as lost");
    }
    check(r, "vkWaitForFences");
}

namespace {

std::string hex(uint64_t v, int width) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%0*llx", width, static_cast<unsigned long long>(v));
    return buf;
}

std::vector<char> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return {};
    return std::vector<char>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace

std::shared_ptr<Device> Device::open(const std::string& selector, DeviceOptions opts) {
    return open_index(select_device(selector), opts);
}

std::shared_ptr<Device> Device::open_index(uint32_t index, DeviceOptions opts) {
    auto inst = detail::instance_state();
    if (index >= inst->physical.size())
        throw Error(ErrorKind::InvalidArgument, "device index " + std::to_string(index) +
                                                    " is out of range: " +
                                                    std::to_string(inst->physical.size()) +
                                                    " device(s) present");
    auto impl = std::make_unique<Impl>();
    impl->instance = inst;
    impl->index = index;
    impl->caps = inst->caps[index];
    impl->physical = inst->physical[index];
    impl->use_disk_cache = opts.pipeline_cache && detail::getenv_str("VKML_NO_PIPELINE_CACHE").empty();
    if (opts.max_buffer_range) {
        if (opts.max_buffer_range < 4096)
            throw Error(ErrorKind::InvalidArgument, "max_buffer_range " + std::to_string(opts.max_buffer_range) +
                                                        " is below 4096 bytes");
        impl->caps.max_storage_buffer_range =
            std::min(impl->caps.max_storage_buffer_range, opts.max_buffer_range);
    }
    const Capabilities& c = impl->caps;
    if (c.api_version < VK_API_VERSION_1_2)
        throw Error(ErrorKind::Unsupported, "device '" + c.name + "' supports Vulkan " +
                                                c.api_version_string() + "; vkml needs 1.2");

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(impl->physical, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> families(nq);
    vkGetPhysicalDeviceQueueFamilyProperties(impl->physical, &nq, families.data());
    bool found = false;
    // Prefer a compute-only family (often an async compute queue), then any with compute.
    for (int pass = 0; pass < 2 && !found; ++pass)
        for (uint32_t i = 0; i < nq && !found; ++i) {
            const bool compute = families[i].queueFlags & VK_QUEUE_COMPUTE_BIT;
            const bool graphics = families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT;
            if (compute && (pass == 1 || !graphics) && families[i].timestampValidBits > 0) {
                impl->queue_family = i;
                found = true;
            }
        }
    for (uint32_t i = 0; i < nq && !found; ++i)
        if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            impl->queue_family = i;
            found = true;
        }
    if (!found) throw Error(ErrorKind::Unsupported, "device '" + c.name + "' has no compute queue");
    if (families[impl->queue_family].timestampValidBits == 0) impl->caps.timestamp_period_ns = 0;
    impl->caps.timestamp_valid_bits = families[impl->queue_family].timestampValidBits;

    // Enable every optional feature the kernels may use, where present.
    VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    f2.pNext = &f11;
    f11.pNext = &f12;
    const bool v13 = c.api_version >= VK_API_VERSION_1_3;
    if (v13) f12.pNext = &f13;
    vkGetPhysicalDeviceFeatures2(impl->physical, &f2);
    VkPhysicalDeviceFeatures2 en2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    VkPhysicalDeviceVulkan11Features en11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
    VkPhysicalDeviceVulkan12Features en12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan13Features en13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    en2.pNext = &en11;
    en11.pNext = &en12;
    if (v13) en12.pNext = &en13;
    en2.features.shaderInt16 = f2.features.shaderInt16;
    en2.features.shaderInt64 = f2.features.shaderInt64;
    en11.storageBuffer16BitAccess = f11.storageBuffer16BitAccess;
    en12.storageBuffer8BitAccess = f12.storageBuffer8BitAccess;
    en12.shaderFloat16 = f12.shaderFloat16;
    en12.shaderInt8 = f12.shaderInt8;
    if (v13) {
        en13.subgroupSizeControl = f13.subgroupSizeControl;
        en13.computeFullSubgroups = f13.computeFullSubgroups;
        en13.shaderIntegerDotProduct = f13.shaderIntegerDotProduct;
    }

    const float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = impl->queue_family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    std::vector<const char*> exts;
    uint32_t next = 0;
    vkEnumerateDeviceExtensionProperties(impl->physical, nullptr, &next, nullptr);
    std::vector<VkExtensionProperties> avail(next);
    vkEnumerateDeviceExtensionProperties(impl->physical, nullptr, &next, avail.data());
    for (const auto& e : avail)
        if (std::string(e.extensionName) == "VK_KHR_portability_subset")
            exts.push_back("VK_KHR_portability_subset");  // required when present (MoltenVK)
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.pNext = &en2;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = static_cast<uint32_t>(exts.size());
    dci.ppEnabledExtensionNames = exts.data();
    VKML_VK(vkCreateDevice(impl->physical, &dci, nullptr, &impl->device));
    vkGetDeviceQueue(impl->device, impl->queue_family, 0, &impl->queue);
    vkGetPhysicalDeviceMemoryProperties(impl->physical, &impl->memory_props);

    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
    pci.queueFamilyIndex = impl->queue_family;
    VkResult r = vkCreateCommandPool(impl->device, &pci, nullptr, &impl->transfer_pool);
    if (r != VK_SUCCESS) {
        vkDestroyDevice(impl->device, nullptr);
        detail::throw_vk(r, "vkCreateCommandPool");
    }

    std::shared_ptr<Device> dev(new Device(std::move(impl)));
    Impl& d = *dev->impl_;
    std::vector<char> blob;
    if (d.use_disk_cache) blob = read_file(dev->pipeline_cache_path());
    VkPipelineCacheCreateInfo cci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    cci.initialDataSize = blob.size();
    cci.pInitialData = blob.empty() ? nullptr : blob.data();
    if (vkCreatePipelineCache(d.device, &cci, nullptr, &d.pipeline_cache) != VK_SUCCESS) {
        cci.initialDataSize = 0;  // a stale or corrupt cache file is ignored, not fatal
        cci.pInitialData = nullptr;
        VKML_VK(vkCreatePipelineCache(d.device, &cci, nullptr, &d.pipeline_cache));
    }
    d.allocator = std::make_unique<Allocator>(*dev);
    return dev;
}

Device::Device(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Device::~Device() {
    Impl& d = *impl_;
    if (d.device == VK_NULL_HANDLE) return;
    vkDeviceWaitIdle(d.device);
    try {
        save_pipeline_cache();
    } catch (...) {
        // A cache that cannot be written only costs compile time next run.
    }
    d.kernels.clear();
    d.allocator.reset();
    if (d.pipeline_cache) vkDestroyPipelineCache(d.device, d.pipeline_cache, nullptr);
    if (d.transfer_pool) vkDestroyCommandPool(d.device, d.transfer_pool, nullptr);
    vkDestroyDevice(d.device, nullptr);
}

const Capabilities& Device::caps() const { return impl_->caps; }
uint32_t Device::index() const { return impl_->index; }
Allocator& Device::allocator() { return *impl_->allocator; }
uint64_t Device::validation_message_count() { return detail::validation_count(); }
std::string Device::last_validation_message() { return detail::last_validation(); }

void Device::check_alive() const {
    if (impl_->lost)
        throw Error(ErrorKind::DeviceLost, "the device '" + impl_->caps.name + "' was lost earlier");
}

std::string Device::pipeline_cache_path() const {
    const std::string dir = detail::cache_directory();
    if (dir.empty()) return std::string();
    const Capabilities& c = impl_->caps;
    std::string uuid;
    for (uint8_t b : c.pipeline_cache_uuid) uuid += hex(b, 2);
    return dir + "/pipelines-" + hex(c.vendor_id, 4) + "-" + hex(c.device_id, 4) + "-" +
           hex(c.driver_version, 8) + "-" + uuid + ".bin";
}

void Device::save_pipeline_cache() {
    Impl& d = *impl_;
    std::lock_guard<std::mutex> lock(d.kernel_mutex);
    if (!d.use_disk_cache || !d.cache_dirty) return;
    const std::string path = pipeline_cache_path();
    if (path.empty()) return;
    size_t size = 0;
    VKML_VK(vkGetPipelineCacheData(d.device, d.pipeline_cache, &size, nullptr));
    std::vector<char> data(size);
    VKML_VK(vkGetPipelineCacheData(d.device, d.pipeline_cache, &size, data.data()));
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    // Write to a private temporary and rename, so concurrent processes never see half a file.
    const std::string tmp = path + ".tmp" + std::to_string(reinterpret_cast<uintptr_t>(this));
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) return;
        f.write(data.data(), static_cast<std::streamsize>(size));
        if (!f) return;
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) std::filesystem::remove(tmp, ec);
    d.cache_dirty = false;
}

const Kernel& Device::kernel(const std::string& name, const std::vector<uint32_t>& spec) {
    check_alive();
    Impl& d = *impl_;
    std::string key = name;
    for (uint32_t v : spec) {
        key += '/';
        key += std::to_string(v);
    }
    std::lock_guard<std::mutex> lock(d.kernel_mutex);
    auto it = d.kernels.find(key);
    if (it != d.kernels.end()) return *it->second;

    const EmbeddedShader* shader = find_embedded_shader(name);
    if (!shader) throw Error(ErrorKind::InvalidArgument, "no kernel named '" + name + "' is embedded");
    ShaderInterface iface = reflect_shader(shader->words, shader->word_count, name);

    auto h = std::make_unique<Kernel::Handles>();
    h->device = d.device;
    VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    smci.codeSize = shader->word_count * 4;
    smci.pCode = shader->words;
    d.check(vkCreateShaderModule(d.device, &smci, nullptr, &h->module), "vkCreateShaderModule");

    std::vector<VkDescriptorSetLayoutBinding> binds(iface.binding_count);
    for (uint32_t i = 0; i < iface.binding_count; ++i) {
        binds[i].binding = i;
        binds[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        binds[i].descriptorCount = 1;
        binds[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo dl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dl.bindingCount = iface.binding_count;
    dl.pBindings = binds.data();
    d.check(vkCreateDescriptorSetLayout(d.device, &dl, nullptr, &h->set_layout),
            "vkCreateDescriptorSetLayout");

    VkPushConstantRange pcr{VK_SHADER_STAGE_COMPUTE_BIT, 0, iface.push_constant_bytes};
    VkPipelineLayoutCreateInfo plci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    plci.setLayoutCount = 1;
    plci.pSetLayouts = &h->set_layout;
    plci.pushConstantRangeCount = iface.push_constant_bytes ? 1 : 0;
    plci.pPushConstantRanges = &pcr;
    d.check(vkCreatePipelineLayout(d.device, &plci, nullptr, &h->layout), "vkCreatePipelineLayout");

    std::vector<VkSpecializationMapEntry> entries(spec.size());
    for (uint32_t i = 0; i < spec.size(); ++i) entries[i] = {i, i * 4u, 4u};
    VkSpecializationInfo si{};
    si.mapEntryCount = static_cast<uint32_t>(entries.size());
    si.pMapEntries = entries.data();
    si.dataSize = spec.size() * 4;
    si.pData = spec.data();
    VkComputePipelineCreateInfo cpci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    cpci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    cpci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    cpci.stage.module = h->module;
    cpci.stage.pName = "main";
    cpci.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
    cpci.layout = h->layout;
    d.check(vkCreateComputePipelines(d.device, d.pipeline_cache, 1, &cpci, nullptr, &h->pipeline),
            "vkCreateComputePipelines");
    d.cache_dirty = true;

    auto k = std::make_unique<Kernel>(name, spec, std::move(iface), std::move(h));
    const Kernel& ref = *k;
    d.kernels.emplace(key, std::move(k));
    return ref;
}

}  // namespace vkml
