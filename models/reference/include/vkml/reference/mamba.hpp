// CPU reference forward of the Mamba model (plain sequential recurrence), for tests.
#pragma once

#include <cstdint>
#include <vector>

#include "vkml/models/mamba.hpp"

namespace vkml::reference {

// Logits [tokens.size(), vocab] from a zero state.
std::vector<float> mamba_forward(const models::WeightSource& w, const std::vector<int32_t>& tokens);

}  // namespace vkml::reference
