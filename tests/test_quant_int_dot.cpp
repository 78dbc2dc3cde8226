// The integer dot-product path of the quantized matrix-vector kernel (activations quantized to
// 8-bit blocks, 4 x 8-bit packed dot products): forced on where the device has the extension
// (lavapipe has it unaccelerated), through the option and through VKML_FORCE_INT_DOT=1.
#include <cstdlib>

#include "vkml/ops/matmul.hpp"
#include "vkml/ops/quant.hpp"
#include "vkml/reference/quant.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class QuantIntDot : public VkmlTest {};

// The extra error of 8-bit activations is about 1e-5 in NMSE here, well inside the 5e-4 bound.
void check(Device& dev, Stream& s, DType t, int64_t m, int64_t n, int64_t k, uint32_t seed, bool via_env,
           ops::QuantKernel kernel = ops::QuantKernel::Auto) {
    SCOPED_TRACE(std::string(dtype_name(t)) + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                 " k=" + std::to_string(k) + (via_env ? " (env)" : ""));
    const auto ws = random_floats(static_cast<size_t>(m * k), seed);
    const auto xs = random_floats(static_cast<size_t>(n * k), seed + 1);
    Tensor w = ops::quantize_on_host(dev, t, {m, k}, ws.data());
    Tensor x = Tensor::from_floats(dev, DType::f32, {n, k}, xs);
    Tensor y = Tensor::empty(dev, DType::f32, {n, m});
    if (via_env) ops::matmul(s, w, x, y);
    else ops::matmul_quantized(s, w, x, y, {.kernel = kernel, .int_dot = ops::IntDot::On});
    s.finish();
    EXPECT_EQ(s.dispatch_count(), 2u) << "quantize_act_q8 + gemv";
    const auto ref = reference::matmul_quantized(t, w.to_vector<uint8_t>(), xs, m, n, k);
    EXPECT_NMSE_LE(ref, y.to_floats(), 5e-4);
}

TEST_F(QuantIntDot, ForcedPathMatchesReference) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        if (!dev->caps().integer_dot_product) {
            GTEST_LOG_(INFO) << "no VK_KHR_shader_integer_dot_product on " << dev->caps().name;
            continue;
        }
        Stream s(*dev);
        uint32_t seed = 1;
        for (DType t : {DType::q8_0, DType::q4_0, DType::q6_k}) {
            const int64_t k0 = t == DType::q6_k ? 256 : 96, k1 = t == DType::q6_k ? 1024 : 1024;
            for (int64_t m : {1, 7, 33})
                for (int64_t n : {1, 3, 8}) check(*dev, s, t, m, n, m == 33 ? k1 : k0, seed += 2, false);
            check(*dev, s, t, 4097, 1, k0, seed += 2, false);
            // The other reductions.
            check(*dev, s, t, 33, 3, k0, seed += 2, false, ops::QuantKernel::GemvShared);
            check(*dev, s, t, 33, 3, k0, seed += 2, false, ops::QuantKernel::GemvRows);
        }
    }
}

TEST_F(QuantIntDot, EnvironmentSwitchForcesThePath) {
    ::setenv("VKML_FORCE_INT_DOT", "1", 1);
    for (const auto& dev : devices()) {
        if (!dev->caps().integer_dot_product) continue;
        Stream s(*dev);
        check(*dev, s, DType::q4_0, 33, 1, 512, 77, true);
    }
    ::unsetenv("VKML_FORCE_INT_DOT");
}

}  // namespace
}  // namespace vkml::test
