// RoPE against ops/reference: both pair conventions, partial rotary dims, explicit and
// consecutive positions, large positions, in place, and bad arguments.
#include <numeric>

#include "vkml/ops/attention.hpp"
#include "vkml/reference/attention.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Rope : public VkmlTest {};

struct Case {
    int64_t tokens, heads, head_dim, rot_dims;
    ops::RopeMode mode;
};

const std::vector<Case> kCases = {
    {1, 1, 64, 0, ops::RopeMode::Adjacent},   {7, 3, 64, 0, ops::RopeMode::HalfSplit},
    {33, 2, 48, 0, ops::RopeMode::Adjacent},  {33, 2, 48, 0, ops::RopeMode::HalfSplit},
    {5, 4, 64, 32, ops::RopeMode::Adjacent},  {5, 4, 64, 32, ops::RopeMode::HalfSplit},
    {9, 1, 128, 128, ops::RopeMode::HalfSplit}, {2, 6, 40, 24, ops::RopeMode::Adjacent},
};

TEST_F(Rope, MatchesReferenceWithPositionTensor) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        for (const Case& c : kCases) {
            SCOPED_TRACE(testing::Message() << c.tokens << "x" << c.heads << "x" << c.head_dim << " rot "
                                            << c.rot_dims << " mode " << static_cast<int>(c.mode));
            const Shape shape{c.tokens, c.heads, c.head_dim};
            const auto xs = random_floats(shape_numel(shape), 11, -2.0f, 2.0f);
            std::vector<uint32_t> pos(static_cast<size_t>(c.tokens));
            std::mt19937 rng(5);
            for (auto& p : pos) p = rng() % 5000;  // large angles: range reduction matters
            const ops::RopeOptions o{.mode = c.mode, .theta = 10000.0f, .rot_dims = c.rot_dims};
            Tensor x = Tensor::from_floats(*dev, DType::f32, shape, xs);
            Tensor y = Tensor::empty(*dev, DType::f32, shape);
            Tensor pt = Tensor::from_host(*dev, DType::u32, {c.tokens}, pos.data(), pos.size() * 4);
            ops::rope(s, x, y, pt, o);
            s.finish();
            EXPECT_NMSE_LE(reference::rope(xs, c.heads, c.head_dim, pos, o), y.to_floats(), 1e-5);
        }
    }
}

TEST_F(Rope, ConsecutivePositionsInPlaceAndOptions) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        for (auto mode : {ops::RopeMode::Adjacent, ops::RopeMode::HalfSplit}) {
            const Shape shape{13, 4, 64};
            const auto xs = random_floats(shape_numel(shape), 3);
            std::vector<uint32_t> pos(13);
            std::iota(pos.begin(), pos.end(), 100u);
            const ops::RopeOptions o{.mode = mode, .theta = 500000.0f, .freq_scale = 0.25f};
            Tensor x = Tensor::from_floats(*dev, DType::f32, shape, xs);
            ops::rope(s, x, x, 100, o);  // in place
            s.finish();
            EXPECT_NMSE_LE(reference::rope(xs, 4, 64, pos, o), x.to_floats(), 1e-5);
        }
    }
}

// Position 0 is the identity; the two conventions agree after permuting each head's dims.
TEST_F(Rope, ConventionsRelateByPermutation) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const int64_t d = 16;
        const auto xs = random_floats(3 * d, 9);
        // Adjacent layout (x0, y0, x1, y1, ...) -> half-split layout (x0, x1, ..., y0, y1, ...).
        std::vector<float> hs(xs.size());
        for (int64_t t = 0; t < 3; ++t)
            for (int64_t i = 0; i < d / 2; ++i) {
                hs[static_cast<size_t>(t * d + i)] = xs[static_cast<size_t>(t * d + 2 * i)];
                hs[static_cast<size_t>(t * d + i + d / 2)] = xs[static_cast<size_t>(t * d + 2 * i + 1)];
            }
        Tensor a = Tensor::from_floats(*dev, DType::f32, {3, 1, d}, xs);
        Tensor b = Tensor::from_floats(*dev, DType::f32, {3, 1, d}, hs);
        const std::vector<float> x0(xs.begin(), xs.begin() + d);
        Tensor z = Tensor::from_floats(*dev, DType::f32, {1, 1, d}, x0);  // token 0 at position 0
        ops::rope(s, a, a, 7, {.mode = ops::RopeMode::Adjacent});
        ops::rope(s, b, b, 7, {.mode = ops::RopeMode::HalfSplit});
        ops::rope(s, z, z, 0, {});
        s.finish();
        const auto av = a.to_floats(), bv = b.to_floats();
        std::vector<float> back(bv.size());
        for (int64_t t = 0; t < 3; ++t)
            for (int64_t i = 0; i < d / 2; ++i) {
                back[static_cast<size_t>(t * d + 2 * i)] = bv[static_cast<size_t>(t * d + i)];
                back[static_cast<size_t>(t * d + 2 * i + 1)] = bv[static_cast<size_t>(t * d + i + d / 2)];
            }
        EXPECT_NMSE_LE(av, back, 1e-10);
        EXPECT_NMSE_LE(x0, z.to_floats(), 1e-12);
    }
}

TEST_F(Rope, RejectsBadArguments) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        Tensor x = Tensor::empty(*dev, DType::f32, {4, 2, 8});
        Tensor odd = Tensor::empty(*dev, DType::f32, {4, 2, 7});
        Tensor flat = Tensor::empty(*dev, DType::f32, {8, 8});
        Tensor h = Tensor::empty(*dev, DType::f16, {4, 2, 8});
        Tensor y3 = Tensor::empty(*dev, DType::f32, {4, 2, 4});
        Tensor pos3 = Tensor::empty(*dev, DType::u32, {3});
        Tensor posf = Tensor::empty(*dev, DType::f32, {4});
        const auto bad = ErrorKind::InvalidArgument;
        EXPECT_VKML_ERROR(ops::rope(s, odd, odd, 0), bad, "even");
        EXPECT_VKML_ERROR(ops::rope(s, flat, flat, 0), bad, "[tokens, heads, head_dim]");
        EXPECT_VKML_ERROR(ops::rope(s, h, h, 0), bad, "f32");
        EXPECT_VKML_ERROR(ops::rope(s, x, y3, 0), bad, "same shape");
        EXPECT_VKML_ERROR(ops::rope(s, x, x, pos3), bad, "one entry per token");
        EXPECT_VKML_ERROR(ops::rope(s, x, x, posf), bad, "positions");
        EXPECT_VKML_ERROR(ops::rope(s, x, x, -1), bad, "negative");
        EXPECT_VKML_ERROR(ops::rope(s, x, x, 0, {.rot_dims = 3}), bad, "rot_dims");
        EXPECT_VKML_ERROR(ops::rope(s, x, x, 0, {.rot_dims = 10}), bad, "rot_dims");
        EXPECT_VKML_ERROR(ops::rope(s, x, x, 0, {.theta = 0.5f}), bad, "theta");
    }
}

}  // namespace
}  // namespace vkml::test
