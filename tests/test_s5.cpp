// S5 against the sequential reference: lengths 1..4096 (block boundaries included), odd state and
// channel counts, prefill then steps, bad shapes.
#include <cmath>

#include "vkml/ops/ssm.hpp"
#include "vkml/reference/ssm.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class S5 : public VkmlTest {};

Tensor f32(Device& dev, Shape shape, const std::vector<float>& v) {
    return Tensor::from_floats(dev, DType::f32, std::move(shape), v);
}

struct HostWeights {
    std::vector<float> lambda, log_step, B, C, D;
};

HostWeights make_weights(int64_t states, int64_t hdim, uint32_t seed) {
    HostWeights w;
    w.lambda = random_floats(states * 2, seed);
    for (int64_t p = 0; p < states; ++p) {
        w.lambda[2 * p] = -0.5f - 0.5f * w.lambda[2 * p];  // real part in (-1, 0)
        w.lambda[2 * p + 1] *= 3.0f;
    }
    w.log_step = random_floats(states, seed + 1, std::log(0.001f), std::log(0.1f));
    const float scale = 1.0f / std::sqrt(static_cast<float>(hdim));
    w.B = random_floats(states * hdim * 2, seed + 2, -scale, scale);
    w.C = random_floats(hdim * states * 2, seed + 3, -scale, scale);
    w.D = random_floats(hdim, seed + 4);
    return w;
}

ops::S5Weights upload(Device& dev, const HostWeights& w, int64_t states, int64_t hdim) {
    return {f32(dev, {states, 2}, w.lambda), f32(dev, {states}, w.log_step), f32(dev, {states, hdim, 2}, w.B),
            f32(dev, {hdim, states, 2}, w.C), f32(dev, {hdim}, w.D)};
}

TEST_F(S5, PrefillMatchesReference) {
    struct Case { int64_t batch, len, hdim, states; };
    // The scan block is 512 tokens on devices with 256 invocations per workgroup.
    const Case cases[] = {{2, 1, 5, 9}, {1, 7, 5, 9}, {3, 64, 6, 17}, {1, 511, 3, 9}, {2, 513, 3, 9},
                          {1, 1000, 5, 8}, {1, 4096, 3, 5}};
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 1;
        for (const Case& c : cases) {
            SCOPED_TRACE(testing::Message() << "Bt=" << c.batch << " L=" << c.len << " H=" << c.hdim << " P=" << c.states);
            const HostWeights hw = make_weights(c.states, c.hdim, seed += 10);
            const auto us = random_floats(c.batch * c.len * c.hdim, seed + 5);
            auto st = random_floats(c.batch * c.states * 2, seed + 6);
            Tensor u = f32(*dev, {c.batch, c.len, c.hdim}, us);
            Tensor state = f32(*dev, {c.batch, c.states, 2}, st);
            Tensor y = Tensor::empty(*dev, DType::f32, {c.batch, c.len, c.hdim});
            const auto w = upload(*dev, hw, c.states, c.hdim);
            ops::s5(s, u, w, y, state);
            s.finish();
            const auto ref = reference::s5(us, hw.lambda, hw.log_step, hw.B, hw.C, hw.D, st, c.batch, c.len,
                                           c.hdim, c.states);
            EXPECT_NMSE_LE(ref, y.to_floats(), 1e-6);
            EXPECT_NMSE_LE(st, state.to_floats(), 1e-6);
        }
    }
}

TEST_F(S5, PrefillThenStepsEqualsOnePrefill) {
    const int64_t batch = 2, len = 530, hdim = 4, states = 7, pre = 525;
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const HostWeights hw = make_weights(states, hdim, 77);
        const auto w = upload(*dev, hw, states, hdim);
        const auto us = random_floats(batch * len * hdim, 78);
        const std::vector<float> zeros(batch * states * 2, 0.0f);
        Tensor st_full = f32(*dev, {batch, states, 2}, zeros), st = f32(*dev, {batch, states, 2}, zeros);
        Tensor y = Tensor::empty(*dev, DType::f32, {batch, len, hdim});
        Tensor u_full = f32(*dev, {batch, len, hdim}, us);
        ops::s5(s, u_full, w, y, st_full);
        s.finish();
        auto slice = [&](int64_t t0, int64_t t1) {
            std::vector<float> out;
            for (int64_t b = 0; b < batch; ++b)
                for (int64_t t = t0; t < t1; ++t)
                    for (int64_t h = 0; h < hdim; ++h) out.push_back(us[(b * len + t) * hdim + h]);
            return out;
        };
        Tensor yh = Tensor::empty(*dev, DType::f32, {batch, pre, hdim});
        Tensor u_head = f32(*dev, {batch, pre, hdim}, slice(0, pre));
        ops::s5(s, u_head, w, yh, st);
        s.finish();
        std::vector<float> got(batch * len * hdim);
        const auto yhv = yh.to_floats();
        for (int64_t b = 0; b < batch; ++b)
            for (int64_t t = 0; t < pre; ++t)
                for (int64_t h = 0; h < hdim; ++h) got[(b * len + t) * hdim + h] = yhv[(b * pre + t) * hdim + h];
        for (int64_t t = pre; t < len; ++t) {
            Tensor yt = Tensor::empty(*dev, DType::f32, {batch, hdim});
            Tensor ut = f32(*dev, {batch, hdim}, slice(t, t + 1));
            ops::s5_step(s, ut, w, yt, st);
            s.finish();
            const auto yv = yt.to_floats();
            for (int64_t b = 0; b < batch; ++b)
                for (int64_t h = 0; h < hdim; ++h) got[(b * len + t) * hdim + h] = yv[b * hdim + h];
        }
        EXPECT_NMSE_LE(y.to_floats(), got, 1e-10);
        EXPECT_NMSE_LE(st_full.to_floats(), st.to_floats(), 1e-10);
    }
}

