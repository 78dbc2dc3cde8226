// CPU reference forward of the Mamba-2 model, built from the ops' CPU references (one conv over
// [x | B | C], the plain SSD recurrence), for tests.
#pragma once

#include <cstdint>
#include <vector>

#include "vkml/models/mamba2.hpp"

namespace vkml::reference {

// Logits [tokens.size(), vocab] from a zero state.
std::vector<float> mamba2_forward(const models::WeightSource& w, const std::vector<int32_t>& tokens);

}  // namespace vkml::reference
