// CPU references of softmax, log-softmax and entropy over rows of `cols` values (double
// accumulation), for tests only. Causal masking follows vkml::ops::SoftmaxOptions: the query
// index of row r is r % q_dim, and column j is masked when j > i + offset.
#pragma once

#include <cstdint>
#include <vector>

namespace vkml::reference {

struct SoftmaxMask {
    bool causal = false;
    int64_t q_dim = 1;
    int64_t offset = 0;
};

std::vector<float> softmax(const std::vector<float>& x, int64_t cols, float scale = 1.0f,
                           SoftmaxMask mask = {});
std::vector<float> log_softmax(const std::vector<float>& x, int64_t cols, float scale = 1.0f,
                               SoftmaxMask mask = {});
// One value per row: -sum p log p in nats, p = softmax(scale * row).
std::vector<float> entropy(const std::vector<float>& x, int64_t cols, float scale = 1.0f);

}  // namespace vkml::reference
