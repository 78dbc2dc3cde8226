// Mamba selective scan against the sequential reference: lengths 1..4096, odd channel and state
// counts, every optional input, chunk boundaries, prefill then steps, bad shapes.
#include <cmath>

#include "vkml/ops/ssm.hpp"
#include "vkml/reference/ssm.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class SelectiveScan : public VkmlTest {};

Tensor f32(Device& dev, Shape shape, const std::vector<float>& v) {
    return Tensor::from_floats(dev, DType::f32, std::move(shape), v);
}

reference::SelectiveScanRef make_case(int64_t batch, int64_t len, int64_t dim, int64_t n, bool opt_inputs,
                                      uint32_t seed) {
    reference::SelectiveScanRef r;
    r.batch = batch, r.len = len, r.dim = dim, r.n = n;
    r.x = random_floats(batch * len * dim, seed + 1);
    r.delta = random_floats(batch * len * dim, seed + 2, -3.0f, 0.5f);  // softplus -> (0.05, 0.97)
    r.A = random_floats(dim * n, seed + 3);
    for (float& a : r.A) a = -std::exp(a);
    r.B = random_floats(batch * len * n, seed + 4);
    r.C = random_floats(batch * len * n, seed + 5);
    if (opt_inputs) {
        r.D = random_floats(dim, seed + 6);
        r.z = random_floats(batch * len * dim, seed + 7, -3.0f, 3.0f);
        r.delta_bias = random_floats(dim, seed + 8, -0.5f, 0.5f);
    }
    return r;
}


ops::SelectiveScanInputs upload(Device& dev, const reference::SelectiveScanRef& r) {
    ops::SelectiveScanInputs in;
    in.x = f32(dev, {r.batch, r.len, r.dim}, r.x);
    in.delta = f32(dev, {r.batch, r.len, r.dim}, r.delta);
    in.A = f32(dev, {r.dim, r.n}, r.A);
    in.B = f32(dev, {r.batch, r.len, r.n}, r.B);
    in.C = f32(dev, {r.batch, r.len, r.n}, r.C);
    if (!r.D.empty()) in.D = f32(dev, {r.dim}, r.D);
    if (!r.z.empty()) in.z = f32(dev, {r.batch, r.len, r.dim}, r.z);
    if (!r.delta_bias.empty()) in.delta_bias = f32(dev, {r.dim}, r.delta_bias);
    return in;
}

TEST_F(SelectiveScan, PrefillMatchesReference) {
    struct Case { int64_t batch, len, dim, n, chunk; bool opt; };
    const Case cases[] = {{2, 1, 13, 16, 0, true},   {1, 7, 13, 16, 0, false},  {3, 64, 13, 16, 0, true},
                          {1, 1000, 13, 16, 0, true}, {1, 4096, 5, 16, 0, true}, {2, 63, 7, 5, 64, true},
                          {2, 65, 7, 5, 64, true},    {1, 128, 7, 5, 64, false}, {1, 1000, 3, 5, 17, true},
                          {1, 3000, 3, 16, 3000, true}};  // one 3000-token chunk (capped on llvmpipe)
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 10;
        for (const Case& c : cases) {
            SCOPED_TRACE(testing::Message() << "B=" << c.batch << " L=" << c.len << " D=" << c.dim
                                            << " N=" << c.n << " chunk=" << c.chunk);
            const auto r = make_case(c.batch, c.len, c.dim, c.n, c.opt, seed += 10);
            std::vector<float> st = random_floats(c.batch * c.dim * c.n, seed + 9);
            const auto in = upload(*dev, r);
            Tensor state = f32(*dev, {c.batch, c.dim, c.n}, st);
            Tensor y = Tensor::empty(*dev, DType::f32, {c.batch, c.len, c.dim});
            ops::selective_scan(s, in, y, state, {.delta_softplus = true, .chunk = c.chunk});
            s.finish();
            const auto ref = reference::selective_scan(r, st);
            EXPECT_NMSE_LE(ref, y.to_floats(), 1e-6);
            EXPECT_NMSE_LE(st, state.to_floats(), 1e-6);
        }
    }
}

