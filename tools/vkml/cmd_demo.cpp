// `vkml demo`: what vkml does, on the default device, in a few seconds.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"
#include "vkml/ops/elementwise.hpp"
#include "vkml/ops/matmul.hpp"
#include "vkml/ops/norm.hpp"
#include "vkml/ops/select.hpp"
#include "vkml/ops/softmax.hpp"
#include "vkml/vkml.hpp"

namespace vkml::cli {
namespace {

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
    return m;
}

struct Timer {
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    double ms() const {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
};

void print_timings(const Stream& s, double bytes, double flops) {
    double total = 0;
    for (const DispatchTiming& t : s.timings()) total += t.ms;
    if (total <= 0) return;
    std::printf("    GPU %.3f ms", total);
    if (bytes > 0) std::printf(", %.2f GB/s", bytes / (total * 1e6));
    if (flops > 0) std::printf(", %.2f GFLOP/s", flops / (total * 1e6));
    std::printf("\n");
}

int run(const Args& args) {
    args.expect_only({});
    auto dev = Device::open(args.get_or("device", ""));
    const Capabilities& c = dev->caps();
    std::printf("device: %s (%s, Vulkan %s, subgroup %u, %s memory)\n\n", c.name.c_str(), to_string(c.type),
                c.api_version_string().c_str(), c.subgroup_size, c.unified_memory ? "unified" : "discrete");
    const bool timed = c.timestamp_period_ns > 0;
    Stream s(*dev);
    if (timed) s.set_timing(true);

    // 1. A decoder layer's worth of work: RMSNorm, a projection (f16 weights), SiLU.
    const int64_t m = 1024, k = 1024, n = 4;
    const auto xs = [&] {
        std::vector<float> v(n * k);
        for (int64_t i = 0; i < n * k; ++i) v[i] = std::sin(0.37f * static_cast<float>(i));
        return v;
    }();
    std::vector<float> ws(m * k);
    for (int64_t i = 0; i < m * k; ++i) ws[i] = 0.02f * std::cos(0.11f * static_cast<float>(i % 977));
    Tensor x = Tensor::from_floats(*dev, DType::f32, {n, k}, xs);
    Tensor w = Tensor::from_floats(*dev, DType::f16, {m, k}, ws);
    Tensor norm_w = Tensor::from_floats(*dev, DType::f32, {k}, std::vector<float>(k, 1.0f));
    Tensor h = Tensor::empty(*dev, DType::f32, {n, k});
    Tensor y = Tensor::empty(*dev, DType::f32, {n, m});
    Timer t1;
    ops::rms_norm(s, x, norm_w, h, 1e-5f);
    ops::matmul(s, w, h, y);
    ops::silu(s, y, y);
    s.finish();
    std::vector<float> ref(n * m);
    for (int64_t r = 0; r < n; ++r) {
        double ss = 0;
        for (int64_t i = 0; i < k; ++i) ss += static_cast<double>(xs[r * k + i]) * xs[r * k + i];
        const double inv = 1.0 / std::sqrt(ss / static_cast<double>(k) + 1e-5);
        for (int64_t j = 0; j < m; ++j) {
            double acc = 0;
            for (int64_t i = 0; i < k; ++i)
                acc += xs[r * k + i] * inv * half_to_float(float_to_half(ws[j * k + i]));
            ref[r * m + j] = static_cast<float>(acc / (1.0 + std::exp(-acc)));
        }
    }
    std::printf("rms_norm -> matmul (f16 weights %lldx%lld, %lld tokens) -> silu: max |gpu - cpu| = %.2e (%.1f ms wall)\n",
                static_cast<long long>(m), static_cast<long long>(k), static_cast<long long>(n),
                max_abs_diff(ref, y.to_floats()), t1.ms());
    if (timed) print_timings(s, 2.0 * m * k, 2.0 * m * k * n);

    // 2. Next-token distribution over a 32000-word vocabulary: softmax, entropy, top-5.
    const int64_t vocab = 32000;
    std::vector<float> logits(vocab);
    for (int64_t i = 0; i < vocab; ++i) logits[i] = 8.0f * std::sin(0.001f * static_cast<float>(i * i % 7919));
    Tensor z = Tensor::from_floats(*dev, DType::f32, {1, vocab}, logits);
    Tensor p = Tensor::empty(*dev, DType::f32, {1, vocab});
    Tensor ent = Tensor::empty(*dev, DType::f32, {1});
    Tensor top_v = Tensor::empty(*dev, DType::f32, {1, 5});
    Tensor top_i = Tensor::empty(*dev, DType::u32, {1, 5});
    ops::softmax(s, z, p);
    ops::entropy(s, z, ent);
    ops::top_k(s, z, 5, top_v, top_i);
    s.finish();
    const auto ids = top_i.to_vector<uint32_t>();
    const auto probs = p.to_floats();
    std::printf("\nsoftmax + entropy + top-5 over %lld logits: entropy %.3f nats; top tokens:", static_cast<long long>(vocab),
                ent.to_floats()[0]);
    for (uint32_t id : ids) std::printf(" %u (p=%.4f)", id, probs[id]);
    std::printf("\n");
    if (timed) print_timings(s, 0, 0);
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
