#include "bench_common.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace vkml::bench {

namespace {

std::string g_selector;

struct CopyParams { uint32_t n; };
struct FmaParams { uint32_t iters; float seed; };

// Runs `record` `reps` times as one recording; returns the best GPU span in seconds.
double time_recording(Device& dev, const std::function<void(Stream&)>& record, int reps) {
    Stream s(dev);
    s.set_timing(true);
    record(s);
    s.finish();  // warm-up, builds pipelines
    double best = 1e30;
    for (int i = 0; i < reps; ++i) {
        s.replay();
        best = std::min(best, s.timed_span_ms() * 1e-3);
    }
    return best;
}

Limits measure(Device& dev) {
    Limits l;
    const uint32_t wg = std::min<uint32_t>(256, dev.caps().max_workgroup_invocations);
    // Copy: 64 MiB each way (fits every device's storage range after a lowered limit of 64 MiB+).
    const uint64_t bytes = std::min<uint64_t>(64ull << 20, dev.caps().max_storage_buffer_range) / 16 * 16;
    Tensor a = Tensor::empty(dev, DType::f32, {static_cast<int64_t>(bytes / 4)});
    Tensor b = Tensor::empty(dev, DType::f32, {static_cast<int64_t>(bytes / 4)});
    {
        Stream z(dev);
        z.fill_zero(a);
        z.finish();
    }
    const uint32_t n4 = static_cast<uint32_t>(bytes / 16);
    const Kernel& copy = dev.kernel("bench_copy", {wg});
    const double t_copy = time_recording(dev, [&](Stream& s) {
        s.dispatch(copy, {in(a), out(b)}, CopyParams{n4}, Groups{(n4 + wg - 1) / wg, 1, 1}, "copy");
    }, 5);
    const double t_transfer = time_recording(dev, [&](Stream& s) { s.copy(a, b); }, 5);
    l.copy_kernel_gbps = 2.0 * static_cast<double>(bytes) / t_copy * 1e-9;
    l.copy_transfer_gbps = 2.0 * static_cast<double>(bytes) / t_transfer * 1e-9;
    l.copy_gbps = std::max(l.copy_kernel_gbps, l.copy_transfer_gbps);

    // FMA: enough invocations to fill any device, enough iterations to dwarf launch cost.
    const uint32_t groups = 1024, iters = 4096;
    Tensor r = Tensor::empty(dev, DType::f32, {static_cast<int64_t>(groups) * wg});
    const Kernel& fma = dev.kernel("bench_fma", {wg});
    const double t_fma = time_recording(dev, [&](Stream& s) {
        s.dispatch(fma, {out(r)}, FmaParams{iters, 1.0f}, Groups{groups, 1, 1}, "fma");
    }, 3);
    const double flops = 2.0 * 8.0 * iters * static_cast<double>(groups) * wg;
    l.fma_gflops = flops / t_fma * 1e-9;
    return l;
}

}  // namespace

Device& device() {
    static std::shared_ptr<Device> dev = Device::open(g_selector);
    return *dev;
}

const Limits& limits() {
    static const Limits l = measure(device());
    return l;
}

void register_gpu(const std::string& name, std::function<GpuCase(Device&)> setup) {
    benchmark::RegisterBenchmark(name.c_str(), [setup](benchmark::State& state) {
        Device& dev = device();
        const Limits& lim = limits();
        GpuCase c;
        try {
            c = setup(dev);
        } catch (const Error& e) {
            state.SkipWithError(e.what());
            return;
        }
        Stream s(dev);
        s.set_timing(true);
        c.record(s);
        s.finish();  // warm-up; builds pipelines
        double total = 0;
        for (auto _ : state) {
            s.replay();
            const double sec = s.timed_span_ms() * 1e-3;
            state.SetIterationTime(sec);
            total += sec;
        }
        const double iters = static_cast<double>(state.iterations());
        const double sec = total / std::max(iters, 1.0);
        if (c.bytes > 0) {
            state.counters["GB/s"] = c.bytes / sec * 1e-9;
            state.counters["copy_frac"] = c.bytes / sec * 1e-9 / lim.copy_gbps;
        }
        if (c.flops > 0) {
            state.counters["GFLOP/s"] = c.flops / sec * 1e-9;
            state.counters["fma_frac"] = c.flops / sec * 1e-9 / lim.fma_gflops;
        }
        if (c.items > 0) state.counters["items/s"] = c.items / sec;
    })->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace vkml::bench

namespace vkml::bench::detail {
void set_selector(const std::string& s) { g_selector = s; }
}  // namespace vkml::bench::detail