TEST_F(SelectiveScan, PrefillThenStepsEqualsOnePrefill) {
    const int64_t batch = 2, len = 40, dim = 13, n = 16, pre = 33;
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const auto r = make_case(batch, len, dim, n, true, 99);
        const auto in = upload(*dev, r);
        const std::vector<float> zeros(batch * dim * n, 0.0f);
        Tensor st_full = f32(*dev, {batch, dim, n}, zeros), st = f32(*dev, {batch, dim, n}, zeros);
        Tensor y = Tensor::empty(*dev, DType::f32, {batch, len, dim});
        ops::selective_scan(s, in, y, st_full, {.chunk = 8});
        s.finish();
        // Token slices of a [B, L, W] host array.
        auto slice = [&](const std::vector<float>& v, int64_t w, int64_t t0, int64_t t1) {
            std::vector<float> out;
            for (int64_t b = 0; b < batch; ++b)
                for (int64_t t = t0; t < t1; ++t)
                    for (int64_t i = 0; i < w; ++i) out.push_back(v[(b * len + t) * w + i]);
            return out;
        };
        ops::SelectiveScanInputs head = in;
        head.x = f32(*dev, {batch, pre, dim}, slice(r.x, dim, 0, pre));
        head.delta = f32(*dev, {batch, pre, dim}, slice(r.delta, dim, 0, pre));
        head.B = f32(*dev, {batch, pre, n}, slice(r.B, n, 0, pre));
        head.C = f32(*dev, {batch, pre, n}, slice(r.C, n, 0, pre));
        head.z = f32(*dev, {batch, pre, dim}, slice(r.z, dim, 0, pre));
        Tensor yh = Tensor::empty(*dev, DType::f32, {batch, pre, dim});
        ops::selective_scan(s, head, yh, st, {.chunk = 8});
        s.finish();
        std::vector<float> got(batch * len * dim);
        const auto yhv = yh.to_floats();
        for (int64_t b = 0; b < batch; ++b)
            for (int64_t t = 0; t < pre; ++t)
                for (int64_t d = 0; d < dim; ++d) got[(b * len + t) * dim + d] = yhv[(b * pre + t) * dim + d];
        for (int64_t t = pre; t < len; ++t) {
            ops::SelectiveScanInputs tok = in;
            tok.x = f32(*dev, {batch, dim}, slice(r.x, dim, t, t + 1));
            tok.delta = f32(*dev, {batch, dim}, slice(r.delta, dim, t, t + 1));
            tok.B = f32(*dev, {batch, n}, slice(r.B, n, t, t + 1));
            tok.C = f32(*dev, {batch, n}, slice(r.C, n, t, t + 1));
            tok.z = f32(*dev, {batch, dim}, slice(r.z, dim, t, t + 1));
            Tensor yt = Tensor::empty(*dev, DType::f32, {batch, dim});
            ops::selective_scan_step(s, tok, yt, st);
            s.finish();
            const auto yv = yt.to_floats();
            for (int64_t b = 0; b < batch; ++b)
                for (int64_t d = 0; d < dim; ++d) got[(b * len + t) * dim + d] = yv[b * dim + d];
        }
        EXPECT_NMSE_LE(y.to_floats(), got, 1e-10);
        EXPECT_NMSE_LE(st_full.to_floats(), st.to_floats(), 1e-10);
    }
}

TEST_F(SelectiveScan, BadShapesThrow) {
    for (const auto& dev : devices()) {
        Stream s(*dev);
        const auto r = make_case(1, 5, 4, 3, false, 1);
        auto in = upload(*dev, r);
        Tensor y = Tensor::empty(*dev, DType::f32, {1, 5, 4}), st = Tensor::empty(*dev, DType::f32, {1, 4, 3});
        Tensor st_bad = Tensor::empty(*dev, DType::f32, {1, 3, 4});
        EXPECT_VKML_ERROR(ops::selective_scan(s, in, y, st_bad), ErrorKind::InvalidArgument, "state");
        auto bad = in;
        bad.B = Tensor::empty(*dev, DType::f32, {1, 5, 4});
        EXPECT_VKML_ERROR(ops::selective_scan(s, bad, y, st), ErrorKind::InvalidArgument, "B f32[1, 5, 4]");
        bad = in;
        bad.D = Tensor::empty(*dev, DType::f32, {5});
        EXPECT_VKML_ERROR(ops::selective_scan(s, bad, y, st), ErrorKind::InvalidArgument, "D");
        bad = in;
        bad.A = Tensor::empty(*dev, DType::f32, {4, 65});
        EXPECT_VKML_ERROR(ops::selective_scan(s, bad, y, st), ErrorKind::InvalidArgument, "N must be");
        EXPECT_VKML_ERROR(ops::selective_scan(s, in, y, st, {.chunk = -1}), ErrorKind::InvalidArgument, "chunk");
        EXPECT_VKML_ERROR(ops::selective_scan_step(s, in, y, st), ErrorKind::InvalidArgument, "rank 2");
    }
}

