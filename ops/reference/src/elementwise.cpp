#include "vkml/reference/elementwise.hpp"

#include <cmath>

namespace vkml::reference {

namespace {

template <class F>
std::vector<float> map(const std::vector<float>& x, F f) {
    std::vector<float> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = f(x[i]);
    return y;
}

template <class F>
std::vector<float> zip(const std::vector<float>& a, const std::vector<float>& b, F f) {
    std::vector<float> y(a.size());
    for (size_t i = 0; i < a.size(); ++i) y[i] = f(a[i], b[i % b.size()]);
    return y;
}

}  // namespace

std::vector<float> add(const std::vector<float>& a, const std::vector<float>& b) {
    return zip(a, b, [](float u, float v) { return u + v; });
}
std::vector<float> mul(const std::vector<float>& a, const std::vector<float>& b) {
    return zip(a, b, [](float u, float v) { return u * v; });
}
std::vector<float> scale(const std::vector<float>& x, float alpha, float beta) {
    return map(x, [=](float v) { return alpha * v + beta; });
}
std::vector<float> silu(const std::vector<float>& x) {
    return map(x, [](float v) { return static_cast<float>(v / (1.0 + std::exp(-static_cast<double>(v)))); });
}
std::vector<float> gelu(const std::vector<float>& x) {
    return map(x, [](float v) {
        const double d = v;
        return static_cast<float>(0.5 * d * (1.0 + std::tanh(0.7978845608028654 * (d + 0.044715 * d * d * d))));
    });
}
std::vector<float> selu(const std::vector<float>& x) {
    return map(x, [](float v) {
        const double d = v;
        return static_cast<float>(1.0507009873554805 * (d > 0 ? d : 1.6732632423543772 * std::expm1(d)));
    });
}

}  // namespace vkml::reference
