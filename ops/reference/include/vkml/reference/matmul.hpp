// CPU reference of ops::matmul (plain triple loop, double accumulation), for tests only.
#pragma once

#include <cstdint>
#include <vector>

namespace vkml::reference {

// y[n, m] = x[n, k] * w[m, k]^T, all row-major.
std::vector<float> matmul(const std::vector<float>& w, const std::vector<float>& x, int64_t m,
                          int64_t n, int64_t k);

// The values an f16 tensor made from `v` holds (each rounded to half, nearest even).
std::vector<float> round_to_half(const std::vector<float>& v);

}  // namespace vkml::reference
