// Matrix products: the matrix-vector kernel is memory-bound (GB/s of W and copy_frac are the
// figures of merit), the tiled kernel compute-bound (GFLOP/s and fma_frac).
#include <cstdint>
#include <utility>
#include <vector>

#include "bench_common.hpp"
#include "vkml/ops/matmul.hpp"

namespace vkml::bench {
namespace {

// Registers y[n, m] = x[n, k] * w[m, k]^T with the given weight type and kernel.
// `layout` Auto: W uploaded as models upload it (ops::upload_matmul_weight: f16 rows
// interleaved for the CPU kernel on CPU devices).
void register_matmul(const std::string& name, DType wt, int64_t m, int64_t n, int64_t k,
                     ops::MatmulKernel kernel, ops::WeightLayout layout = ops::WeightLayout::Dense) {
    register_gpu(name, [=](Device& dev) {
        std::vector<float> ws(static_cast<size_t>(m * k), 0.01f), xs(static_cast<size_t>(n * k), 0.5f);
        Tensor w = Tensor::from_floats(dev, wt, {m, k}, ws);
        if (layout != ops::WeightLayout::Dense) {
            const std::vector<uint8_t> bytes = w.to_vector<uint8_t>();
            w = ops::upload_matmul_weight(dev, wt, {m, k}, bytes.data(), bytes.size(), layout);
        }
        Tensor x = Tensor::from_floats(dev, DType::f32, {n, k}, xs, Pool::Activations);
        Tensor y = Tensor::empty(dev, DType::f32, {n, m});
        GpuCase c;
        c.record = [=](Stream& s) { ops::matmul(s, w, x, y, {.kernel = kernel}); };
        c.bytes = static_cast<double>(dtype_bytes(wt, static_cast<uint64_t>(m * k)) + x.bytes() + y.bytes());
        c.flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
        return c;
    });
}

const bool registered = [] {
    using ops::MatmulKernel;
    // Decode-time projections: m x k = 4096 x 4096 (attention), 4096 x 14336 (MLP down) and
    // Llama-2 7B's 4096 x 11008 (k = 21.5 chunks of 512: a half chunk at the end).
    for (DType t : {DType::f16, DType::f32}) {
        const std::string ts(dtype_name(t));
        for (int64_t k : {int64_t{4096}, int64_t{11008}, int64_t{14336}}) {
            const std::string shape = "4096x" + std::to_string(k);
            register_matmul("gemv/" + ts + "/" + shape + "/auto", t, 4096, 1, k, MatmulKernel::Auto);
            register_matmul("gemv/" + ts + "/" + shape + "/shared", t, 4096, 1, k, MatmulKernel::GemvShared);
        }
    }
    // f16 on the other decode shapes of the quantized cases (bench_quant.cpp): MLP up/gate and
    // a 32000-token vocabulary projection.
    for (int64_t m : {int64_t{14336}, int64_t{32000}})
        register_matmul("gemv/f16/" + std::to_string(m) + "x4096/auto", DType::f16, m, 1, 4096, MatmulKernel::Auto);
    // Prefill: n x m x k = 512 x 4096 x 4096, the tiled kernel (what Auto picks for n > 8 on
    // GPUs), Auto (CPU devices: the CPU-shaped kernel) on the four decode shapes, and the
    // matrix-vector kernel over 8-row chunks of x for comparison.
    register_matmul("matmul/f16/512x4096x4096/tiled", DType::f16, 4096, 512, 4096, MatmulKernel::Tiled);
    for (const auto& [m, k] : {std::pair{int64_t{4096}, int64_t{4096}}, std::pair{int64_t{4096}, int64_t{14336}},
                               std::pair{int64_t{14336}, int64_t{4096}}, std::pair{int64_t{32000}, int64_t{4096}}})
        register_matmul("matmul/f16/512x" + std::to_string(m) + "x" + std::to_string(k) + "/auto", DType::f16, m, 512,
                        k, MatmulKernel::Auto);
    register_matmul("matmul/f16/512x4096x4096/gemv", DType::f16, 4096, 512, 4096, MatmulKernel::Gemv);
    // f16 uploaded as models upload it (rows interleaved on CPU devices), decode and a prompt.
    for (const auto& [m, k] : {std::pair{int64_t{4096}, int64_t{4096}}, std::pair{int64_t{4096}, int64_t{14336}},
                               std::pair{int64_t{14336}, int64_t{4096}}, std::pair{int64_t{32000}, int64_t{4096}}})
        register_matmul("gemv/f16/" + std::to_string(m) + "x" + std::to_string(k) + "/interleaved", DType::f16, m, 1, k,
                        MatmulKernel::Auto, ops::WeightLayout::Auto);
    register_matmul("matmul/f16/512x4096x4096/interleaved", DType::f16, 4096, 512, 4096, MatmulKernel::Auto,
                    ops::WeightLayout::Auto);
    register_matmul("matmul/f32/512x4096x4096/tiled", DType::f32, 4096, 512, 4096, MatmulKernel::Tiled);
    return true;
}();

}  // namespace
}  // namespace vkml::bench
