// CPU references of argmax and top-k over rows of `cols` values, for tests only. Same order as
// vkml::ops: value descending (NaN above +inf, -0 equal to +0), ties to the lower index.
#pragma once

#include <cstdint>
#include <vector>

namespace vkml::reference {

std::vector<uint32_t> argmax(const std::vector<float>& x, int64_t cols);

struct TopK {
    std::vector<float> values;      // [rows, k]
    std::vector<uint32_t> indices;  // [rows, k]
};
TopK top_k(const std::vector<float>& x, int64_t cols, int k);

}  // namespace vkml::reference
