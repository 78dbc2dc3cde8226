// Opening a logical device, the pipeline cache on disk, and kernels.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vk_internal.hpp"
#include "vkml/testing.hpp"

namespace vkml {

namespace detail {
uint64_t validation_count();
std::string last_validation();
}  // namespace detail

Kernel::Handles::~Handles() {
    using detail::Obj;
    if (pipeline) {
        vkDestroyPipeline(device, pipeline, nullptr);
        counts->sub(Obj::Pipeline);
    }
    if (layout) {
        vkDestroyPipelineLayout(device, layout, nullptr);
        counts->sub(Obj::PipelineLayout);
    }
    if (set_layout) {
        vkDestroyDescriptorSetLayout(device, set_layout, nullptr);
        counts->sub(Obj::DescriptorSetLayout);
    }
    if (module) {
        vkDestroyShaderModule(device, module, nullptr);
        counts->sub(Obj::ShaderModule);
    }
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

void Device::Impl::check_alive() const {
    if (lost) throw Error(ErrorKind::DeviceLost, "the device '" + caps.name + "' was lost earlier");
}

bool Device::Impl::take_injected_loss() {
    uint64_t c = inject_lost_countdown.load();
    while (c != 0)
        if (inject_lost_countdown.compare_exchange_weak(c, c - 1)) return c == 1;
    return false;
}

void Device::Impl::submit(const VkSubmitInfo& info, VkFence fence) {
    check_alive();
    std::lock_guard<std::mutex> lock(queue_mutex);
    // An injected loss replaces the call: nothing is queued, as on a really lost device.
    const bool injected = take_injected_loss();
    const VkResult r = injected ? VK_ERROR_DEVICE_LOST : vkQueueSubmit(queue, 1, &info, fence);
    check(r, injected ? "vkQueueSubmit (injected by vkml::testing)" : "vkQueueSubmit");
}

void Device::Impl::wait_fence(VkFence fence) {
    check_alive();
    // Bounded waits so a hung device surfaces as an error instead of a hang.
    const uint64_t timeout = fence_timeout_ns.load();
    VkResult r = vkWaitForFences(device, 1, &fence, VK_TRUE, timeout);
    if (r == VK_TIMEOUT) {
        lost = true;
        throw Error(ErrorKind::DeviceLost, "vkWaitForFences timed out after " +
                                               std::to_string(timeout / 1000000) + " ms on '" +
                                               caps.name + "'; treating the device as lost");
    }
    // An injected loss is reported after the real wait, so no work is left in flight.
    const bool injected = r == VK_SUCCESS && take_injected_loss();
    if (injected) r = VK_ERROR_DEVICE_LOST;
    check(r, injected ? "vkWaitForFences (injected by vkml::testing)" : "vkWaitForFences");
}

namespace testing {

void inject_device_lost(Device& dev, uint64_t nth) { dev.impl().inject_lost_countdown = nth; }

void set_fence_timeout(Device& dev, std::chrono::nanoseconds timeout) {
    dev.impl().fence_timeout_ns = static_cast<uint64_t>(std::max<int64_t>(0, timeout.count()));
}

void wait_idle(Device& dev) {
    std::lock_guard<std::mutex> lock(dev.impl().queue_mutex);  // vkDeviceWaitIdle syncs every queue
    vkDeviceWaitIdle(dev.impl().device);
}

}  // namespace testing

namespace {

std::string hex(uint64_t v, int width) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%0*llx", width, static_cast<unsigned long long>(v));
    return buf;
}

uint64_t env_count(const char* name) {
    const std::string v = detail::getenv_str(name);
    if (v.empty()) return 0;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (end == v.c_str() || *end != '\0')
        throw Error(ErrorKind::InvalidArgument, std::string(name) + "='" + v + "' is not a count");
    return n;
}

// Applies DeviceOptions::disable and $VKML_DISABLE: clears the capabilities named there.
void mask_capabilities(Capabilities& c, const std::string& list) {
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ',')) {
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (item.empty()) continue;
        if (item == "fp16") {
            c.fp16_storage = c.fp16_arithmetic = false;
        } else if (item == "subgroup") {
            c.subgroup_basic = c.subgroup_arithmetic = c.subgroup_shuffle = c.subgroup_ballot = false;
        } else if (item == "int8") {
            c.int8_storage = c.int8_arithmetic = false;
        } else if (item == "int_dot") {
            c.integer_dot_product = c.integer_dot_product_accelerated = false;
        } else {
            throw Error(ErrorKind::InvalidArgument,
                        "cannot disable unknown capability '" + item +
                            "' (DeviceOptions::disable / VKML_DISABLE take fp16, subgroup, int8, int_dot)");
        }
    }
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
    mask_capabilities(impl->caps, opts.disable + "," + detail::getenv_str("VKML_DISABLE"));
    const uint64_t inject_lost = env_count("VKML_INJECT_DEVICE_LOST");
    const uint64_t fence_timeout_ms = env_count("VKML_FENCE_TIMEOUT_MS");
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
    // A masked capability is also left disabled, so validation catches a kernel that uses it.
    en11.storageBuffer16BitAccess = f11.storageBuffer16BitAccess && c.fp16_storage;
    en12.storageBuffer8BitAccess = f12.storageBuffer8BitAccess && c.int8_storage;
    en12.shaderFloat16 = f12.shaderFloat16 && c.fp16_arithmetic;
    en12.shaderInt8 = f12.shaderInt8 && c.int8_arithmetic;
    if (v13) {
        en13.subgroupSizeControl = f13.subgroupSizeControl;
        en13.computeFullSubgroups = f13.computeFullSubgroups;
        en13.shaderIntegerDotProduct = f13.shaderIntegerDotProduct && c.integer_dot_product;
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
    impl->counts.add(detail::Obj::CommandPool);
    impl->inject_lost_countdown = inject_lost;
    if (fence_timeout_ms) impl->fence_timeout_ns = fence_timeout_ms * 1000000;

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
    d.counts.add(detail::Obj::PipelineCache);
    d.allocator = std::make_unique<Allocator>(*dev);
    return dev;
}

Device::Device(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Device::~Device() {
    Impl& d = *impl_;
    if (d.device == VK_NULL_HANDLE) return;
    // A lost device may never go idle (a hung GPU); streams already waited, bounded, for their
    // own work, so skip the unbounded wait and release everything.
    if (!d.lost) vkDeviceWaitIdle(d.device);
    try {
        save_pipeline_cache();
    } catch (...) {
        // A cache that cannot be written only costs compile time next run.
    }
    d.kernels.clear();
    d.allocator.reset();
    if (d.pipeline_cache) vkDestroyPipelineCache(d.device, d.pipeline_cache, nullptr);
    if (d.transfer_pool) vkDestroyCommandPool(d.device, d.transfer_pool, nullptr);
    d.counts.sub(detail::Obj::PipelineCache);
    d.counts.sub(detail::Obj::CommandPool);
    vkDestroyDevice(d.device, nullptr);
}

const Capabilities& Device::caps() const { return impl_->caps; }
uint32_t Device::index() const { return impl_->index; }
Allocator& Device::allocator() { return *impl_->allocator; }
uint64_t Device::validation_message_count() { return detail::validation_count(); }
std::string Device::last_validation_message() { return detail::last_validation(); }

void Device::check_alive() const { impl_->check_alive(); }
bool Device::lost() const { return impl_->lost; }

LiveObjects Device::live_objects() const {
    const detail::ObjectCounts& n = impl_->counts;
    auto get = [&](detail::Obj o) {
        return static_cast<uint64_t>(std::max<int64_t>(0, n.n[static_cast<int>(o)].load()));
    };
    using detail::Obj;
    LiveObjects l;
    l.buffers = get(Obj::Buffer);
    l.device_memory = get(Obj::DeviceMemory);
    l.pipelines = get(Obj::Pipeline);
    l.pipeline_layouts = get(Obj::PipelineLayout);
    l.descriptor_set_layouts = get(Obj::DescriptorSetLayout);
    l.descriptor_pools = get(Obj::DescriptorPool);
    l.descriptor_sets = get(Obj::DescriptorSet);
    l.command_pools = get(Obj::CommandPool);
    l.command_buffers = get(Obj::CommandBuffer);
    l.fences = get(Obj::Fence);
    l.semaphores = get(Obj::Semaphore);
    l.query_pools = get(Obj::QueryPool);
    l.shader_modules = get(Obj::ShaderModule);
    l.pipeline_caches = get(Obj::PipelineCache);
    l.buffer_views = get(Obj::BufferView);
    return l;
}

uint64_t LiveObjects::total() const {
    return buffers + device_memory + pipelines + pipeline_layouts + descriptor_set_layouts +
           descriptor_pools + descriptor_sets + command_pools + command_buffers + fences +
           semaphores + query_pools + shader_modules + pipeline_caches + buffer_views;
}

std::string LiveObjects::to_string() const {
    std::string s;
    auto put = [&](const char* name, uint64_t v) {
        if (!s.empty()) s += ' ';
        s += name;
        s += '=';
        s += std::to_string(v);
    };
    put("buffers", buffers);
    put("device_memory", device_memory);
    put("pipelines", pipelines);
    put("pipeline_layouts", pipeline_layouts);
    put("descriptor_set_layouts", descriptor_set_layouts);
    put("descriptor_pools", descriptor_pools);
    put("descriptor_sets", descriptor_sets);
    put("command_pools", command_pools);
    put("command_buffers", command_buffers);
    put("fences", fences);
    put("semaphores", semaphores);
    put("query_pools", query_pools);
    put("shader_modules", shader_modules);
    put("pipeline_caches", pipeline_caches);
    put("buffer_views", buffer_views);
    return s;
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
    check_alive();
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

    using detail::Obj;
    auto h = std::make_unique<Kernel::Handles>();
    h->device = d.device;
    h->counts = &d.counts;
    VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    smci.codeSize = shader->word_count * 4;
    smci.pCode = shader->words;
    d.check(vkCreateShaderModule(d.device, &smci, nullptr, &h->module), "vkCreateShaderModule");
    d.counts.add(Obj::ShaderModule);

    std::vector<VkDescriptorSetLayoutBinding> binds(iface.binding_count);
    for (uint32_t i = 0; i < iface.binding_count; ++i) {
        binds[i].binding = i;
        binds[i].descriptorType =
            iface.binding_texel[i] ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        binds[i].descriptorCount = 1;
        binds[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo dl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dl.bindingCount = iface.binding_count;
    dl.pBindings = binds.data();
    d.check(vkCreateDescriptorSetLayout(d.device, &dl, nullptr, &h->set_layout),
            "vkCreateDescriptorSetLayout");
    d.counts.add(Obj::DescriptorSetLayout);

    VkPushConstantRange pcr{VK_SHADER_STAGE_COMPUTE_BIT, 0, iface.push_constant_bytes};
    VkPipelineLayoutCreateInfo plci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    plci.setLayoutCount = 1;
    plci.pSetLayouts = &h->set_layout;
    plci.pushConstantRangeCount = iface.push_constant_bytes ? 1 : 0;
    plci.pPushConstantRanges = &pcr;
    d.check(vkCreatePipelineLayout(d.device, &plci, nullptr, &h->layout), "vkCreatePipelineLayout");
    d.counts.add(Obj::PipelineLayout);

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
    d.counts.add(Obj::Pipeline);
    d.cache_dirty = true;

    auto k = std::make_unique<Kernel>(name, spec, std::move(iface), std::move(h));
    const Kernel& ref = *k;
    d.kernels.emplace(key, std::move(k));
    return ref;
}

}  // namespace vkml
