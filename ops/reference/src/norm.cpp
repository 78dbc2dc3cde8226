#include "vkml/reference/norm.hpp"

#include <cmath>

namespace vkml::reference {

std::vector<float> rms_norm(const std::vector<float>& x, int64_t cols, const std::vector<float>& w,
                            float eps) {
    std::vector<float> y(x.size());
    const int64_t rows = static_cast<int64_t>(x.size()) / cols;
    for (int64_t r = 0; r < rows; ++r) {
        const float* row = x.data() + r * cols;
        double ss = 0;
        for (int64_t j = 0; j < cols; ++j) ss += double(row[j]) * row[j];
        const double inv = 1.0 / std::sqrt(ss / double(cols) + eps);
        for (int64_t j = 0; j < cols; ++j)
            y[r * cols + j] = static_cast<float>(row[j] * inv * (w.empty() ? 1.0 : double(w[j])));
    }
    return y;
}

std::vector<float> layer_norm(const std::vector<float>& x, int64_t cols, const std::vector<float>& w,
                              const std::vector<float>& b, float eps) {
    std::vector<float> y(x.size());
    const int64_t rows = static_cast<int64_t>(x.size()) / cols;
    for (int64_t r = 0; r < rows; ++r) {
        const float* row = x.data() + r * cols;
        double sum = 0;
        for (int64_t j = 0; j < cols; ++j) sum += row[j];
        const double mean = sum / double(cols);
        double var = 0;
        for (int64_t j = 0; j < cols; ++j) var += (row[j] - mean) * (row[j] - mean);
        const double inv = 1.0 / std::sqrt(var / double(cols) + eps);
        for (int64_t j = 0; j < cols; ++j) {
            double v = (row[j] - mean) * inv;
            if (!w.empty()) v *= w[j];
            if (!b.empty()) v += b[j];
            y[r * cols + j] = static_cast<float>(v);
        }
    }
    return y;
}

}  // namespace vkml::reference
