// Mamba-2 SSD against the plain recurrence: lengths 1..4096, chunk boundaries, odd head/state
// sizes, grouped B/C, prefill then steps, bad shapes.
#include <cmath>

#include "vkml/ops/ssm.hpp"
#include "vkml/reference/ssm.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Ssd : public VkmlTest {};

Tensor f32(Device& dev, Shape shape, const std::vector<float>& v) {
    return Tensor::from_floats(dev, DType::f32, std::move(shape), v);
}

reference::SsdRef make_case(int64_t batch, int64_t len, int64_t heads, int64_t hp, int64_t n, int64_t groups,
                            bool opt, uint32_t seed) {
    reference::SsdRef r;
    r.batch = batch, r.len = len, r.heads = heads, r.hp = hp, r.n = n, r.groups = groups;
    r.x = random_floats(batch * len * heads * hp, seed + 1);
    r.dt = random_floats(batch * len * heads, seed + 2, -3.0f, 0.5f);
    r.A = random_floats(heads, seed + 3);
    for (float& a : r.A) a = -std::exp(a);
    r.B = random_floats(batch * len * groups * n, seed + 4);
    r.C = random_floats(batch * len * groups * n, seed + 5);
    if (opt) {
        r.D = random_floats(heads, seed + 6);
        r.dt_bias = random_floats(heads, seed + 7, -0.5f, 0.5f);
    }
    return r;
}


ops::SsdInputs upload(Device& dev, const reference::SsdRef& r) {
    ops::SsdInputs in;
    in.x = f32(dev, {r.batch, r.len, r.heads, r.hp}, r.x);
    in.dt = f32(dev, {r.batch, r.len, r.heads}, r.dt);
    in.A = f32(dev, {r.heads}, r.A);
    in.B = f32(dev, {r.batch, r.len, r.groups, r.n}, r.B);
    in.C = f32(dev, {r.batch, r.len, r.groups, r.n}, r.C);
    if (!r.D.empty()) in.D = f32(dev, {r.heads}, r.D);
    if (!r.dt_bias.empty()) in.dt_bias = f32(dev, {r.heads}, r.dt_bias);
    return in;
}

TEST_F(Ssd, PrefillMatchesReference) {
    struct Case { int64_t batch, len, heads, hp, n, groups; bool opt; };
    // The default chunk is 64 on a 32 KiB-shared device: 63, 65 and 128 cross its boundaries.
    const Case cases[] = {{2, 1, 3, 5, 7, 1, true},   {1, 7, 2, 4, 16, 2, false}, {2, 63, 4, 3, 5, 2, true},
                          {1, 64, 2, 8, 16, 1, true},  {1, 65, 3, 5, 9, 3, true},  {1, 1000, 2, 3, 4, 1, true},
                          {1, 4096, 1, 2, 3, 1, false}};
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 100;
        for (const Case& c : cases) {
            SCOPED_TRACE(testing::Message() << "B=" << c.batch << " L=" << c.len << " H=" << c.heads << " P=" << c.hp
                                            << " N=" << c.n << " G=" << c.groups);
            const auto r = make_case(c.batch, c.len, c.heads, c.hp, c.n, c.groups, c.opt, seed += 10);
            auto st = random_floats(c.batch * c.heads * c.hp * c.n, seed + 9);
            const auto in = upload(*dev, r);
            Tensor state = f32(*dev, {c.batch, c.heads, c.hp, c.n}, st);
            Tensor y = Tensor::empty(*dev, DType::f32, {c.batch, c.len, c.heads, c.hp});
            ops::ssd(s, in, y, state);
            s.finish();
            const auto ref = reference::ssd(r, st);
            EXPECT_NMSE_LE(ref, y.to_floats(), 1e-6);
            EXPECT_NMSE_LE(st, state.to_floats(), 1e-6);
        }
    }
}

