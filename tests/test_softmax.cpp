// Softmax, log-softmax and entropy against ops/reference: odd and long rows, causal masks with
// offsets, scale, in place, both reduction variants, row chunking under a lowered buffer range.
#include <cmath>
#include <cstdlib>
#include <limits>

#include "vkml/ops/softmax.hpp"
#include "vkml/reference/softmax.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Softmax : public VkmlTest {};

// Runs the body once with the device's preferred reduction and once with the shared-memory
// fallback (VKML_REDUCE=shared), so both kernels are covered on any device.
template <class F>
void for_each_variant(F&& body) {
    for (const char* v : {"", "shared"}) {
        SCOPED_TRACE(std::string("VKML_REDUCE=") + v);
        if (*v) setenv("VKML_REDUCE", v, 1);
        else unsetenv("VKML_REDUCE");
        body();
    }
    unsetenv("VKML_REDUCE");
}

// Log-probabilities hold -inf where masked: those must match exactly; the rest by NMSE.
void expect_log_probs(const std::vector<float>& ref, std::vector<float> got) {
    ASSERT_EQ(ref.size(), got.size());
    std::vector<float> r = ref;
    for (size_t i = 0; i < r.size(); ++i) {
        if (std::isinf(r[i])) {
            ASSERT_EQ(r[i], got[i]) << "at " << i;
            r[i] = got[i] = 0.0f;
        }
    }
    EXPECT_NMSE_LE(r, got, 1e-6);
}

// Softmax, log-softmax, entropy and a causal softmax (the mask cutting deep into each row) of
// rows x cols random values in [-range, range], then softmax in place.
void check_long_rows(Device& dev, Stream& s, int64_t rows, int64_t cols, uint32_t seed, float range,
                     int64_t causal_offset) {
    SCOPED_TRACE(std::to_string(rows) + " x " + std::to_string(cols));
    const auto xs = random_floats(static_cast<size_t>(rows * cols), seed, -range, range);
    Tensor x = Tensor::from_floats(dev, DType::f32, {rows, cols}, xs);
    Tensor ly = Tensor::empty(dev, DType::f32, {rows, cols});
    Tensor cy = Tensor::empty(dev, DType::f32, {rows, cols});
    Tensor h = Tensor::empty(dev, DType::f32, {rows});
    ops::log_softmax(s, x, ly);
    ops::entropy(s, x, h);
    ops::softmax(s, x, cy, {.causal = true, .causal_offset = causal_offset});
    ops::softmax(s, x, x);
    s.finish();
    EXPECT_NMSE_LE(reference::softmax(xs, cols), x.to_floats(), 1e-6);
    expect_log_probs(reference::log_softmax(xs, cols), ly.to_floats());
    EXPECT_NMSE_LE(reference::entropy(xs, cols), h.to_floats(), 1e-6);
    EXPECT_NMSE_LE(reference::softmax(xs, cols, 1.0f, {.causal = true, .q_dim = rows, .offset = causal_offset}),
                   cy.to_floats(), 1e-6);
}

const std::vector<Shape> kShapes = {{1}, {3, 1}, {5, 7}, {4, 33}, {3, 4097}, {2, 32000},
                                    {1, 40000}, {2, 3, 5, 33}, {130, 64}};

TEST_F(Softmax, MatchesReferenceOnOddAndLongRows) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        for_each_variant([&] {
            Stream s(*dev);
            for (const Shape& shape : kShapes) {
                SCOPED_TRACE(shape_string(shape));
                const int64_t cols = shape.back();
                const auto xs = random_floats(shape_numel(shape), 7, -8.0f, 8.0f);
                Tensor x = Tensor::from_floats(*dev, DType::f32, shape, xs);
                Tensor y = Tensor::empty(*dev, DType::f32, shape);
                Tensor ly = Tensor::empty(*dev, DType::f32, shape);
                Tensor h = Tensor::empty(*dev, DType::f32, {x.rows()});
                ops::softmax(s, x, y, {.scale = 0.7f});
                ops::log_softmax(s, x, ly, {.scale = 0.7f});
                ops::entropy(s, x, h, 0.7f);
                s.finish();
                EXPECT_NMSE_LE(reference::softmax(xs, cols, 0.7f), y.to_floats(), 1e-6);
                expect_log_probs(reference::log_softmax(xs, cols, 0.7f), ly.to_floats());
                EXPECT_NMSE_LE(reference::entropy(xs, cols, 0.7f), h.to_floats(), 1e-6);
            }
        });
    }
}

