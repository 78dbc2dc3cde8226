// Quantized matrix-matrix product (n > 8; prefill): W tiles dequantized into shared memory, for
// q8_0, q4_0, q6_k against the dequantized reference, NMSE <= 5e-4, on odd m, n and several k,
// also with tensors split over a lowered storage-buffer range.
#include "vkml/ops/matmul.hpp"
#include "vkml/ops/quant.hpp"
#include "vkml/reference/quant.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class QuantTiled : public VkmlTest {};

void check(Device& dev, Stream& s, DType t, int64_t m, int64_t n, int64_t k, uint32_t seed, bool forced) {
    SCOPED_TRACE(std::string(dtype_name(t)) + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                 " k=" + std::to_string(k));
    const auto ws = random_floats(static_cast<size_t>(m * k), seed);
    const auto xs = random_floats(static_cast<size_t>(n * k), seed + 1);
    Tensor w = ops::quantize_on_host(dev, t, {m, k}, ws.data());
    Tensor x = Tensor::from_floats(dev, DType::f32, {n, k}, xs);
    Tensor y = Tensor::empty(dev, DType::f32, {n, m});
    if (forced) ops::matmul_quantized(s, w, x, y, {.kernel = ops::QuantKernel::Tiled});
    else ops::matmul(s, w, x, y);  // n > 8: the tiled kernel (CPU devices: where the CPU kernel does not fit)
    s.finish();
    const auto ref = reference::matmul_quantized(t, w.to_vector<uint8_t>(), xs, m, n, k);
    EXPECT_NMSE_LE(ref, y.to_floats(), 5e-4);
}

TEST_F(QuantTiled, MatchesReference) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 1;
        for (DType t : {DType::q8_0, DType::q4_0, DType::q6_k}) {
            const int64_t k0 = t == DType::q6_k ? 256 : 32, k1 = t == DType::q6_k ? 768 : 96;
            for (int64_t m : {1, 7, 33, 64})
                for (int64_t n : {9, 33}) check(*dev, s, t, m, n, m == 64 ? k1 : k0, seed += 2, false);
            check(*dev, s, t, 4097, 9, k0, seed += 2, false);
            check(*dev, s, t, 33, 70, 1024 + (t == DType::q6_k ? 0 : 32), seed += 2, true);
            check(*dev, s, t, 7, 3, k1, seed += 2, true);  // forced for small n too
        }
    }
}

TEST_F(QuantTiled, SplitsOverALoweredBufferRange) {
    for (const auto& d : devices()) {
        auto dev = Device::open_index(d->index(), DeviceOptions{.max_buffer_range = 1 << 16});
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        check(*dev, s, DType::q4_0, 200, 20, 2048, 5, true);  // W 460 KB in 64 KiB bindings
    }
}

}  // namespace
}  // namespace vkml::test
