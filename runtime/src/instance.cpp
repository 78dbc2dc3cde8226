// The Vulkan instance, the device list and capability queries.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "vk_internal.hpp"

namespace vkml {

namespace detail {

std::string getenv_str(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

std::string cache_directory() {
    std::string dir = getenv_str("VKML_CACHE_DIR");
    if (!dir.empty()) return dir;
    dir = getenv_str("XDG_CACHE_HOME");
    if (!dir.empty()) return dir + "/vkml";
    dir = getenv_str("HOME");
    if (!dir.empty()) return dir + "/.cache/vkml";
    return std::string();
}

namespace {

std::mutex g_validation_mutex;
std::atomic<uint64_t> g_validation_count{0};
std::string g_last_validation;

VKAPI_ATTR VkBool32 VKAPI_CALL debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                              VkDebugUtilsMessageTypeFlagsEXT,
                                              const VkDebugUtilsMessengerCallbackDataEXT* data,
                                              void*) {
    if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) return VK_FALSE;
    const char* msg = data && data->pMessage ? data->pMessage : "(no message)";
    {
        std::lock_guard<std::mutex> lock(g_validation_mutex);
        g_last_validation = msg;
    }
    g_validation_count.fetch_add(1);
    std::fprintf(stderr, "vkml: validation: %s\n", msg);
    return VK_FALSE;
}

bool has_layer(const char* name) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> layers(n);
    vkEnumerateInstanceLayerProperties(&n, layers.data());
    return std::any_of(layers.begin(), layers.end(),
                       [&](const VkLayerProperties& l) { return std::strcmp(l.layerName, name) == 0; });
}

bool has_instance_extension(const char* name) {
    uint32_t n = 0;
    vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> ext(n);
    vkEnumerateInstanceExtensionProperties(nullptr, &n, ext.data());
    return std::any_of(ext.begin(), ext.end(), [&](const VkExtensionProperties& e) {
        return std::strcmp(e.extensionName, name) == 0;
    });
}

DeviceType device_type(VkPhysicalDeviceType t) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return DeviceType::IntegratedGpu;
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return DeviceType::DiscreteGpu;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return DeviceType::VirtualGpu;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return DeviceType::Cpu;
        default: return DeviceType::Other;
    }
}

bool has_device_extension(const std::vector<VkExtensionProperties>& ext, const char* name) {
    return std::any_of(ext.begin(), ext.end(), [&](const VkExtensionProperties& e) {
        return std::strcmp(e.extensionName, name) == 0;
    });
}

