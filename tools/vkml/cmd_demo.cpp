// `vkml demo`: what vkml does, on the default device, in a few seconds.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"
#include "vkml/ops/elementwise.hpp"
#include "vkml/vkml.hpp"

namespace vkml::cli {
namespace {

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
    return m;
}

int run(const Args& args) {
    args.expect_only({});
    auto dev = Device::open(args.get_or("device", ""));
    const Capabilities& c = dev->caps();
    std::printf("device: %s (%s, Vulkan %s, subgroup %u)\n\n", c.name.c_str(), to_string(c.type),
                c.api_version_string().c_str(), c.subgroup_size);

    const int64_t n = 1 << 20;
    std::vector<float> xs(n);
    for (int64_t i = 0; i < n; ++i) xs[i] = std::sin(0.001f * static_cast<float>(i)) * 4.0f;
    Tensor x = Tensor::from_floats(*dev, DType::f32, {n}, xs);
    Tensor y = Tensor::empty(*dev, DType::f32, {n});
    Stream s(*dev);
    const bool timed = c.timestamp_period_ns > 0;
    if (timed) s.set_timing(true);
    ops::silu(s, x, y);
    ops::scale(s, y, y, 0.5f, 1.0f);
    s.finish();
    std::vector<float> expect(n);
    for (int64_t i = 0; i < n; ++i) expect[i] = 0.5f * (xs[i] / (1.0f + std::exp(-xs[i]))) + 1.0f;
    std::printf("silu then scale over %lld floats: max |gpu - cpu| = %.2e\n",
                static_cast<long long>(n), max_abs_diff(expect, y.to_floats()));
    if (timed)
        for (const DispatchTiming& t : s.timings())
            std::printf("  %-8s %8.3f ms  %6.2f GB/s\n", t.label.c_str(), t.ms, 8.0 * n / (t.ms * 1e6));
    return 0;
}

const bool registered = register_command({
    "demo",
    "run a short demonstration on the default device",
    "usage: vkml demo [--device SEL]\n\n"
    "Names the device and runs vkml's kernels on it, checking each against the CPU and\n"
    "printing GPU times.",
    run,
});

}  // namespace
}  // namespace vkml::cli
