// Elementwise cases: memory-bound, so copy_frac is the figure of merit.
#include "bench_common.hpp"
#include "vkml/ops/elementwise.hpp"

namespace vkml::bench {
namespace {

const bool registered = [] {
    for (int64_t n : {int64_t{1} << 20, int64_t{16} << 20}) {
        register_gpu("silu/f32/" + std::to_string(n), [n](Device& dev) {
            Tensor x = Tensor::empty(dev, DType::f32, {n});
            Tensor y = Tensor::empty(dev, DType::f32, {n});
            GpuCase c;
            c.record = [x, y](Stream& s) { ops::silu(s, x, y); };
            c.bytes = 8.0 * static_cast<double>(n);
            return c;
        });
        register_gpu("add/f32/" + std::to_string(n), [n](Device& dev) {
            Tensor a = Tensor::empty(dev, DType::f32, {n});
            Tensor b = Tensor::empty(dev, DType::f32, {n});
            Tensor y = Tensor::empty(dev, DType::f32, {n});
            GpuCase c;
            c.record = [a, b, y](Stream& s) { ops::add(s, a, b, y); };
            c.bytes = 12.0 * static_cast<double>(n);
            return c;
        });
    }
    return true;
}();

}  // namespace
}  // namespace vkml::bench
