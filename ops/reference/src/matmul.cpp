#include "vkml/reference/matmul.hpp"

#include <stdexcept>

#include "vkml/dtype.hpp"

namespace vkml::reference {

std::vector<float> matmul(const std::vector<float>& w, const std::vector<float>& x, int64_t m,
                          int64_t n, int64_t k) {
    if (static_cast<int64_t>(w.size()) != m * k || static_cast<int64_t>(x.size()) != n * k)
        throw std::invalid_argument("reference::matmul: sizes do not match m, n, k");
    std::vector<float> y(static_cast<size_t>(n * m));
    for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < m; ++c) {
            double acc = 0;
            for (int64_t i = 0; i < k; ++i)
                acc += static_cast<double>(x[r * k + i]) * static_cast<double>(w[c * k + i]);
            y[r * m + c] = static_cast<float>(acc);
        }
    return y;
}

std::vector<float> round_to_half(const std::vector<float>& v) {
    std::vector<float> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = half_to_float(float_to_half(v[i]));
    return out;
}

}  // namespace vkml::reference
