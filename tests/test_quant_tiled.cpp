// Quantized matrix-matrix product (n > 8; prefill): W tiles dequantized into shared memory, for
// q8_0, q4_0, q6_k, and the kernel shaped for SIMD-on-CPU devices (q4_0, q8_0), against the
// dequantized reference, NMSE <= 5e-4, on odd m, n and several k, also with tensors split over
// a lowered storage-buffer range.
#include <tuple>

#include "vkml/ops/matmul.hpp"
#include "vkml/ops/quant.hpp"
#include "vkml/reference/quant.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class QuantTiled : public VkmlTest {};

// One product through ops::matmul (`opts` null) or matmul_quantized against the reference on the
// weights' own dequantized values. lead: W starts after `lead` other weights of the same buffer.
void check(Device& dev, Stream& s, DType t, int64_t m, int64_t n, int64_t k, uint32_t seed,
           const ops::QuantMatmulOptions* opts, int64_t lead = 0, double nmse = 5e-4) {
    SCOPED_TRACE(std::string(dtype_name(t)) + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                 " k=" + std::to_string(k) + " lead=" + std::to_string(lead));
    const auto ws = random_floats(static_cast<size_t>(lead + m * k), seed);
    const auto xs = random_floats(static_cast<size_t>(n * k), seed + 1);
    const Tensor flat = ops::quantize_on_host(dev, t, {1, lead + m * k}, ws.data());
    Tensor w = Tensor::view_of(flat.buffer(), flat.offset() + dtype_bytes(t, static_cast<uint64_t>(lead)), t, {m, k});
    Tensor x = Tensor::from_floats(dev, DType::f32, {n, k}, xs);
    Tensor y = Tensor::empty(dev, DType::f32, {n, m});
    if (opts) ops::matmul_quantized(s, w, x, y, *opts);
    else ops::matmul(s, w, x, y);
    s.finish();
    const auto ref = reference::matmul_quantized(t, w.to_vector<uint8_t>(), xs, m, n, k);
    EXPECT_NMSE_LE(ref, y.to_floats(), nmse);
}

const ops::QuantMatmulOptions kTiled{.kernel = ops::QuantKernel::Tiled};
const ops::QuantMatmulOptions kCpu{.kernel = ops::QuantKernel::MatmulCpu};

TEST_F(QuantTiled, MatchesReference) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 1;
        for (DType t : {DType::q8_0, DType::q4_0, DType::q6_k}) {
            const int64_t k0 = t == DType::q6_k ? 256 : 32, k1 = t == DType::q6_k ? 768 : 96;
            for (int64_t m : {1, 7, 33, 64})
                for (int64_t n : {9, 33}) check(*dev, s, t, m, n, m == 64 ? k1 : k0, seed += 2, nullptr);
            check(*dev, s, t, 4097, 9, k0, seed += 2, nullptr);
            check(*dev, s, t, 33, 70, 1024 + (t == DType::q6_k ? 0 : 32), seed += 2, &kTiled);
            check(*dev, s, t, 7, 3, k1, seed += 2, &kTiled);  // forced for small n too
        }
    }
}

TEST_F(QuantTiled, SplitsOverALoweredBufferRange) {
    for (const auto& d : devices()) {
        auto dev = Device::open_index(d->index(), DeviceOptions{.max_buffer_range = 1 << 16});
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        check(*dev, s, DType::q4_0, 200, 20, 2048, 5, &kTiled);  // W 460 KB in 64 KiB bindings
    }
}

TEST_F(QuantTiled, CpuShapedKernel) {
    // shaders/matmul_quant_cpu.comp (q4_0/q8_0, k a multiple of 256, W and x 16-byte aligned; Auto
    // picks it for n > 8 on CPU devices): odd m (rows past m in the last workgroup), odd n, one
    // chunk of 256 columns, several, Llama-2's 11008 (43), W starting mid-buffer. It dequantizes
    // every weight exactly, so it is held to float rounding (NMSE 1e-8), not the 5e-4 of a lossy
    // path.
    constexpr double kExact = 1e-8;
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 300;
        for (DType t : {DType::q4_0, DType::q8_0}) {
            for (const auto& [m, n, k] : {std::tuple{1, 9, 256}, std::tuple{7, 17, 512}, std::tuple{33, 70, 768},
                                          std::tuple{4097, 9, 512}, std::tuple{65, 12, 11008}, std::tuple{9, 1, 1536}})
                check(*dev, s, t, m, n, k, seed += 2, &kCpu, 0, kExact);
            check(*dev, s, t, 19, 11, 1024, seed += 2, &kCpu, 3 * 1024, kExact);  // W rows into its buffer
            check(*dev, s, t, 19, 11, 1024, seed += 2, nullptr, 1024, kExact);    // Auto
            // Shapes it does not take fall back to the tiled kernel: k not a multiple of 256, W
            // not 16-byte aligned (one block into its buffer).
            check(*dev, s, t, 7, 9, 96, seed += 2, &kCpu);
            check(*dev, s, t, 7, 9, 512, seed += 2, &kCpu, 32);
        }
        check(*dev, s, DType::q6_k, 7, 9, 512, seed += 2, &kCpu);  // not its type: tiled
        // It really runs: one dispatch per chunk of 256 columns.
        for (const auto& [t, k, dispatches] : {std::tuple{DType::q4_0, 1024, 4u}, std::tuple{DType::q8_0, 768, 3u},
                                               std::tuple{DType::q4_0, 256, 1u}}) {
            Tensor w = Tensor::empty(*dev, t, {9, k});
            Tensor x = Tensor::empty(*dev, DType::f32, {20, k}), y = Tensor::empty(*dev, DType::f32, {20, 9});
            Stream counted(*dev);
            ops::matmul_quantized(counted, w, x, y, kCpu);
            EXPECT_EQ(counted.dispatch_count(), dispatches);
            counted.finish();
        }
    }
    for (const auto& d : devices()) {
        // 64 KiB bindings: 300 rows of 1024 (q4_0 576 bytes a row, q8_0 1088) and 40 tokens (4 KiB
        // of x each) over several slices of rows and of tokens.
        auto dev = Device::open_index(d->index(), DeviceOptions{.max_buffer_range = 1 << 16});
        Stream s(*dev);
        check(*dev, s, DType::q4_0, 300, 40, 1024, 11, &kCpu, 0, kExact);
        check(*dev, s, DType::q8_0, 300, 40, 1280, 13, &kCpu, 1280, kExact);
    }
}

}  // namespace
}  // namespace vkml::test
