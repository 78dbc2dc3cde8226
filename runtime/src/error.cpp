#include "vkml/error.hpp"

#include "vk_internal.hpp"

namespace vkml {

const char* to_string(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::InvalidArgument: return "invalid argument";
        case ErrorKind::Unsupported: return "unsupported";
        case ErrorKind::OutOfMemory: return "out of memory";
        case ErrorKind::DeviceLost: return "device lost";
        case ErrorKind::BadFile: return "bad file";
        case ErrorKind::Vulkan: return "vulkan error";
        case ErrorKind::Internal: return "internal error";
    }
    return "error";
}

Error::Error(ErrorKind kind, const std::string& message)
    : std::runtime_error(std::string("vkml: ") + to_string(kind) + ": " + message), kind_(kind) {}

namespace detail {

const char* vk_result_name(VkResult r) {
    switch (r) {
#define VKML_CASE(x) case x: return #x;
        VKML_CASE(VK_SUCCESS)
        VKML_CASE(VK_NOT_READY)
        VKML_CASE(VK_TIMEOUT)
        VKML_CASE(VK_INCOMPLETE)
        VKML_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
        VKML_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        VKML_CASE(VK_ERROR_INITIALIZATION_FAILED)
        VKML_CASE(VK_ERROR_DEVICE_LOST)
        VKML_CASE(VK_ERROR_MEMORY_MAP_FAILED)
        VKML_CASE(VK_ERROR_LAYER_NOT_PRESENT)
        VKML_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
        VKML_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
        VKML_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
        VKML_CASE(VK_ERROR_TOO_MANY_OBJECTS)
        VKML_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
        VKML_CASE(VK_ERROR_FRAGMENTED_POOL)
        VKML_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
        VKML_CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
        VKML_CASE(VK_ERROR_FRAGMENTATION)
        VKML_CASE(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
        VKML_CASE(VK_ERROR_UNKNOWN)
#undef VKML_CASE
        default: return "VkResult(unknown)";
    }
}

void throw_vk(VkResult r, const char* call) {
    std::string msg = std::string(call) + " failed with " + vk_result_name(r) + " (" +
                      std::to_string(static_cast<int>(r)) + ")";
    switch (r) {
        case VK_ERROR_OUT_OF_HOST_MEMORY:
        case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        case VK_ERROR_OUT_OF_POOL_MEMORY:
        case VK_ERROR_FRAGMENTATION:
            throw Error(ErrorKind::OutOfMemory, msg);
        case VK_ERROR_DEVICE_LOST:
            throw Error(ErrorKind::DeviceLost, msg);
        case VK_ERROR_EXTENSION_NOT_PRESENT:
        case VK_ERROR_FEATURE_NOT_PRESENT:
        case VK_ERROR_LAYER_NOT_PRESENT:
        case VK_ERROR_INCOMPATIBLE_DRIVER:
            throw Error(ErrorKind::Unsupported, msg);
        default:
            throw Error(ErrorKind::Vulkan, msg);
    }
}

}  // namespace detail
}  // namespace vkml
