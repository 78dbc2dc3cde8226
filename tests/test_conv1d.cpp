// Causal depthwise conv1d against ops/reference: lengths 1..4096, odd channel counts, with and
// without bias/state/SiLU; prefill then steps equals one prefill; bad shapes.
#include "vkml/ops/ssm.hpp"
#include "vkml/reference/ssm.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Conv1d : public VkmlTest {};

Tensor f32(Device& dev, Shape shape, const std::vector<float>& v) {
    return Tensor::from_floats(dev, DType::f32, std::move(shape), v);
}

TEST_F(Conv1d, PrefillMatchesReference) {
    struct Case { int64_t batch, len, dim, width; bool bias, state, silu; };
    const Case cases[] = {{2, 1, 37, 4, true, true, true},    {1, 7, 37, 4, false, false, false},
                          {3, 64, 33, 4, true, false, true},   {1, 1000, 9, 3, true, true, false},
                          {2, 4096, 5, 4, false, true, true},  {1, 5, 8, 1, true, false, false}};
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        for (const Case& c : cases) {
            SCOPED_TRACE(testing::Message() << "B=" << c.batch << " L=" << c.len << " D=" << c.dim << " K=" << c.width);
            const auto xs = random_floats(c.batch * c.len * c.dim, 1, -2, 2);
            const auto ws = random_floats(c.dim * c.width, 2);
            const auto bs = c.bias ? random_floats(c.dim, 3) : std::vector<float>{};
            std::vector<float> st = c.state ? random_floats(c.batch * (c.width - 1) * c.dim, 4) : std::vector<float>{};
            Tensor x = f32(*dev, {c.batch, c.len, c.dim}, xs), w = f32(*dev, {c.dim, c.width}, ws);
            Tensor b = c.bias ? f32(*dev, {c.dim}, bs) : Tensor{};
            Tensor state = c.state ? f32(*dev, {c.batch, c.width - 1, c.dim}, st) : Tensor{};
            Tensor y = Tensor::empty(*dev, DType::f32, {c.batch, c.len, c.dim});
            ops::causal_conv1d(s, x, w, b, y, state, c.silu);
            s.finish();
            const auto ref = reference::causal_conv1d(xs, ws, bs, c.state ? &st : nullptr, c.batch,
                                                      c.len, c.dim, c.width, c.silu);
            EXPECT_NMSE_LE(ref, y.to_floats(), 1e-7);
            if (c.state) EXPECT_NMSE_LE(st, state.to_floats(), 0.0);
        }
    }
}

TEST_F(Conv1d, PrefillThenStepsEqualsOnePrefill) {
    const int64_t batch = 2, len = 9, dim = 7, width = 4, pre = 2;
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const auto xs = random_floats(batch * len * dim, 5);
        const auto ws = random_floats(dim * width, 6), bs = random_floats(dim, 7);
        Tensor w = f32(*dev, {dim, width}, ws), b = f32(*dev, {dim}, bs);
        // One prefill over the whole sequence.
        Tensor x = f32(*dev, {batch, len, dim}, xs);
        Tensor y = Tensor::empty(*dev, DType::f32, {batch, len, dim});
        Tensor st_full = f32(*dev, {batch, width - 1, dim}, std::vector<float>(batch * (width - 1) * dim, 0.0f));
        ops::causal_conv1d(s, x, w, b, y, st_full, true);
        // A prefill of `pre` tokens then single steps.
        Tensor st = f32(*dev, {batch, width - 1, dim}, std::vector<float>(batch * (width - 1) * dim, 0.0f));
        std::vector<float> head, tail;
        for (int64_t bb = 0; bb < batch; ++bb)
            for (int64_t t = 0; t < pre; ++t)
                for (int64_t d = 0; d < dim; ++d) head.push_back(xs[(bb * len + t) * dim + d]);
        Tensor xh = f32(*dev, {batch, pre, dim}, head);
        Tensor yh = Tensor::empty(*dev, DType::f32, {batch, pre, dim});
        ops::causal_conv1d(s, xh, w, b, yh, st, true);
        std::vector<Tensor> ys;
        for (int64_t t = pre; t < len; ++t) {
            std::vector<float> tok;
            for (int64_t bb = 0; bb < batch; ++bb)
                for (int64_t d = 0; d < dim; ++d) tok.push_back(xs[(bb * len + t) * dim + d]);
            Tensor xt = f32(*dev, {batch, dim}, tok);
            ys.push_back(Tensor::empty(*dev, DType::f32, {batch, dim}));
            ops::causal_conv1d_step(s, xt, w, b, ys.back(), st, true);
            s.finish();  // keep the per-step input tensors alive until they ran
        }
        s.finish();
        const auto full = y.to_floats(), yhv = yh.to_floats();
        std::vector<float> got(full.size());
        for (int64_t bb = 0; bb < batch; ++bb)
            for (int64_t d = 0; d < dim; ++d) {
                for (int64_t t = 0; t < pre; ++t) got[(bb * len + t) * dim + d] = yhv[(bb * pre + t) * dim + d];
                for (int64_t t = pre; t < len; ++t)
                    got[(bb * len + t) * dim + d] = ys[t - pre].to_floats()[bb * dim + d];
            }
        EXPECT_NMSE_LE(full, got, 1e-12);
        EXPECT_NMSE_LE(st_full.to_floats(), st.to_floats(), 0.0);
    }
}

