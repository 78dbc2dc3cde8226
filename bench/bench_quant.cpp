// Quantized weights: the matrix-vector kernel is memory-bound (GB/s of weights read and copy_frac
// are the figures of merit), the tiled kernel compute-bound (GFLOP/s).
#include <cstring>
#include <utility>

#include "bench_common.hpp"
#include "vkml/ops/matmul.hpp"
#include "vkml/ops/quant.hpp"

namespace vkml::bench {
namespace {

// Weight bytes with a sane f16 scale in every block (random bytes could make NaN/inf scales,
// which some CPUs process slowly) and pseudo-random quants; quantizing 100M+ floats on the host
// would make setup slower than the measurement.
Tensor random_weights(Device& dev, DType t, int64_t m, int64_t k, ops::WeightLayout layout) {
    const DTypeInfo& info = dtype_info(t);
    std::vector<uint8_t> bytes(dtype_bytes(t, static_cast<uint64_t>(m * k)));
    uint32_t state = 12345;
    for (auto& b : bytes) {
        state = state * 1664525u + 1013904223u;
        b = static_cast<uint8_t>(state >> 24);
    }
    const size_t d_at = t == DType::q6_k ? 208 : 0;
    const uint16_t d = float_to_half(0.01f);
    for (size_t o = 0; o < bytes.size(); o += info.block_bytes) std::memcpy(&bytes[o + d_at], &d, 2);
    return ops::upload_matmul_weight(dev, t, {m, k}, bytes.data(), bytes.size(), layout);
}

void register_case(const std::string& name, DType t, int64_t m, int64_t n, int64_t k, ops::QuantMatmulOptions opts,
                   ops::WeightLayout layout = ops::WeightLayout::Dense) {
    register_gpu(name, [=](Device& dev) {
        Tensor w = random_weights(dev, t, m, k, layout);
        Tensor x = Tensor::from_floats(dev, DType::f32, {n, k}, std::vector<float>(static_cast<size_t>(n * k), 0.5f),
                                       Pool::Activations);
        Tensor y = Tensor::empty(dev, DType::f32, {n, m});
        GpuCase c;
        c.record = [=](Stream& s) { ops::matmul_quantized(s, w, x, y, opts); };
        // GEMV: bytes are the weights read (what bounds decode); matmul adds x and y.
        // The dense blocks' bytes, not w.bytes(): interleaved q6_k rows carry padding.
        const double wb = static_cast<double>(dtype_bytes(t, static_cast<uint64_t>(m * k)));
        c.bytes = wb + (n > 8 ? static_cast<double>(x.bytes() + y.bytes()) : 0.0);
        c.flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
        c.items = static_cast<double>(n);
        return c;
    });
}

const bool registered = [] {
    const struct { int64_t m, k; } shapes[] = {{4096, 4096}, {4096, 14336}, {14336, 4096}, {32000, 4096}};
    for (DType t : {DType::q4_0, DType::q6_k, DType::q8_0}) {
        const std::string ts(dtype_name(t));
        for (const auto& sh : shapes) {
            const std::string shape = std::to_string(sh.m) + "x" + std::to_string(sh.k);
            register_case("gemv/" + ts + "/" + shape + "/auto", t, sh.m, 1, sh.k, {});
        }
        // The same with W uploaded as models upload it (ops::upload_matmul_weight): on CPU devices
        // rows interleaved for the CPU kernel (elsewhere the same as auto).
        for (const auto& sh : shapes) {
            const std::string shape = std::to_string(sh.m) + "x" + std::to_string(sh.k);
            register_case("gemv/" + ts + "/" + shape + "/interleaved", t, sh.m, 1, sh.k, {}, ops::WeightLayout::Auto);
            register_case("matmul/" + ts + "/512x" + shape + "/interleaved", t, sh.m, 512, sh.k, {},
                          ops::WeightLayout::Auto);
        }
        // Llama-2 7B's FFN down projection: k = 11008 is 21.5 chunks of 512 (a half chunk at the end).
        register_case("gemv/" + ts + "/4096x11008/auto", t, 4096, 1, 11008, {});
        // Every flavour on one shape: rows per invocation, subgroup and shared-memory reductions,
        // integer dot products (with the flavour Auto picks).
        const std::pair<const char*, ops::QuantKernel> flavours[] = {{"rows", ops::QuantKernel::GemvRows},
                                                                     {"subgroup", ops::QuantKernel::GemvSubgroup},
                                                                     {"shared", ops::QuantKernel::GemvShared},
                                                                     {"cpu", ops::QuantKernel::GemvCpu}};
        for (const auto& [fname, kernel] : flavours)
            register_case("gemv/" + ts + "/4096x14336/" + fname, t, 4096, 1, 14336, {.kernel = kernel, .int_dot = ops::IntDot::Off});
        register_case("gemv/" + ts + "/4096x14336/int_dot", t, 4096, 1, 14336, {.int_dot = ops::IntDot::On});
        register_case("gemv/" + ts + "/4096x4096/n8", t, 4096, 8, 4096, {});
        // Prefill: 512 tokens, the tiled kernel on 4096 x 4096 and Auto (CPU devices: the
        // CPU-shaped kernel) on every shape.
        register_case("matmul/" + ts + "/512x4096x4096/tiled", t, 4096, 512, 4096, {.kernel = ops::QuantKernel::Tiled});
        for (const auto& sh : shapes)
            register_case("matmul/" + ts + "/512x" + std::to_string(sh.m) + "x" + std::to_string(sh.k) + "/auto", t, sh.m,
                          512, sh.k, {});
    }
    return true;
}();

}  // namespace
}  // namespace vkml::bench