TEST_F(Ssd, PrefillThenStepsEqualsOnePrefill) {
    const int64_t batch = 2, len = 20, heads = 2, hp = 3, n = 5, groups = 1, pre = 17;
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const auto r = make_case(batch, len, heads, hp, n, groups, true, 7);
        const auto in = upload(*dev, r);
        const std::vector<float> zeros(batch * heads * hp * n, 0.0f);
        Tensor st_full = f32(*dev, {batch, heads, hp, n}, zeros), st = f32(*dev, {batch, heads, hp, n}, zeros);
        Tensor y = Tensor::empty(*dev, DType::f32, {batch, len, heads, hp});
        ops::ssd(s, in, y, st_full, {.chunk = 8});
        s.finish();
        auto slice = [&](const std::vector<float>& v, int64_t w, int64_t t0, int64_t t1) {
            std::vector<float> out;
            for (int64_t b = 0; b < batch; ++b)
                for (int64_t i = (b * len + t0) * w; i < (b * len + t1) * w; ++i) out.push_back(v[i]);
            return out;
        };
        ops::SsdInputs head = in;
        head.x = f32(*dev, {batch, pre, heads, hp}, slice(r.x, heads * hp, 0, pre));
        head.dt = f32(*dev, {batch, pre, heads}, slice(r.dt, heads, 0, pre));
        head.B = f32(*dev, {batch, pre, groups, n}, slice(r.B, groups * n, 0, pre));
        head.C = f32(*dev, {batch, pre, groups, n}, slice(r.C, groups * n, 0, pre));
        Tensor yh = Tensor::empty(*dev, DType::f32, {batch, pre, heads, hp});
        ops::ssd(s, head, yh, st, {.chunk = 8});
        s.finish();
        const int64_t row = heads * hp;
        std::vector<float> got(batch * len * row);
        const auto yhv = yh.to_floats();
        for (int64_t b = 0; b < batch; ++b)
            std::copy(yhv.begin() + b * pre * row, yhv.begin() + (b + 1) * pre * row, got.begin() + b * len * row);
        for (int64_t t = pre; t < len; ++t) {
            ops::SsdInputs tok = in;
            tok.x = f32(*dev, {batch, heads, hp}, slice(r.x, row, t, t + 1));
            tok.dt = f32(*dev, {batch, heads}, slice(r.dt, heads, t, t + 1));
            tok.B = f32(*dev, {batch, groups, n}, slice(r.B, groups * n, t, t + 1));
            tok.C = f32(*dev, {batch, groups, n}, slice(r.C, groups * n, t, t + 1));
            Tensor yt = Tensor::empty(*dev, DType::f32, {batch, heads, hp});
            ops::ssd_step(s, tok, yt, st, {.chunk = 8});
            s.finish();
            const auto yv = yt.to_floats();
            for (int64_t b = 0; b < batch; ++b)
                std::copy(yv.begin() + b * row, yv.begin() + (b + 1) * row, got.begin() + (b * len + t) * row);
        }
        EXPECT_NMSE_LE(y.to_floats(), got, 1e-10);
        EXPECT_NMSE_LE(st_full.to_floats(), st.to_floats(), 1e-10);
    }
}

TEST_F(Ssd, BadShapesThrow) {
    for (const auto& dev : devices()) {
        Stream s(*dev);
        const auto r = make_case(1, 5, 4, 3, 2, 2, false, 1);
        const auto in = upload(*dev, r);
        Tensor y = Tensor::empty(*dev, DType::f32, {1, 5, 4, 3}), st = Tensor::empty(*dev, DType::f32, {1, 4, 3, 2});
        EXPECT_VKML_ERROR(ops::ssd(s, in, y, Tensor::empty(*dev, DType::f32, {1, 4, 2, 3})), ErrorKind::InvalidArgument, "state");
        auto bad = in;
        bad.B = Tensor::empty(*dev, DType::f32, {1, 5, 3, 2});
        EXPECT_VKML_ERROR(ops::ssd(s, bad, y, st), ErrorKind::InvalidArgument, "groups");
        bad = in;
        bad.A = Tensor::empty(*dev, DType::f32, {3});
        EXPECT_VKML_ERROR(ops::ssd(s, bad, y, st), ErrorKind::InvalidArgument, "A");
        bad = in;
        bad.C = Tensor::empty(*dev, DType::f32, {1, 5, 2, 3});
        EXPECT_VKML_ERROR(ops::ssd(s, bad, y, st), ErrorKind::InvalidArgument, "C");
        EXPECT_VKML_ERROR(ops::ssd(s, in, y, st, {.chunk = 129}), ErrorKind::InvalidArgument, "chunk");
        EXPECT_VKML_ERROR(ops::ssd_step(s, in, y, st), ErrorKind::InvalidArgument, "rank");
    }
}