TEST_F(S5, BadShapesThrow) {
    for (const auto& dev : devices()) {
        Stream s(*dev);
        const auto w = upload(*dev, make_weights(4, 3, 1), 4, 3);
        Tensor u = Tensor::empty(*dev, DType::f32, {1, 5, 3}), y = Tensor::empty(*dev, DType::f32, {1, 5, 3});
        Tensor st = Tensor::empty(*dev, DType::f32, {1, 4, 2}), st_bad = Tensor::empty(*dev, DType::f32, {1, 4});
        EXPECT_VKML_ERROR(ops::s5(s, u, w, y, st_bad), ErrorKind::InvalidArgument, "state");
        auto bad = w;
        bad.B = Tensor::empty(*dev, DType::f32, {4, 2, 2});
        EXPECT_VKML_ERROR(ops::s5(s, u, bad, y, st), ErrorKind::InvalidArgument, "B f32[4, 2, 2]");
        bad = w;
        bad.C = Tensor::empty(*dev, DType::f32, {3, 4});
        EXPECT_VKML_ERROR(ops::s5(s, u, bad, y, st), ErrorKind::InvalidArgument, "C");
        Tensor y_bad = Tensor::empty(*dev, DType::f32, {1, 4, 3});
        EXPECT_VKML_ERROR(ops::s5(s, u, w, y_bad, st), ErrorKind::InvalidArgument, "y");
        EXPECT_VKML_ERROR(ops::s5_step(s, u, w, y, st), ErrorKind::InvalidArgument, "[Bt, H]");
    }
}

// With 1 MiB bindings the scan scratch (P complex per token) and u, y run in ranges: time
// ranges of one sequence at scan-block boundaries (L=5000: uneven) or blocks of whole sequences
// (Bt=6; there only the scratch exceeds a binding). Odd H puts windows at unaligned offsets.
// The split run equals the unsplit one exactly.
TEST_F(S5, SplitRangesMatchUnsplit) {
    struct Case { int64_t batch, len, hdim, states; };
    const Case cases[] = {{2, 5000, 33, 64}, {6, 700, 33, 64}};
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        auto small = Device::open_index(dev->index(), DeviceOptions{.max_buffer_range = 1 << 20});
        uint32_t seed = 300;
        for (const Case& c : cases) {
            SCOPED_TRACE(testing::Message() << "Bt=" << c.batch << " L=" << c.len << " H=" << c.hdim << " P=" << c.states);
            ASSERT_GT(c.batch * c.len * c.states * 8, 1 << 20);
            const HostWeights hw = make_weights(c.states, c.hdim, seed += 10);
            const auto us = random_floats(c.batch * c.len * c.hdim, seed + 5);
            const auto st0 = random_floats(c.batch * c.states * 2, seed + 6);
            std::vector<float> ys[2], sts[2];
            Device* devs[2] = {dev.get(), small.get()};
            for (int i = 0; i < 2; ++i) {
                Stream s(*devs[i]);
                Tensor u = f32(*devs[i], {c.batch, c.len, c.hdim}, us);
                Tensor state = f32(*devs[i], {c.batch, c.states, 2}, st0);
                Tensor y = Tensor::empty(*devs[i], DType::f32, {c.batch, c.len, c.hdim});
                ops::s5(s, u, upload(*devs[i], hw, c.states, c.hdim), y, state);
                s.finish();
                ys[i] = y.to_floats();
                sts[i] = state.to_floats();
            }
            std::vector<float> st = st0;
            const auto ref = reference::s5(us, hw.lambda, hw.log_step, hw.B, hw.C, hw.D, st, c.batch, c.len,
                                           c.hdim, c.states);
            EXPECT_NMSE_LE(ref, ys[1], 1e-6);
            EXPECT_NMSE_LE(st, sts[1], 1e-6);
            EXPECT_EQ(ys[0], ys[1]);
            EXPECT_EQ(sts[0], sts[1]);
        }
    }
}

}  // namespace
}  // namespace vkml::test