TEST_F(Softmax, CausalMaskWithOffsets) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        struct Case {
            Shape shape;
            int64_t offset;
        };
        // [batch, heads, q, k]: prefill (offset 0), decode against a cache (k - q), offsets past
        // the row (nothing masked), a 1-D row (query 0), and a long row.
        const std::vector<Case> cases = {{{2, 3, 5, 9}, 0}, {{2, 3, 5, 9}, 4},  {{4, 40}, 36},
                                         {{3, 7, 7}, 0},    {{2, 6, 33}, 100}, {{9}, 2},
                                         {{1, 3, 5000}, 4997}, {{1, 3, 20000}, 19997},
                                         {{1, 3, 20000}, 0}};  // the last two: split rows
        for (const Case& c : cases) {
            SCOPED_TRACE(shape_string(c.shape) + " offset " + std::to_string(c.offset));
            const int64_t cols = c.shape.back();
            const int64_t q = c.shape.size() >= 2 ? c.shape[c.shape.size() - 2] : 1;
            const reference::SoftmaxMask mask{.causal = true, .q_dim = q, .offset = c.offset};
            const auto xs = random_floats(shape_numel(c.shape), 3, -5.0f, 5.0f);
            Tensor x = Tensor::from_floats(*dev, DType::f32, c.shape, xs);
            Tensor y = Tensor::empty(*dev, DType::f32, c.shape);
            Tensor ly = Tensor::empty(*dev, DType::f32, c.shape);
            const ops::SoftmaxOptions o{.scale = 0.125f, .causal = true, .causal_offset = c.offset};
            ops::softmax(s, x, y, o);
            ops::log_softmax(s, x, ly, o);
            s.finish();
            const auto ref = reference::softmax(xs, cols, 0.125f, mask);
            const auto got = y.to_floats();
            EXPECT_NMSE_LE(ref, got, 1e-6);
            for (size_t i = 0; i < ref.size(); ++i) {
                if (ref[i] == 0.0f) {
                    ASSERT_EQ(got[i], 0.0f) << "masked element " << i;
                }
            }
            expect_log_probs(reference::log_softmax(xs, cols, 0.125f, mask), ly.to_floats());
        }
    }
}

TEST_F(Softmax, InPlaceAndInfinities) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        auto xs = random_floats(3 * 4097, 9, -3.0f, 3.0f);
        // -inf logits (banned tokens) get probability 0 and do not disturb the rest.
        const float ninf = -std::numeric_limits<float>::infinity();
        xs[0] = ninf;
        xs[4097 + 100] = ninf;
        xs[2 * 4097 + 4096] = ninf;
        Tensor x = Tensor::from_floats(*dev, DType::f32, {3, 4097}, xs);
        Tensor x2 = Tensor::from_floats(*dev, DType::f32, {3, 4097}, xs);
        Tensor h = Tensor::empty(*dev, DType::f32, {3});
        ops::entropy(s, x, h);
        ops::softmax(s, x, x);
        ops::log_softmax(s, x2, x2, {.scale = 2.0f});
        s.finish();
        EXPECT_NMSE_LE(reference::softmax(xs, 4097), x.to_floats(), 1e-6);
        EXPECT_EQ(x.to_floats()[0], 0.0f);
        expect_log_probs(reference::log_softmax(xs, 4097, 2.0f), x2.to_floats());
        EXPECT_NMSE_LE(reference::entropy(xs, 4097), h.to_floats(), 1e-6);
    }
}

TEST_F(Softmax, SplitRowsInPlaceAndNan) {
    // Few long rows take the split-row kernels (segment partials, then a merge).
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const int64_t cols = 40000;
        auto xs = random_floats(3 * cols, 15, -6.0f, 6.0f);
        xs[5] = -std::numeric_limits<float>::infinity();
        Tensor x = Tensor::from_floats(*dev, DType::f32, {3, cols}, xs);
        Tensor x2 = Tensor::from_floats(*dev, DType::f32, {3, cols}, xs);
        ops::softmax(s, x, x, {.scale = 1.5f});
        ops::log_softmax(s, x2, x2);
        s.finish();
        EXPECT_NMSE_LE(reference::softmax(xs, cols, 1.5f), x.to_floats(), 1e-6);
        expect_log_probs(reference::log_softmax(xs, cols), x2.to_floats());

        // A NaN anywhere makes its whole row NaN (as in PyTorch), on both paths.
        for (int64_t c : {int64_t{33}, cols}) {
            std::vector<float> v(2 * c, 0.5f);
            v[c + c - 1] = std::numeric_limits<float>::quiet_NaN();
            Tensor t = Tensor::from_floats(*dev, DType::f32, {2, c}, v);
            Tensor h = Tensor::empty(*dev, DType::f32, {2});
            ops::entropy(s, t, h);
            ops::softmax(s, t, t);
            s.finish();
            const auto got = t.to_floats();
            EXPECT_FLOAT_EQ(got[0], 1.0f / static_cast<float>(c));
            EXPECT_TRUE(std::isnan(got[c])) << c;
            EXPECT_TRUE(std::isnan(h.to_floats()[1])) << c;
        }
    }
}

