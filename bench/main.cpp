// vkml-bench: Google Benchmark over vkml's kernels, timed on the GPU.
//   vkml-bench [--device=SEL] [--benchmark_filter=REGEX] [--benchmark_format=json] ...
// It first measures the device's copy bandwidth (the faster of a copy kernel and
// vkCmdCopyBuffer) and FMA throughput (the "limits" benchmark reports them), and every case
// reports its fraction of those.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace vkml::bench::detail {
void set_selector(const std::string& s);
}

namespace {

// Reports the measured limits as a benchmark of their own, so they appear in every output.
void report_limits(benchmark::State& state) {
    const auto& l = vkml::bench::limits();
    for (auto _ : state) state.SetIterationTime(1e-3);
    state.counters["copy_GB/s"] = l.copy_gbps;
    state.counters["copy_kernel_GB/s"] = l.copy_kernel_gbps;
    state.counters["copy_transfer_GB/s"] = l.copy_transfer_gbps;
    state.counters["fma_GFLOP/s"] = l.fma_gflops;
    state.SetLabel(vkml::bench::device().caps().name);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        if (std::strncmp(argv[i], "--device=", 9) == 0) {
            vkml::bench::detail::set_selector(argv[i] + 9);
        } else if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            vkml::bench::detail::set_selector(argv[++i]);
        } else {
            args.push_back(argv[i]);
        }
    }
    int n = static_cast<int>(args.size());
    benchmark::RegisterBenchmark("device_limits", report_limits)->UseManualTime()->Iterations(1);
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
    try {
        benchmark::RunSpecifiedBenchmarks();
    } catch (const vkml::Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    benchmark::Shutdown();
    return 0;
}
