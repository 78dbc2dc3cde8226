// Elementwise ops and casts against ops/reference, on round and odd sizes.
#include "vkml/ops/elementwise.hpp"
#include "vkml/reference/elementwise.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Elementwise : public VkmlTest {};

const std::vector<Shape> kShapes = {{1}, {7}, {33, 1}, {4097}, {3, 4096}, {257, 129}};

TEST_F(Elementwise, UnaryOpsMatchReference) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        for (const Shape& shape : kShapes) {
            SCOPED_TRACE(shape_string(shape));
            const auto xs = random_floats(shape_numel(shape), 11, -6.0f, 6.0f);
            Tensor x = Tensor::from_floats(*dev, DType::f32, shape, xs);
            Tensor y1 = Tensor::empty(*dev, DType::f32, shape), y2 = Tensor::empty(*dev, DType::f32, shape),
                   y3 = Tensor::empty(*dev, DType::f32, shape), y4 = Tensor::empty(*dev, DType::f32, shape);
            ops::silu(s, x, y1);
            ops::gelu(s, x, y2);
            ops::selu(s, x, y3);
            ops::scale(s, x, y4, -0.75f, 0.5f);
            s.finish();
            EXPECT_NMSE_LE(reference::silu(xs), y1.to_floats(), 1e-7);
            EXPECT_NMSE_LE(reference::gelu(xs), y2.to_floats(), 1e-7);
            EXPECT_NMSE_LE(reference::selu(xs), y3.to_floats(), 1e-7);
            EXPECT_NMSE_LE(reference::scale(xs, -0.75f, 0.5f), y4.to_floats(), 1e-7);
        }
    }
}

TEST_F(Elementwise, BinaryOpsWithAndWithoutBroadcast) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const Shape shape{37, 129};
        const auto as = random_floats(shape_numel(shape), 1), bs = random_floats(shape_numel(shape), 2);
        const auto rows = random_floats(129, 3);
        Tensor a = Tensor::from_floats(*dev, DType::f32, shape, as);
        Tensor b = Tensor::from_floats(*dev, DType::f32, shape, bs);
        Tensor r = Tensor::from_floats(*dev, DType::f32, {129}, rows);
        Tensor y1 = Tensor::empty(*dev, DType::f32, shape), y2 = Tensor::empty(*dev, DType::f32, shape),
               y3 = Tensor::empty(*dev, DType::f32, shape);
        ops::add(s, a, b, y1);
        ops::mul(s, a, b, y2);
        ops::add(s, a, r, y3);
        ops::mul(s, y3, r, y3);  // in place, after a dependent op: needs a barrier
        s.finish();
        EXPECT_NMSE_LE(reference::add(as, bs), y1.to_floats(), 1e-7);
        EXPECT_NMSE_LE(reference::mul(as, bs), y2.to_floats(), 1e-7);
        EXPECT_NMSE_LE(reference::mul(reference::add(as, rows), rows), y3.to_floats(), 1e-7);
    }
}

TEST_F(Elementwise, CastRoundTripsThroughHalf) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        if (!dev->caps().fp16_storage) {
            Stream s(*dev);
            Tensor x = Tensor::empty(*dev, DType::f32, {8}), h = Tensor::empty(*dev, DType::f16, {8});
            EXPECT_VKML_ERROR(ops::cast(s, x, h), ErrorKind::Unsupported, "16Bit");
            continue;
        }
        Stream s(*dev);
        for (int64_t n : {1, 7, 4097}) {
            auto xs = random_floats(n, 5, -100.0f, 100.0f);
            Tensor x = Tensor::from_floats(*dev, DType::f32, {n}, xs);
            Tensor h = Tensor::empty(*dev, DType::f16, {n});
            Tensor back = Tensor::empty(*dev, DType::f32, {n});
            ops::cast(s, x, h);
            ops::cast(s, h, back);
            s.finish();
            // The GPU's rounding to half must equal the host's (round to nearest even).
            const auto hs = h.to_vector<uint16_t>();
            std::vector<float> expect(n);
            for (int64_t i = 0; i < n; ++i) {
                EXPECT_EQ(hs[i], float_to_half(xs[i])) << "element " << i << " = " << xs[i];
                expect[i] = half_to_float(float_to_half(xs[i]));
            }
            EXPECT_EQ(back.to_floats(), expect);
        }
    }
}

TEST_F(Elementwise, BadShapesAndTypesAreClearErrors) {
    for (const auto& dev : devices()) {
        Stream s(*dev);
        Tensor a = Tensor::empty(*dev, DType::f32, {4, 8});
        Tensor b = Tensor::empty(*dev, DType::f32, {4, 7});
        Tensor h = Tensor::empty(*dev, DType::f16, {4, 8});
        EXPECT_VKML_ERROR(ops::add(s, a, b, a), ErrorKind::InvalidArgument, "[4, 7]");
        EXPECT_VKML_ERROR(ops::silu(s, a, b), ErrorKind::InvalidArgument, "same shape");
        EXPECT_VKML_ERROR(ops::silu(s, h, h), ErrorKind::InvalidArgument, "must be f32");
        EXPECT_VKML_ERROR(ops::add(s, a, Tensor(), a), ErrorKind::InvalidArgument, "empty");
        // The stream is still usable afterwards.
        ops::scale(s, a, a, 0.0f, 2.0f);
        s.finish();
        for (float v : a.to_floats()) ASSERT_EQ(v, 2.0f);
    }
}

}  // namespace
}  // namespace vkml::test
