// vkml-bench harness: every case runs on the GPU, timed with GPU timestamps (manual time).
//
// A case registers a setup function that allocates its tensors and returns a GpuCase whose
// `record` records the op into a stream. The harness records it once, runs it once to warm up
// (and build pipelines), then replays the same command buffer each iteration and reports:
//   GB/s, GFLOP/s      bytes and FLOPs of the case over the GPU time
//   copy_frac          GB/s as a fraction of the device's measured copy bandwidth
//   fma_frac           GFLOP/s as a fraction of the device's measured FMA throughput
//   items/s            tokens (or other items) per second when the case sets `items`
#pragma once

#include <benchmark/benchmark.h>

#include <functional>
#include <string>

#include "vkml/vkml.hpp"

namespace vkml::bench {

// The device under test ($VKML_DEVICE or --device=SEL), opened once.
Device& device();

struct Limits {
    // (read + write) bytes / s of the faster of a vec4 copy kernel and vkCmdCopyBuffer: the
    // device's copy bandwidth that copy_frac divides by.
    double copy_gbps = 0;
    double copy_kernel_gbps = 0, copy_transfer_gbps = 0;  // each on its own
    double fma_gflops = 0;  // an FMA-chain kernel
};
// Measured on first use, once per process, on device().
const Limits& limits();

struct GpuCase {
    std::function<void(Stream&)> record;
    double bytes = 0;  // bytes the op must move (inputs read + outputs written)
    double flops = 0;
    double items = 0;  // e.g. tokens processed, for items/s
};

// Registers "name" (e.g. "gemv/q4_0/4096x14336/subgroup"): names carry op, dtype, shape, variant.
void register_gpu(const std::string& name, std::function<GpuCase(Device&)> setup);

// Helper for static registration in each bench file:
//   static const bool registered = [] { register_gpu(...); return true; }();
}  // namespace vkml::bench
