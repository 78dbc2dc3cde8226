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

// llvmpipe (lavapipe) ends the loops of a shader invocation once they have run 65535
// iterations in total (gallivm's LP_MAX_TGSI_LOOP_ITERATIONS, shared by every loop), silently
// leaving the result wrong. Row kernels there must keep each invocation's loop count below it.
inline bool has_loop_limit(const Capabilities& c) {
    return c.name.find("llvmpipe") != std::string::npos ||
           c.driver_name.find("llvmpipe") != std::string::npos;
}
inline constexpr uint64_t kLoopBudget = 60000;

// Workgroup size for a one-workgroup-per-row kernel: a power of two (the shared-memory tree
// needs one). GPUs get 256 invocations per row. CPU devices (lavapipe) run a workgroup on one
// core as a loop over SIMD subgroups and pay for every barrier with a context switch, so there
// one subgroup per row is about twice as fast (measured on llvmpipe, 32x32000 softmax) and the
// reductions skip shared memory entirely. `iterations(wg)` estimates the loop iterations one
// invocation runs; under a loop limit the size grows until they fit, or the op is Unsupported.
inline uint32_t preferred_row_workgroup_size(const Capabilities& c) {
    const uint32_t want = c.type == DeviceType::Cpu ? std::max<uint32_t>(c.subgroup_size, 8) : 256;
    uint32_t wg = 1;
    while (wg * 2 <= want && wg * 2 <= c.max_workgroup_invocations) wg *= 2;
    return wg;
}
inline uint32_t max_row_workgroup_size(const Capabilities& c) {
    uint32_t wg = 1;
    while (wg * 2 <= std::min<uint32_t>(c.max_workgroup_invocations, 1024)) wg *= 2;
    return wg;
}

[[noreturn]] inline void fail_loop_limit(const Capabilities& c, const char* op, uint64_t iterations) {
    throw Error(ErrorKind::Unsupported,
                std::string(op) + ": this shape needs about " + std::to_string(iterations) +
                    " loop iterations per invocation, beyond the " + std::to_string(kLoopBudget) +
                    " that device '" + c.name + "' runs before it cuts a shader's loops short");
}

template <class Iterations>
uint32_t row_workgroup_size(const Device& dev, const char* op, Iterations&& iterations) {
    const Capabilities& c = dev.caps();
    uint32_t wg = preferred_row_workgroup_size(c);
    if (!has_loop_limit(c)) return wg;
    while (static_cast<uint64_t>(iterations(wg)) > kLoopBudget && wg < max_row_workgroup_size(c)) wg *= 2;
    if (static_cast<uint64_t>(iterations(wg)) > kLoopBudget) fail_loop_limit(c, op, iterations(wg));
    return wg;
}

// Iterations of `passes` strided passes over a row of `cols` with `wg` invocations.
inline uint64_t row_passes(uint64_t passes, uint64_t cols, uint32_t wg) {
    return passes * ((cols + wg - 1) / wg) + 64;  // + the reductions' short loops
}

// Calls fn(first_row, row_count) over chunks of rows such that every tensor of the op, given
// by its bytes per row, binds within the device's storage-buffer range at an aligned offset.
template <class F>
void for_each_row_chunk(const Device& dev, const char* op, int64_t rows,
                        std::initializer_list<uint64_t> row_bytes, F&& fn) {
    const uint64_t range = dev.caps().max_storage_buffer_range;
    const uint64_t align = window_alignment(dev, 1);
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

// Rows longer than one binding (split-row kernels): how many segments to cut a row of `cols`
// into so that each binds with room to spare, at least `want`.
inline int64_t long_row_segments(const Device& dev, int64_t cols, int64_t want) {
    const uint64_t seg_bytes = std::max<uint64_t>(window_cap(dev) / 2, 4);
    return std::max<int64_t>(want, static_cast<int64_t>((4 * static_cast<uint64_t>(cols) + seg_bytes - 1) / seg_bytes));
}

// Calls fn(first_seg, seg_count, first_col, end_col) over windows of whole segments of one row
// (segments of seg_cols columns, the last one shorter; callers make segs = ceil(cols / seg_cols)
// so that none is empty) that bind within the range.
template <class F>
void for_each_segment_window(const Device& dev, int64_t cols, int64_t segs, int64_t seg_cols, F&& fn) {
    const int64_t per_window = std::max<int64_t>(1, static_cast<int64_t>(window_cap(dev) / 4) / seg_cols);
    for (int64_t g0 = 0; g0 < segs; g0 += per_window) {
        const int64_t gc = std::min(per_window, segs - g0);
        const int64_t c0 = g0 * seg_cols, c1 = std::min(cols, (g0 + gc) * seg_cols);
        if (c0 >= c1) break;  // only empty segments are left
        fn(g0, gc, c0, c1);
    }
}

}  // namespace vkml::ops::detail
