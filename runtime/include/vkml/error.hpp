// vkml::Error: the one exception type every layer throws.
#pragma once

#include <stdexcept>
#include <string>

namespace vkml {

enum class ErrorKind {
    InvalidArgument,  // wrong shapes, dtypes, sizes, or a bad option
    Unsupported,      // the device lacks a feature the request needs
    OutOfMemory,      // host or device memory could not be allocated
    DeviceLost,       // VK_ERROR_DEVICE_LOST; the device is unusable from now on
    BadFile,          // a corrupt, truncated or unreadable file
    Vulkan,           // any other failed Vulkan call
    Internal,         // a broken invariant inside vkml (a bug)
};

const char* to_string(ErrorKind kind);

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message);
    ErrorKind kind() const noexcept { return kind_; }

private:
    ErrorKind kind_;
};

}  // namespace vkml