Capabilities read_capabilities(VkPhysicalDevice pd) {
    Capabilities c;
    VkPhysicalDeviceProperties base{};
    vkGetPhysicalDeviceProperties(pd, &base);
    c.name = base.deviceName;
    c.type = device_type(base.deviceType);
    c.api_version = base.apiVersion;
    c.vendor_id = base.vendorID;
    c.device_id = base.deviceID;
    c.driver_version = base.driverVersion;
    std::memcpy(c.pipeline_cache_uuid, base.pipelineCacheUUID, 16);
    const VkPhysicalDeviceLimits& lim = base.limits;
    c.max_shared_memory = lim.maxComputeSharedMemorySize;
    c.max_workgroup_invocations = lim.maxComputeWorkGroupInvocations;
    for (int i = 0; i < 3; ++i) {
        c.max_workgroup_size[i] = lim.maxComputeWorkGroupSize[i];
        c.max_workgroup_count[i] = lim.maxComputeWorkGroupCount[i];
    }
    c.max_push_constants = lim.maxPushConstantsSize;
    c.device_storage_buffer_range = lim.maxStorageBufferRange;
    c.min_storage_offset_alignment = lim.minStorageBufferOffsetAlignment;
    c.min_texel_offset_alignment = lim.minTexelBufferOffsetAlignment;
    c.max_texel_buffer_elements = lim.maxTexelBufferElements;
    c.timestamp_period_ns = lim.timestampComputeAndGraphics ? lim.timestampPeriod : 0.0f;

    uint32_t next = 0;
    vkEnumerateDeviceExtensionProperties(pd, nullptr, &next, nullptr);
    std::vector<VkExtensionProperties> ext(next);
    vkEnumerateDeviceExtensionProperties(pd, nullptr, &next, ext.data());
    const bool v11 = base.apiVersion >= VK_API_VERSION_1_1;
    const bool v12 = base.apiVersion >= VK_API_VERSION_1_2;
    const bool v13 = base.apiVersion >= VK_API_VERSION_1_3;
    c.integer_dot_product =
        v13 || has_device_extension(ext, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
    c.cooperative_matrix = has_device_extension(ext, "VK_KHR_cooperative_matrix");
    c.subgroup_size_control = v13 || has_device_extension(ext, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);

    if (v11) {
        VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
        VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
        VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
        VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
        VkPhysicalDeviceSubgroupSizeControlProperties ssc{
            VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
        VkPhysicalDeviceShaderIntegerDotProductProperties idp{
            VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES};
        p2.pNext = &sg;
        sg.pNext = &m3;
        void** tail = &m3.pNext;
        if (v12) {
            *tail = &drv;
            tail = &drv.pNext;
        }
        if (c.subgroup_size_control) {
            *tail = &ssc;
            tail = &ssc.pNext;
        }
        if (c.integer_dot_product) {
            *tail = &idp;
            tail = &idp.pNext;
        }
        vkGetPhysicalDeviceProperties2(pd, &p2);
        c.subgroup_size = sg.subgroupSize;
        const VkSubgroupFeatureFlags ops = sg.supportedOperations;
        const bool compute = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
        c.subgroup_basic = compute && (ops & VK_SUBGROUP_FEATURE_BASIC_BIT);
        c.subgroup_arithmetic = compute && (ops & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
        c.subgroup_shuffle = compute && (ops & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
        c.subgroup_ballot = compute && (ops & VK_SUBGROUP_FEATURE_BALLOT_BIT);
        c.max_allocation_size = m3.maxMemoryAllocationSize;
        if (v12) {
            c.driver_name = drv.driverName;
            c.driver_info = drv.driverInfo;
        }
        c.min_subgroup_size = c.max_subgroup_size = c.subgroup_size;
        if (c.subgroup_size_control) {
            c.min_subgroup_size = ssc.minSubgroupSize;
            c.max_subgroup_size = ssc.maxSubgroupSize;
        }
        if (c.integer_dot_product)
            c.integer_dot_product_accelerated = idp.integerDotProduct4x8BitPackedSignedAccelerated;

        VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
        VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
        VkPhysicalDevice8BitStorageFeatures s8{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
        VkPhysicalDeviceShaderFloat16Int8Features f16i8{
            VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
        f2.pNext = &s16;
        s16.pNext = &s8;
        s8.pNext = &f16i8;
        vkGetPhysicalDeviceFeatures2(pd, &f2);
        c.fp16_storage = s16.storageBuffer16BitAccess;
        c.int8_storage = s8.storageBuffer8BitAccess;
        c.fp16_arithmetic = f16i8.shaderFloat16;
        c.int8_arithmetic = f16i8.shaderInt8;
        c.int16_arithmetic = f2.features.shaderInt16;
        c.int64_arithmetic = f2.features.shaderInt64;
    }
    if (c.max_allocation_size == 0) c.max_allocation_size = 1ull << 30;  // spec minimum

    VkPhysicalDeviceMemoryProperties mem{};
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
        c.heaps.push_back({mem.memoryHeaps[i].size,
                           (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0});
    // Unified: the largest device-local heap is host visible (integrated GPUs, CPU devices).
    uint64_t best_heap_size = 0;
    uint32_t best_heap = 0;
    for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
        if (c.heaps[i].device_local && c.heaps[i].size > best_heap_size) {
            best_heap_size = c.heaps[i].size;
            best_heap = i;
        }
    for (uint32_t i = 0; i < mem.memoryTypeCount; ++i) {
        const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT |
                                           VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                           VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        if (mem.memoryTypes[i].heapIndex == best_heap &&
            (mem.memoryTypes[i].propertyFlags & want) == want)
            c.unified_memory = c.type == DeviceType::IntegratedGpu || c.type == DeviceType::Cpu ||
                               c.type == DeviceType::VirtualGpu;
    }

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> q(nq);
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, q.data());
    for (const auto& f : q)
        if (f.queueFlags & VK_QUEUE_COMPUTE_BIT) {
            c.timestamp_valid_bits = f.timestampValidBits;
            break;
        }
    if (c.timestamp_valid_bits == 0) c.timestamp_period_ns = 0;

    c.max_storage_buffer_range = c.device_storage_buffer_range;
    const std::string lowered = getenv_str("VKML_MAX_BUFFER_RANGE");
    if (!lowered.empty()) {
        char* end = nullptr;
        const unsigned long long v = std::strtoull(lowered.c_str(), &end, 0);
        if (end == lowered.c_str() || *end != '\0' || v < 4096)
            throw Error(ErrorKind::InvalidArgument,
                        "VKML_MAX_BUFFER_RANGE='" + lowered + "' is not a byte count >= 4096");
        c.max_storage_buffer_range = std::min<uint64_t>(v, c.device_storage_buffer_range);
    }
    return c;
}

}  // namespace

InstanceState::~InstanceState() {
    if (messenger != VK_NULL_HANDLE) {
        auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
        if (destroy) destroy(instance, messenger, nullptr);
    }
    if (instance != VK_NULL_HANDLE) vkDestroyInstance(instance, nullptr);
}

std::shared_ptr<InstanceState> instance_state() {
    static std::mutex m;
    static std::shared_ptr<InstanceState> state;
    std::lock_guard<std::mutex> lock(m);
    if (state) return state;

    auto s = std::make_shared<InstanceState>();
    const std::string v = getenv_str("VKML_VALIDATION");
    s->validation = !v.empty() && v != "0";
    const bool sync_validation = s->validation && v != "core";

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "vkml";
    app.pEngineName = "vkml";
    app.apiVersion = VK_API_VERSION_1_3;

    std::vector<const char*> layers;
    std::vector<const char*> exts;
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    if (has_instance_extension(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        exts.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
        ci.flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }
    VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
    const VkValidationFeatureEnableEXT enables[] = {
        VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    if (s->validation) {
        if (!has_layer("VK_LAYER_KHRONOS_validation"))
            throw Error(ErrorKind::Unsupported,
                        "VKML_VALIDATION is set but VK_LAYER_KHRONOS_validation is not installed "
                        "(Debian: apt-get install vulkan-validationlayers)");
        layers.push_back("VK_LAYER_KHRONOS_validation");
        exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
        dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                              VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
        dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                          VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT;
        dbg.pfnUserCallback = debug_callback;
        if (sync_validation) {
            features.enabledValidationFeatureCount = 1;
            features.pEnabledValidationFeatures = enables;
            features.pNext = &dbg;
            ci.pNext = &features;
        } else {
            ci.pNext = &dbg;
        }
    }
    ci.pApplicationInfo = &app;
    ci.enabledLayerCount = static_cast<uint32_t>(layers.size());
    ci.ppEnabledLayerNames = layers.data();
    ci.enabledExtensionCount = static_cast<uint32_t>(exts.size());
    ci.ppEnabledExtensionNames = exts.data();
    VkResult r = vkCreateInstance(&ci, nullptr, &s->instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        throw Error(ErrorKind::Unsupported,
                    "no Vulkan driver found (vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER); "
                    "install one, e.g. Debian's mesa-vulkan-drivers for the CPU device lavapipe");
    VKML_VK(r);
    if (s->validation) {
        auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(s->instance, "vkCreateDebugUtilsMessengerEXT"));
        if (create) VKML_VK(create(s->instance, &dbg, nullptr, &s->messenger));
    }
    uint32_t n = 0;
    VKML_VK(vkEnumeratePhysicalDevices(s->instance, &n, nullptr));
    s->physical.resize(n);
    VKML_VK(vkEnumeratePhysicalDevices(s->instance, &n, s->physical.data()));
    s->physical.resize(n);
    for (VkPhysicalDevice pd : s->physical) s->caps.push_back(read_capabilities(pd));
    state = s;
    return state;
}

uint64_t validation_count() { return g_validation_count.load(); }
std::string last_validation() {
    std::lock_guard<std::mutex> lock(g_validation_mutex);
    return g_last_validation;
}

}  // namespace detail

const char* to_string(DeviceType t) {
    switch (t) {
        case DeviceType::IntegratedGpu: return "integrated";
        case DeviceType::DiscreteGpu: return "discrete";
        case DeviceType::VirtualGpu: return "virtual";
        case DeviceType::Cpu: return "cpu";
        default: return "other";
    }
}

uint64_t Capabilities::device_local_bytes() const {
    uint64_t total = 0;
    for (const MemoryHeap& h : heaps)
        if (h.device_local) total += h.size;
    return total;
}

std::string Capabilities::api_version_string() const {
    return std::to_string(VK_API_VERSION_MAJOR(api_version)) + "." +
           std::to_string(VK_API_VERSION_MINOR(api_version)) + "." +
           std::to_string(VK_API_VERSION_PATCH(api_version));
}

const std::vector<Capabilities>& list_devices() { return detail::instance_state()->caps; }

uint32_t select_device(const std::string& selector_in) {
    const auto& devs = list_devices();
    if (devs.empty())
        throw Error(ErrorKind::Unsupported,
                    "no Vulkan device found; install a driver (Debian: mesa-vulkan-drivers)");
    std::string selector = selector_in.empty() ? detail::getenv_str("VKML_DEVICE") : selector_in;
    if (selector.empty()) {
        auto rank = [](DeviceType t) {
            switch (t) {
                case DeviceType::DiscreteGpu: return 0;
                case DeviceType::IntegratedGpu: return 1;
                case DeviceType::VirtualGpu: return 2;
                case DeviceType::Cpu: return 3;
                default: return 4;
            }
        };
        uint32_t best = 0;
        for (uint32_t i = 1; i < devs.size(); ++i)
            if (rank(devs[i].type) < rank(devs[best].type)) best = i;
        return best;
    }
    const bool numeric = std::all_of(selector.begin(), selector.end(),
                                     [](unsigned char ch) { return std::isdigit(ch); });
    if (numeric) {
        const unsigned long idx = std::stoul(selector);
        if (idx >= devs.size())
            throw Error(ErrorKind::InvalidArgument,
                        "device index " + selector + " is out of range: " +
                            std::to_string(devs.size()) + " device(s) present");
        return static_cast<uint32_t>(idx);
    }
    auto lower = [](std::string s) {
        for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return s;
    };
    const std::string want = lower(selector);
    for (uint32_t i = 0; i < devs.size(); ++i)
        if (lower(devs[i].name).find(want) != std::string::npos) return i;
    std::string names;
    for (const auto& d : devs) names += (names.empty() ? "" : ", ") + d.name;
    throw Error(ErrorKind::InvalidArgument,
                "no device matches '" + selector + "'; devices: " + names);
}

}  // namespace vkml
