#include "vkml/reference/softmax.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vkml::reference {

namespace {

// Calls fn(row, n_valid) where columns [0, n_valid) of the row are unmasked.
template <class F>
void for_rows(const std::vector<float>& x, int64_t cols, const SoftmaxMask& m, F&& fn) {
    const int64_t rows = static_cast<int64_t>(x.size()) / cols;
    for (int64_t r = 0; r < rows; ++r) {
        int64_t n = cols;
        if (m.causal) n = std::min(cols, r % m.q_dim + m.offset + 1);
        fn(r, n);
    }
}

// Row max and log(sum exp(z - max)) over the first n columns of row r, z = scale * x.
std::pair<double, double> max_and_log_sum(const float* row, int64_t n, float scale) {
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < n; ++j) mx = std::max(mx, double(scale) * row[j]);
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += std::exp(double(scale) * row[j] - mx);
    return {mx, std::log(sum)};
}

}  // namespace

std::vector<float> softmax(const std::vector<float>& x, int64_t cols, float scale, SoftmaxMask mask) {
    std::vector<float> y(x.size(), 0.0f);
    for_rows(x, cols, mask, [&](int64_t r, int64_t n) {
        const float* row = x.data() + r * cols;
        const auto [mx, ls] = max_and_log_sum(row, n, scale);
        for (int64_t j = 0; j < n; ++j)
            y[r * cols + j] = static_cast<float>(std::exp(double(scale) * row[j] - mx - ls));
    });
    return y;
}

std::vector<float> log_softmax(const std::vector<float>& x, int64_t cols, float scale, SoftmaxMask mask) {
    std::vector<float> y(x.size(), -std::numeric_limits<float>::infinity());
    for_rows(x, cols, mask, [&](int64_t r, int64_t n) {
        const float* row = x.data() + r * cols;
        const auto [mx, ls] = max_and_log_sum(row, n, scale);
        for (int64_t j = 0; j < n; ++j)
            y[r * cols + j] = static_cast<float>(double(scale) * row[j] - mx - ls);
    });
    return y;
}

std::vector<float> entropy(const std::vector<float>& x, int64_t cols, float scale) {
    std::vector<float> h(x.size() / cols);
    for_rows(x, cols, {}, [&](int64_t r, int64_t n) {
        const float* row = x.data() + r * cols;
        const auto [mx, ls] = max_and_log_sum(row, n, scale);
        double acc = 0;
        for (int64_t j = 0; j < n; ++j) {
            const double lp = double(scale) * row[j] - mx - ls;
            if (std::isinf(lp)) continue;  // p = 0 contributes 0 (not 0 * -inf)
            acc -= std::exp(lp) * lp;
        }
        h[r] = static_cast<float>(acc);
    });
    return h;
}

}  // namespace vkml::reference
