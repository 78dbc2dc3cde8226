// CPU references of the head-wise recurrent cells (sequential loops), for tests and benchmarks.
// Layouts and gate orders as in vkml/ops/rnn.hpp.
#pragma once

#include <cstdint>
#include <vector>

namespace vkml::reference {

enum class RnnCellRef { Lstm, Gru, Slstm };

// wx [Bt, L, Gw, H*dh], R [H, Gr, dh, dh], bias [4, H, dh]; state [Bt, S, H, dh] in and out.
// Returns y [Bt, L, H, dh].
std::vector<float> rnn(RnnCellRef cell, const std::vector<float>& wx, const std::vector<float>& R,
                       const std::vector<float>& bias, std::vector<float>& state, int64_t batch,
                       int64_t len, int64_t heads, int64_t dh);

}  // namespace vkml::reference