TEST_F(Softmax, EntropyOfKnownDistributions) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        // Row 0 uniform over 1000 (H = log 1000); row 1 one-hot-like (H ~ 0); row 2 shifted by a
        // large constant (the max subtraction keeps it exact).
        std::vector<float> xs(3 * 1000, 0.0f);
        xs[1000 + 17] = 200.0f;
        for (int j = 0; j < 1000; ++j) xs[2000 + j] = 1e4f + static_cast<float>(j % 10);
        Tensor x = Tensor::from_floats(*dev, DType::f32, {3, 1000}, xs);
        Tensor h = Tensor::empty(*dev, DType::f32, {3});
        ops::entropy(s, x, h);
        s.finish();
        const auto hs = h.to_floats();
        const auto ref = reference::entropy(xs, 1000);
        EXPECT_NEAR(hs[0], std::log(1000.0), 1e-5);
        EXPECT_NEAR(hs[1], 0.0, 1e-6);
        EXPECT_NEAR(hs[2], ref[2], 1e-5);
    }
}

TEST_F(Softmax, RowChunksUnderLoweredBufferRange) {
    for (const auto& dev0 : devices()) {
        SCOPED_TRACE(dev0->caps().name);
        auto dev = Device::open_index(dev0->index(), DeviceOptions{.max_buffer_range = 1 << 20});
        Stream s(*dev);
        // 2 MiB over a 1 MiB range: rows are processed in chunks (the causal query index must
        // follow the global row across chunks).
        const Shape shape{2, 9, 32768};
        const auto xs = random_floats(shape_numel(shape), 4, -4.0f, 4.0f);
        Tensor x = Tensor::from_floats(*dev, DType::f32, shape, xs);
        Tensor y = Tensor::empty(*dev, DType::f32, shape);
        ops::softmax(s, x, y, {.causal = true, .causal_offset = 32768 - 9});
        s.finish();
        EXPECT_GE(s.dispatch_count(), 2u);
        EXPECT_NMSE_LE(reference::softmax(xs, 32768, 1.0f, {.causal = true, .q_dim = 9, .offset = 32768 - 9}),
                       y.to_floats(), 1e-6);
        // Rows larger than the range (1.2 MiB each) are walked in windows of segments.
        check_long_rows(*dev, s, 3, 300001, 5, 30.0f, 270000);
    }
}

TEST_F(Softmax, MillionColumnRows) {
    // Far beyond one workgroup, and beyond the loop budget of one llvmpipe invocation at the
    // CPU's preferred workgroup size (the op widens the workgroup there).
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        check_long_rows(*dev, s, 2, int64_t{1} << 20, 12, 20.0f, 1000000);
    }
}

TEST_F(Softmax, BadInputIsAnError) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        Tensor x = Tensor::empty(*dev, DType::f32, {4, 8});
        Tensor y = Tensor::empty(*dev, DType::f32, {4, 8});
        Tensor wrong = Tensor::empty(*dev, DType::f32, {4, 9});
        Tensor u = Tensor::empty(*dev, DType::u32, {4, 8});
        Tensor h3 = Tensor::empty(*dev, DType::f32, {3});
        EXPECT_VKML_ERROR(ops::softmax(s, x, wrong), ErrorKind::InvalidArgument, "same shape");
        EXPECT_VKML_ERROR(ops::softmax(s, u, y), ErrorKind::InvalidArgument, "x must be f32");
        EXPECT_VKML_ERROR(ops::log_softmax(s, x, u), ErrorKind::InvalidArgument, "y must be f32");
        EXPECT_VKML_ERROR(ops::softmax(s, x, Tensor()), ErrorKind::InvalidArgument, "empty tensor");
        EXPECT_VKML_ERROR(ops::softmax(s, x, y, {.causal = true, .causal_offset = -1}),
                          ErrorKind::InvalidArgument, "causal_offset -1");
        EXPECT_VKML_ERROR(ops::entropy(s, x, h3), ErrorKind::InvalidArgument, "one value per row");
        // The stream is still usable afterwards.
        ops::softmax(s, x, y);
        s.finish();
    }
}

}  // namespace
}  // namespace vkml::test
