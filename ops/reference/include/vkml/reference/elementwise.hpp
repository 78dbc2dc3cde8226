// CPU references of the elementwise ops (plain loops, double-free f32 math), for tests only.
#pragma once

#include <vector>

namespace vkml::reference {

std::vector<float> add(const std::vector<float>& a, const std::vector<float>& b);  // b may broadcast a row
std::vector<float> mul(const std::vector<float>& a, const std::vector<float>& b);
std::vector<float> scale(const std::vector<float>& x, float alpha, float beta);
std::vector<float> silu(const std::vector<float>& x);
std::vector<float> gelu(const std::vector<float>& x);
std::vector<float> selu(const std::vector<float>& x);

}  // namespace vkml::reference