// With 1 MiB bindings, several-MiB tensors run in ranges: blocks of whole sequences (B=7: 4 + 3)
// or time ranges of one sequence at chunk boundaries (L=3001: uneven; chunk 100 gives several
// chunks per range, the default one chunk per range). Odd D puts windows at unaligned offsets.
// Ranges start at chunk boundaries, so the split run equals the unsplit one exactly; only where
// one chunk exceeds a binding (chunk 1000 x D 301) do ranges cut chunks, exact to the reference.
TEST_F(SelectiveScan, SplitRangesMatchUnsplit) {
    struct Case { int64_t batch, len, dim, n, chunk; bool bit_exact; };
    const Case cases[] = {{2, 3001, 301, 16, 100, true}, {2, 3001, 301, 16, 0, true}, {7, 200, 301, 5, 0, true},
                          {1, 1201, 301, 8, 1000, false}};
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        auto small = Device::open_index(dev->index(), DeviceOptions{.max_buffer_range = 1 << 20});
        uint32_t seed = 500;
        for (const Case& c : cases) {
            SCOPED_TRACE(testing::Message() << "B=" << c.batch << " L=" << c.len << " D=" << c.dim
                                            << " N=" << c.n << " chunk=" << c.chunk);
            ASSERT_GT(c.batch * c.len * c.dim * 4, 1 << 20);
            const auto r = make_case(c.batch, c.len, c.dim, c.n, true, seed += 10);
            const std::vector<float> st0 = random_floats(c.batch * c.dim * c.n, seed + 9);
            std::vector<float> ys[2], sts[2];
            Device* devs[2] = {dev.get(), small.get()};
            for (int i = 0; i < 2; ++i) {
                Stream s(*devs[i]);
                const auto in = upload(*devs[i], r);
                Tensor state = f32(*devs[i], {c.batch, c.dim, c.n}, st0);
                Tensor y = Tensor::empty(*devs[i], DType::f32, {c.batch, c.len, c.dim});
                ops::selective_scan(s, in, y, state, {.delta_softplus = true, .chunk = c.chunk});
                s.finish();
                ys[i] = y.to_floats();
                sts[i] = state.to_floats();
            }
            std::vector<float> st = st0;
            const auto ref = reference::selective_scan(r, st);
            EXPECT_NMSE_LE(ref, ys[1], 1e-6);
            EXPECT_NMSE_LE(st, sts[1], 1e-6);
            if (!c.bit_exact) continue;
            EXPECT_EQ(ys[0], ys[1]);
            EXPECT_EQ(sts[0], sts[1]);
        }
        // A decode step over many sequences: the state [B, D, N] runs in blocks of sequences.
        const int64_t batch = 70, dim = 67, n = 64;  // state 1.15 MiB
        const auto r = make_case(batch, 1, dim, n, true, 900);
        const std::vector<float> st0 = random_floats(batch * dim * n, 901);
        std::vector<float> ys[2], sts[2];
        Device* devs[2] = {dev.get(), small.get()};
        for (int i = 0; i < 2; ++i) {
            Stream s(*devs[i]);
            auto in = upload(*devs[i], r);
            for (Tensor* t : {&in.x, &in.delta, &in.B, &in.C, &in.z}) *t = t->reshape({t->dim(0), t->dim(2)});
            Tensor state = f32(*devs[i], {batch, dim, n}, st0);
            Tensor y = Tensor::empty(*devs[i], DType::f32, {batch, dim});
            ops::selective_scan_step(s, in, y, state);
            s.finish();
            ys[i] = y.to_floats();
            sts[i] = state.to_floats();
        }
        std::vector<float> st = st0;
        const auto ref = reference::selective_scan(r, st);
        EXPECT_NMSE_LE(ref, ys[1], 1e-6);
        EXPECT_NMSE_LE(st, sts[1], 1e-6);
        EXPECT_EQ(ys[0], ys[1]);
        EXPECT_EQ(sts[0], sts[1]);
    }
}

}  // namespace
}  // namespace vkml::test
