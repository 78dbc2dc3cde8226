// Shape helpers, kept apart from tensor.cpp so code without a Vulkan runtime (the parser
// fuzzers) links the same functions.
#include <string>

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
