// Shared plumbing of the one-workgroup-per-row ops (softmax, norms, argmax, top-k): which
// reduction variant to use, the workgroup size, and walking rows in bindable chunks.
// Internal to ops/.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <numeric>
#include <string>

#include "op_common.hpp"
#include "vkml/kernel.hpp"

namespace vkml::ops::detail {

// "<family>_sg" (subgroup arithmetic) when the device has it, else "<family>_shared".
// VKML_REDUCE=shared forces the shared-memory variant, so tests cover it on any device.
inline std::string reduce_variant(const Device& dev, const std::string& family) {
    const char* force = std::getenv("VKML_REDUCE");
    const bool shared = force != nullptr && std::strcmp(force, "shared") == 0;
    return family + (dev.caps().subgroup_arithmetic && !shared ? "_sg" : "_shared");
}

// A power of two (the shared-memory tree needs one), at most 256.
inline uint32_t row_workgroup_size(const Device& dev) {
    uint32_t wg = 256;
    while (wg > 1 && wg > dev.caps().max_workgroup_invocations) wg /= 2;
    return wg;
}

// Calls fn(first_row, row_count) over chunks of rows such that every tensor of the op, given
// by its bytes per row, binds within the device's storage-buffer range at an aligned offset.
template <class F>
void for_each_row_chunk(const Device& dev, const char* op, int64_t rows,
                        std::initializer_list<uint64_t> row_bytes, F&& fn) {
    const uint64_t range = dev.caps().max_storage_buffer_range;
    const uint64_t align = std::max<uint64_t>(dev.caps().min_storage_offset_alignment, 1);
    uint64_t widest = 1, step = 1;
    for (uint64_t b : row_bytes) {
        widest = std::max(widest, b);
        step = std::lcm(step, align / std::gcd(align, std::max<uint64_t>(b, 1)));
    }
    if (widest > range)
        fail(op, "one row of " + std::to_string(widest) + " bytes exceeds maxStorageBufferRange " +
                     std::to_string(range));
    int64_t chunk = static_cast<int64_t>(range / widest);
    if (chunk < rows) chunk = chunk / static_cast<int64_t>(step) * static_cast<int64_t>(step);
    if (chunk == 0)
        fail(op, "rows of " + std::to_string(widest) +
                     " bytes cannot be bound at aligned offsets within maxStorageBufferRange");
    for (int64_t first = 0; first < rows; first += chunk) fn(first, std::min(chunk, rows - first));
}

}  // namespace vkml::ops::detail
