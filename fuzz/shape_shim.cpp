// The parsers use two Shape helpers that live in runtime/src/tensor.cpp, which drags in the whole
// Vulkan runtime. The fuzz targets link this copy instead (keep it identical to tensor.cpp) so they
// build and run without a Vulkan device.
#include "vkml/tensor.hpp"

namespace vkml {

std::string shape_string(const Shape& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

int64_t shape_numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
}

}  // namespace vkml