TEST_F(Conv1d, BadShapesThrow) {
    for (const auto& dev : devices()) {
        Stream s(*dev);
        Tensor x = Tensor::empty(*dev, DType::f32, {1, 5, 8}), y = Tensor::empty(*dev, DType::f32, {1, 5, 8});
        Tensor w = Tensor::empty(*dev, DType::f32, {8, 4}), w_bad = Tensor::empty(*dev, DType::f32, {7, 4});
        Tensor w_wide = Tensor::empty(*dev, DType::f32, {8, 17});
        Tensor st_bad = Tensor::empty(*dev, DType::f32, {1, 4, 8}), y_bad = Tensor::empty(*dev, DType::f32, {1, 6, 8});
        Tensor x2 = Tensor::empty(*dev, DType::f32, {5, 8});
        EXPECT_VKML_ERROR(ops::causal_conv1d(s, x, w_bad, {}, y), ErrorKind::InvalidArgument, "causal_conv1d");
        EXPECT_VKML_ERROR(ops::causal_conv1d(s, x, w_wide, {}, y), ErrorKind::InvalidArgument, "width");
        EXPECT_VKML_ERROR(ops::causal_conv1d(s, x, w, {}, y, st_bad), ErrorKind::InvalidArgument, "state");
        EXPECT_VKML_ERROR(ops::causal_conv1d(s, x, w, {}, y_bad), ErrorKind::InvalidArgument, "y");
        EXPECT_VKML_ERROR(ops::causal_conv1d(s, x2, w, {}, x2), ErrorKind::InvalidArgument, "[B, L, D]");
        EXPECT_VKML_ERROR(ops::causal_conv1d_step(s, x2, w, {}, x2, {}), ErrorKind::InvalidArgument, "state");
    }
}

// With 1 MiB bindings, several-MiB tensors run in ranges: blocks of whole sequences (B=9) or time
// ranges of one sequence, each binding the K-1 inputs before it (L=5001: uneven ranges; odd D:
// windows at unaligned offsets). The split run equals the unsplit one exactly.
TEST_F(Conv1d, SplitRangesMatchUnsplit) {
    struct Case { int64_t batch, len, dim, width; bool bias, state, silu; };
    const Case cases[] = {{3, 5001, 67, 4, true, true, true}, {9, 1000, 67, 4, true, true, false},
                          {2, 4099, 67, 3, false, false, true}};
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        auto small = Device::open_index(dev->index(), DeviceOptions{.max_buffer_range = 1 << 20});
        for (const Case& c : cases) {
            SCOPED_TRACE(testing::Message() << "B=" << c.batch << " L=" << c.len << " D=" << c.dim << " K=" << c.width);
            ASSERT_GT(c.batch * c.len * c.dim * 4, 1 << 20);
            const auto xs = random_floats(c.batch * c.len * c.dim, 11, -2, 2);
            const auto ws = random_floats(c.dim * c.width, 12);
            const auto bs = c.bias ? random_floats(c.dim, 13) : std::vector<float>{};
            const auto st0 = c.state ? random_floats(c.batch * (c.width - 1) * c.dim, 14) : std::vector<float>{};
            std::vector<float> ys[2], sts[2];
            Device* devs[2] = {dev.get(), small.get()};
            for (int i = 0; i < 2; ++i) {
                Device& d = *devs[i];
                Stream s(d);
                Tensor x = f32(d, {c.batch, c.len, c.dim}, xs), w = f32(d, {c.dim, c.width}, ws);
                Tensor b = c.bias ? f32(d, {c.dim}, bs) : Tensor{};
                Tensor state = c.state ? f32(d, {c.batch, c.width - 1, c.dim}, st0) : Tensor{};
                Tensor y = Tensor::empty(d, DType::f32, {c.batch, c.len, c.dim});
                ops::causal_conv1d(s, x, w, b, y, state, c.silu);
                s.finish();
                ys[i] = y.to_floats();
                if (c.state) sts[i] = state.to_floats();
            }
            std::vector<float> st = st0;
            const auto ref = reference::causal_conv1d(xs, ws, bs, c.state ? &st : nullptr, c.batch, c.len,
                                                      c.dim, c.width, c.silu);
            EXPECT_NMSE_LE(ref, ys[1], 1e-7);
            EXPECT_EQ(ys[0], ys[1]);
            if (c.state) {
                EXPECT_NMSE_LE(st, sts[1], 0.0);
                EXPECT_EQ(sts[0], sts[1]);
            }
        }
        // One token wider than a binding cannot be split.
        Stream s(*small);
        Tensor x = Tensor::empty(*small, DType::f32, {1, 2, 300000}), y = Tensor::empty(*small, DType::f32, {1, 2, 300000});
        Tensor w = Tensor::empty(*small, DType::f32, {300000, 1});
        EXPECT_VKML_ERROR(ops::causal_conv1d(s, x, w, {}, y), ErrorKind::Unsupported, "exceeds maxStorageBufferRange");
    }
}

}  // namespace
}  // namespace vkml::test
