// State-space and recurrent kernels: Mamba selective scan (prefill and decode step), Mamba-2
// SSD, S5 and head-wise sLSTM, at the sizes of the papers' models. Recurrences are latency- and
// memory-bound: items/s (tokens) and copy_frac are the figures of merit.
#include <cmath>

#include "bench_common.hpp"
#include "vkml/ops/rnn.hpp"
#include "vkml/ops/ssm.hpp"

namespace vkml::bench {
namespace {

Tensor filled(Device& dev, Shape shape, float lo, float hi) {
    const int64_t n = shape_numel(shape);
    std::vector<float> v(n);
    uint32_t state = 12345;
    for (auto& x : v) {
        state = state * 1664525u + 1013904223u;
        x = lo + (hi - lo) * static_cast<float>(state >> 8) / static_cast<float>(1u << 24);
    }
    return Tensor::from_floats(dev, DType::f32, std::move(shape), v);
}

void register_selective_scan(int64_t len, int64_t dim, int64_t n) {
    const bool step = len == 0;
    const std::string name = step ? "selective_scan_step/f32/B1_D" + std::to_string(dim) + "_N" + std::to_string(n)
                                  : "selective_scan/f32/B1_L" + std::to_string(len) + "_D" + std::to_string(dim) + "_N" + std::to_string(n);
    register_gpu(name, [len, dim, n, step](Device& dev) {
        const int64_t l = step ? 1 : len;
        const Shape tok = step ? Shape{1, dim} : Shape{1, l, dim};
        const Shape tn = step ? Shape{1, n} : Shape{1, l, n};
        ops::SelectiveScanInputs in{filled(dev, tok, -1, 1), filled(dev, tok, -3, 0.5f), filled(dev, {dim, n}, -2, -0.3f),
                                    filled(dev, tn, -1, 1), filled(dev, tn, -1, 1), filled(dev, {dim}, -1, 1),
                                    filled(dev, tok, -1, 1), filled(dev, {dim}, -0.5f, 0.5f)};
        Tensor y = Tensor::empty(dev, DType::f32, tok);
        Tensor state = filled(dev, {1, dim, n}, 0, 0);
        GpuCase c;
        c.record = [in, y, state, step](Stream& s) {
            if (step) ops::selective_scan_step(s, in, y, state);
            else ops::selective_scan(s, in, y, state);
        };
        c.bytes = 4.0 * (4.0 * l * dim + 2.0 * l * n + 2.0 * dim * n + 3.0 * dim);
        c.flops = 7.0 * l * dim * n;
        c.items = static_cast<double>(l);
        return c;
    });
}

const bool registered = [] {
    register_selective_scan(2048, 1536, 16);
    register_selective_scan(0, 1536, 16);

    register_gpu("ssd/f32/B1_L2048_H24_P64_N128", [](Device& dev) {
        const int64_t l = 2048, h = 24, p = 64, n = 128;
        ops::SsdInputs in{filled(dev, {1, l, h, p}, -1, 1), filled(dev, {1, l, h}, -3, 0.5f), filled(dev, {h}, -2, -0.3f),
                          filled(dev, {1, l, 1, n}, -1, 1), filled(dev, {1, l, 1, n}, -1, 1), filled(dev, {h}, -1, 1),
                          filled(dev, {h}, -0.5f, 0.5f)};
        Tensor y = Tensor::empty(dev, DType::f32, {1, l, h, p});
        Tensor state = filled(dev, {1, h, p, n}, 0, 0);
        GpuCase c;
        c.record = [in, y, state](Stream& s) { ops::ssd(s, in, y, state); };
        c.bytes = 4.0 * (2.0 * l * h * p + l * h + 2.0 * l * n + 2.0 * h * p * n);
        c.flops = 2.0 * l * h * p * n * 2.0 + 2.0 * l * 64.0 * (n + p) * h;  // states + outputs (chunk 64)
        c.items = static_cast<double>(l);
        return c;
    });

    register_gpu("s5/f32/B1_L65536_P256_H128", [](Device& dev) {
        const int64_t l = 65536, p = 256, h = 128;
        std::vector<float> lam(p * 2);
        for (int64_t i = 0; i < p; ++i) lam[2 * i] = -0.5f, lam[2 * i + 1] = 3.14159f * static_cast<float>(i);
        const float r = 1.0f / std::sqrt(static_cast<float>(h));
        ops::S5Weights w{Tensor::from_floats(dev, DType::f32, {p, 2}, lam), filled(dev, {p}, -6.9f, -2.3f),
                         filled(dev, {p, h, 2}, -r, r), filled(dev, {h, p, 2}, -r, r), filled(dev, {h}, -1, 1)};
        Tensor u = filled(dev, {1, l, h}, -1, 1), y = Tensor::empty(dev, DType::f32, {1, l, h});
        Tensor state = filled(dev, {1, p, 2}, 0, 0);
        GpuCase c;
        c.record = [u, w, y, state](Stream& s) { ops::s5(s, u, w, y, state); };
        c.bytes = 4.0 * (2.0 * l * h + 2.0 * 4.0 * l * p);  // u, y, and the complex scan scratch (written, read twice, rewritten)
        c.flops = 2.0 * 2.0 * 4.0 * l * p * h;               // the two complex projections dominate
        c.items = static_cast<double>(l);
        return c;
    });

    register_gpu("rnn/slstm/f32/Bt16_H4_dh64_L1024", [](Device& dev) {
        const int64_t bt = 16, h = 4, dh = 64, l = 1024;
        const float r = 1.0f / std::sqrt(static_cast<float>(dh));
        Tensor wx = filled(dev, {bt, l, 4, h * dh}, -1, 1), R = filled(dev, {h, 4, dh, dh}, -r, r);
        Tensor b = filled(dev, {4, h, dh}, -0.5f, 0.5f), y = Tensor::empty(dev, DType::f32, {bt, l, h, dh});
        Tensor state = filled(dev, {bt, 4, h, dh}, 0, 0);
        GpuCase c;
        c.record = [wx, R, b, y, state](Stream& s) { ops::rnn(s, ops::RnnCell::Slstm, wx, R, b, y, state); };
        c.bytes = 4.0 * (bt * l * 5.0 * h * dh);
        c.flops = 2.0 * bt * l * 4.0 * h * dh * dh;
        c.items = static_cast<double>(bt * l);
        return c;
    });
    return true;
}();

}  // namespace
}  // namespace vkml::bench
