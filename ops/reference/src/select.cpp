#include "vkml/reference/select.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace vkml::reference {

namespace {

// a ranks before b at indices ia < ib (or ia > ib) in vkml's total order.
bool before(float a, uint32_t ia, float b, uint32_t ib) {
    const bool na = std::isnan(a), nb = std::isnan(b);
    if (na || nb) return na && (!nb || ia < ib);
    if (a != b) return a > b;  // -0 == +0 here
    return ia < ib;
}

}  // namespace

std::vector<uint32_t> argmax(const std::vector<float>& x, int64_t cols) {
    const TopK t = top_k(x, cols, 1);
    return t.indices;
}

TopK top_k(const std::vector<float>& x, int64_t cols, int k) {
    const int64_t rows = static_cast<int64_t>(x.size()) / cols;
    TopK out;
    std::vector<uint32_t> order(cols);
    for (int64_t r = 0; r < rows; ++r) {
        const float* row = x.data() + r * cols;
        std::iota(order.begin(), order.end(), 0u);
        std::partial_sort(order.begin(), order.begin() + k, order.end(),
                          [&](uint32_t a, uint32_t b) { return before(row[a], a, row[b], b); });
        for (int i = 0; i < k; ++i) {
            out.values.push_back(row[order[i]]);
            out.indices.push_back(order[i]);
        }
    }
    return out;
}

}  // namespace vkml::reference
