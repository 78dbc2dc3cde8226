// CPU references of RMSNorm and LayerNorm over rows of `cols` values (double accumulation),
// for tests only. An empty weight or bias means none.
#pragma once

#include <cstdint>
#include <vector>

namespace vkml::reference {

std::vector<float> rms_norm(const std::vector<float>& x, int64_t cols, const std::vector<float>& weight,
                            float eps);
std::vector<float> layer_norm(const std::vector<float>& x, int64_t cols, const std::vector<float>& weight,
                              const std::vector<float>& bias, float eps);

}  // namespace vkml::reference
