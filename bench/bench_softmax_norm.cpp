// Softmax and norm cases: memory-bound row reductions, so GB/s and copy_frac are the figures
// of merit. bytes = x read once + y written once (the kernels read x twice, or three times for
// LayerNorm; the second read usually hits the cache).
#include "bench_common.hpp"
#include "vkml/ops/norm.hpp"
#include "vkml/ops/select.hpp"
#include "vkml/ops/softmax.hpp"

namespace vkml::bench {
namespace {

std::string shape_name(int64_t rows, int64_t cols) {
    return std::to_string(rows) + "x" + std::to_string(cols);
}

const bool registered = [] {
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{32, 32000}, {4096, 4096}, {1, 128000}}) {
        register_gpu("softmax/f32/" + shape_name(rows, cols), [rows, cols](Device& dev) {
            Tensor x = Tensor::from_floats(dev, DType::f32, {rows, cols},
                                           std::vector<float>(static_cast<size_t>(rows * cols), 0.5f));
            Tensor y = Tensor::empty(dev, DType::f32, {rows, cols});
            GpuCase c;
            c.record = [x, y](Stream& s) { ops::softmax(s, x, y, {.scale = 0.125f}); };
            c.bytes = 8.0 * static_cast<double>(rows * cols);
            c.flops = 5.0 * static_cast<double>(rows * cols);  // scale, max, exp, sum, multiply
            return c;
        });
    }
    register_gpu("softmax/f32/4096x4096/causal", [](Device& dev) {
        Tensor x = Tensor::empty(dev, DType::f32, {4096, 4096});
        Tensor y = Tensor::empty(dev, DType::f32, {4096, 4096});
        GpuCase c;
        c.record = [x, y](Stream& s) { ops::softmax(s, x, y, {.causal = true}); };
        c.bytes = 8.0 * 4096 * 4096;  // every element is written; about half are read
        return c;
    });
    for (int64_t rows : {int64_t{1}, int64_t{512}}) {
        register_gpu("rms_norm/f32/" + shape_name(rows, 4096), [rows](Device& dev) {
            Tensor x = Tensor::empty(dev, DType::f32, {rows, 4096});
            Tensor w = Tensor::empty(dev, DType::f32, {4096});
            Tensor y = Tensor::empty(dev, DType::f32, {rows, 4096});
            GpuCase c;
            c.record = [x, w, y](Stream& s) { ops::rms_norm(s, x, w, y, 1e-6f); };
            c.bytes = 8.0 * static_cast<double>(rows * 4096) + 4.0 * 4096;
            c.flops = 4.0 * static_cast<double>(rows * 4096);
            c.items = static_cast<double>(rows);
            return c;
        });
    }
    register_gpu("layer_norm/f32/512x4096", [](Device& dev) {
        Tensor x = Tensor::empty(dev, DType::f32, {512, 4096});
        Tensor w = Tensor::empty(dev, DType::f32, {4096});
        Tensor y = Tensor::empty(dev, DType::f32, {512, 4096});
        GpuCase c;
        c.record = [x, w, y](Stream& s) { ops::layer_norm(s, x, w, w, y, 1e-5f); };
        c.bytes = 8.0 * 512 * 4096 + 8.0 * 4096;
        c.items = 512;
        return c;
    });
    // Sampling-sized selections over a vocabulary row.
    for (int k : {1, 40}) {
        register_gpu("top_k/f32/1x128000/k" + std::to_string(k), [k](Device& dev) {
            std::vector<float> xs(128000);
            for (size_t j = 0; j < xs.size(); ++j) xs[j] = static_cast<float>((j * 7919) % 100003);
            Tensor x = Tensor::from_floats(dev, DType::f32, {1, 128000}, xs);
            Tensor v = Tensor::empty(dev, DType::f32, {1, k});
            Tensor i = Tensor::empty(dev, DType::u32, {1, k});
            GpuCase c;
            c.record = [x, k, v, i](Stream& s) { ops::top_k(s, x, k, v, i); };
            c.bytes = 4.0 * 128000;
            return c;
        });
    }
    return true;
}();

}  // namespace
}  // namespace vkml::bench
