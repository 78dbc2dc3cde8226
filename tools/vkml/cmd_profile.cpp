// `vkml profile`: GPU time per op for one forward pass.
#include <algorithm>
#include <cstdio>
#include <map>

#include "model_cli.hpp"
#include "vkml/error.hpp"
#include "vkml/stream.hpp"

namespace vkml::cli {
namespace {

int run(const Args& args) {
    args.expect_only({"m", "model", "tokens", "n", "decode", "quant", "devices"});
    LoadedModel m = load_model(args);
    std::vector<int32_t> tokens = parse_tokens(args.get_or("tokens", ""));
    if (tokens.empty()) {
        const long long n = args.get_int("n", 32);
        if (n < 1) throw Error(ErrorKind::InvalidArgument, "-n must be >= 1");
        for (long long i = 0; i < n; ++i) tokens.push_back(static_cast<int32_t>((i * 7919 + 1) % m.model->vocab()));
    }
    if (m.device->caps().timestamp_period_ns <= 0)
        throw Error(ErrorKind::Unsupported, "device '" + m.device->caps().name + "' has no timestamps to profile with");
    Stream s(*m.device);
    // One untimed pass builds the pipelines; then the timed pass (a prefill, or with --decode one
    // token after the prompt).
    m.model->forward(s, tokens);
    s.finish();
    std::vector<int32_t> timed = tokens;
    if (args.has("decode")) {
        timed = {tokens.back()};
    } else {
        m.model->reset();
    }
    s.set_timing(true);
    m.model->forward(s, timed);
    s.finish();
    std::map<std::string, std::pair<int, double>> by_op;
    double total = 0;
    for (const DispatchTiming& t : s.timings()) {
        auto& e = by_op[t.label];
        ++e.first;
        e.second += t.ms;
        total += t.ms;
    }
    std::vector<std::pair<std::string, std::pair<int, double>>> rows(by_op.begin(), by_op.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.second > b.second.second; });
    std::printf("%s on %s: %s of %zu token(s), %zu dispatches, GPU span %.3f ms\n\n", m.model->describe().c_str(),
                m.device->caps().name.c_str(), args.has("decode") ? "decode step" : "prefill", timed.size(),
                s.timings().size(), s.timed_span_ms());
    std::printf("%-22s %8s %12s %8s\n", "op", "calls", "GPU ms", "share");
    for (const auto& [label, e] : rows)
        std::printf("%-22s %8d %12.3f %7.1f%%\n", label.c_str(), e.first, e.second, total > 0 ? 100.0 * e.second / total : 0.0);
    std::printf("%-22s %8zu %12.3f\n", "total (sum)", s.timings().size(), total);
    return 0;
}

const bool registered = register_command({
    "profile",
    "GPU time per op for one forward pass",
    "usage: vkml profile -m MODEL.gguf [--tokens \"1 2 3\" | -n N] [--decode]\n\n"
    "Runs one forward pass with GPU timestamps around every dispatch and prints the time per op.\n"
    "By default a prefill of N tokens (32); with --decode, one decode step after them.\n"
    "Dispatches without a dependency may overlap, so the sum can exceed the GPU span.",
    run,
});

}  // namespace
}  // namespace vkml::cli