TEST_F(Ssd, HsmSsdMatchesReference) {
    struct Case { int64_t batch, height, width, ch, n; };
    const Case cases[] = {{2, 4, 5, 12, 5}, {1, 7, 7, 33, 9}, {1, 1, 1, 8, 3}, {1, 20, 15, 16, 4}};
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 500;
        for (const Case& c : cases) {
            SCOPED_TRACE(testing::Message() << "Bt=" << c.batch << " grid=" << c.height << "x" << c.width << " C=" << c.ch << " N=" << c.n);
            const int64_t len = c.height * c.width;
            const float r = 1.0f / std::sqrt(static_cast<float>(c.ch));
            const auto xs = random_floats(c.batch * len * c.ch, seed += 10);
            const auto wb = random_floats(3 * c.n * c.ch, seed + 1, -r, r), dw = random_floats(3 * c.n * 9, seed + 2);
            const auto ap = random_floats(c.n, seed + 3), whz = random_floats(2 * c.ch * c.ch, seed + 4, -r, r);
            const auto dd = random_floats(c.ch, seed + 5), wo = random_floats(c.ch * c.ch, seed + 6, -r, r);
            Tensor x = f32(*dev, {c.batch, len, c.ch}, xs), y = Tensor::empty(*dev, DType::f32, {c.batch, len, c.ch});
            const ops::HsmSsdWeights w{f32(*dev, {3 * c.n, c.ch}, wb), f32(*dev, {3 * c.n, 3, 3}, dw), f32(*dev, {c.n}, ap),
                                       f32(*dev, {2 * c.ch, c.ch}, whz), f32(*dev, {c.ch}, dd), f32(*dev, {c.ch, c.ch}, wo)};
            ops::hsm_ssd(s, x, c.height, c.width, w, y);
            s.finish();
            const auto ref = reference::hsm_ssd(xs, c.batch, c.height, c.width, c.ch, c.n, wb, dw, ap, whz, dd, wo);
            EXPECT_NMSE_LE(ref, y.to_floats(), 1e-6);
        }
        Tensor x = Tensor::empty(*dev, DType::f32, {1, 20, 8}), y = Tensor::empty(*dev, DType::f32, {1, 20, 8});
        auto t = [&](Shape sh) { return Tensor::empty(*dev, DType::f32, std::move(sh)); };
        const ops::HsmSsdWeights w{t({6, 8}), t({6, 3, 3}), t({2}), t({16, 8}), t({8}), t({8, 8})};
        EXPECT_VKML_ERROR(ops::hsm_ssd(s, x, 4, 4, w, y), ErrorKind::InvalidArgument, "grid");
        auto bad = w;
        bad.w_hz = t({8, 8});
        EXPECT_VKML_ERROR(ops::hsm_ssd(s, x, 4, 5, bad, y), ErrorKind::InvalidArgument, "w_hz");
    }
}

// With 1 MiB bindings, several-MiB tensors run in ranges: time ranges of one sequence at chunk
// boundaries (L=4500: uneven) or blocks of whole sequences (B=5: 2 + 2 + 1, with two B/C
// groups). Odd sizes put windows at unaligned offsets. The split run equals the unsplit one.
TEST_F(Ssd, SplitRangesMatchUnsplit) {
    struct Case { int64_t batch, len, heads, hp, n, groups; };
    const Case cases[] = {{2, 4500, 5, 16, 32, 1}, {5, 1000, 6, 16, 32, 2}};
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        auto small = Device::open_index(dev->index(), DeviceOptions{.max_buffer_range = 1 << 20});
        uint32_t seed = 700;
        for (const Case& c : cases) {
            SCOPED_TRACE(testing::Message() << "B=" << c.batch << " L=" << c.len << " H=" << c.heads << " P=" << c.hp
                                            << " N=" << c.n << " G=" << c.groups);
            ASSERT_GT(c.batch * c.len * c.heads * c.hp * 4, 1 << 20);
            const auto r = make_case(c.batch, c.len, c.heads, c.hp, c.n, c.groups, true, seed += 10);
            const auto st0 = random_floats(c.batch * c.heads * c.hp * c.n, seed + 8);
            std::vector<float> ys[2], sts[2];
            Device* devs[2] = {dev.get(), small.get()};
            for (int i = 0; i < 2; ++i) {
                Stream s(*devs[i]);
                const auto in = upload(*devs[i], r);
                Tensor state = f32(*devs[i], {c.batch, c.heads, c.hp, c.n}, st0);
                Tensor y = Tensor::empty(*devs[i], DType::f32, {c.batch, c.len, c.heads, c.hp});
                ops::ssd(s, in, y, state);
                s.finish();
                ys[i] = y.to_floats();
                sts[i] = state.to_floats();
            }
            std::vector<float> st = st0;
            const auto ref = reference::ssd(r, st);
            EXPECT_NMSE_LE(ref, ys[1], 1e-6);
            EXPECT_NMSE_LE(st, sts[1], 1e-6);
            EXPECT_EQ(ys[0], ys[1]);
            EXPECT_EQ(sts[0], sts[1]);
        }
    }
}

}  // namespace
}  // namespace vkml::test
