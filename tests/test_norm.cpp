// RMSNorm and LayerNorm against ops/reference: odd and long rows, with and without weight and
// bias, in place, both reduction variants, row chunking under a lowered buffer range.
#include <cstdlib>

#include "vkml/ops/norm.hpp"
#include "vkml/reference/norm.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Norm : public VkmlTest {};

const std::vector<Shape> kShapes = {{1}, {3, 1}, {5, 7}, {4, 33}, {3, 4097}, {2, 32000},
                                    {2, 3, 5, 33}, {65, 128}};

TEST_F(Norm, MatchesReferenceWithAndWithoutParams) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        for (const char* variant : {"", "shared"}) {
            SCOPED_TRACE(std::string("VKML_REDUCE=") + variant);
            if (*variant) setenv("VKML_REDUCE", variant, 1);
            else unsetenv("VKML_REDUCE");
            Stream s(*dev);
            for (const Shape& shape : kShapes) {
                SCOPED_TRACE(shape_string(shape));
                const int64_t cols = shape.back();
                // An offset mean (3) makes LayerNorm's cancellation visible if it were one-pass.
                const auto xs = random_floats(shape_numel(shape), 21, 1.0f, 5.0f);
                const auto ws = random_floats(cols, 22, 0.5f, 1.5f);
                const auto bs = random_floats(cols, 23);
                Tensor x = Tensor::from_floats(*dev, DType::f32, shape, xs);
                Tensor w = Tensor::from_floats(*dev, DType::f32, {cols}, ws);
                Tensor b = Tensor::from_floats(*dev, DType::f32, {1, cols}, bs);  // any [cols]-sized shape
                std::vector<Tensor> ys;
                for (int i = 0; i < 5; ++i) ys.push_back(Tensor::empty(*dev, DType::f32, shape));
                ops::rms_norm(s, x, w, ys[0], 1e-6f);
                ops::rms_norm(s, x, Tensor(), ys[1], 1e-5f);
                ops::layer_norm(s, x, w, b, ys[2], 1e-5f);
                ops::layer_norm(s, x, Tensor(), Tensor(), ys[3], 1e-5f);
                ops::layer_norm(s, x, w, Tensor(), ys[4], 1e-3f);
                s.finish();
                EXPECT_NMSE_LE(reference::rms_norm(xs, cols, ws, 1e-6f), ys[0].to_floats(), 1e-7);
                EXPECT_NMSE_LE(reference::rms_norm(xs, cols, {}, 1e-5f), ys[1].to_floats(), 1e-7);
                // A row of one element normalises to exactly 0 (then + bias) in LayerNorm.
                EXPECT_NMSE_LE(reference::layer_norm(xs, cols, ws, bs, 1e-5f), ys[2].to_floats(), 1e-7);
                if (cols > 1) {
                    EXPECT_NMSE_LE(reference::layer_norm(xs, cols, {}, {}, 1e-5f), ys[3].to_floats(), 1e-7);
                    EXPECT_NMSE_LE(reference::layer_norm(xs, cols, ws, {}, 1e-3f), ys[4].to_floats(), 1e-7);
                }
            }
        }
        unsetenv("VKML_REDUCE");
    }
}

TEST_F(Norm, InPlace) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const auto xs = random_floats(7 * 4097, 5, -3.0f, 3.0f);
        const auto ws = random_floats(4097, 6);
        Tensor x = Tensor::from_floats(*dev, DType::f32, {7, 4097}, xs);
        Tensor w = Tensor::from_floats(*dev, DType::f32, {4097}, ws);
        ops::rms_norm(s, x, w, x, 1e-6f);
        ops::layer_norm(s, x, w, w, x, 1e-5f);  // depends on the first: needs a barrier
        s.finish();
        const auto ref = reference::layer_norm(reference::rms_norm(xs, 4097, ws, 1e-6f), 4097, ws, ws, 1e-5f);
        EXPECT_NMSE_LE(ref, x.to_floats(), 1e-7);
    }
}

TEST_F(Norm, RowChunksUnderLoweredBufferRange) {
    for (const auto& dev0 : devices()) {
        SCOPED_TRACE(dev0->caps().name);
        auto dev = Device::open_index(dev0->index(), DeviceOptions{.max_buffer_range = 1 << 20});
        Stream s(*dev);
        const Shape shape{40, 16000};  // 2.4 MiB over a 1 MiB range
        const auto xs = random_floats(shape_numel(shape), 8);
        const auto ws = random_floats(16000, 9);
        Tensor x = Tensor::from_floats(*dev, DType::f32, shape, xs);
        Tensor w = Tensor::from_floats(*dev, DType::f32, {16000}, ws);
        Tensor y = Tensor::empty(*dev, DType::f32, shape);
        ops::rms_norm(s, x, w, y, 1e-6f);
        s.finish();
        EXPECT_GE(s.dispatch_count(), 3u);
        EXPECT_NMSE_LE(reference::rms_norm(xs, 16000, ws, 1e-6f), y.to_floats(), 1e-7);
    }
}

TEST_F(Norm, MillionColumnRow) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const int64_t cols = int64_t{1} << 20;
        const auto xs = random_floats(cols, 13, -2.0f, 4.0f);
        const auto ws = random_floats(cols, 14);
        Tensor x = Tensor::from_floats(*dev, DType::f32, {1, cols}, xs);
        Tensor w = Tensor::from_floats(*dev, DType::f32, {cols}, ws);
        Tensor y1 = Tensor::empty(*dev, DType::f32, {1, cols}), y2 = Tensor::empty(*dev, DType::f32, {1, cols});
        ops::rms_norm(s, x, w, y1, 1e-6f);
        ops::layer_norm(s, x, w, w, y2, 1e-5f);
        s.finish();
        EXPECT_NMSE_LE(reference::rms_norm(xs, cols, ws, 1e-6f), y1.to_floats(), 1e-7);
        EXPECT_NMSE_LE(reference::layer_norm(xs, cols, ws, ws, 1e-5f), y2.to_floats(), 1e-7);
    }
}

TEST_F(Norm, RowsLongerThanOneBinding) {
    // 1.2 MiB rows over a 1 MiB range: each row is normalized in windows of segments (partials,
    // then merge). Odd length, a large mean (the merge must not cancel), weight and bias
    // windows, a missing weight, in place.
    for (const auto& dev0 : devices()) {
        SCOPED_TRACE(dev0->caps().name);
        auto dev = Device::open_index(dev0->index(), DeviceOptions{.max_buffer_range = 1 << 20});
        Stream s(*dev);
        const int64_t rows = 3, cols = 300001;
        const auto xs = random_floats(rows * cols, 15, 90.0f, 110.0f);
        const auto ws = random_floats(cols, 16), bs = random_floats(cols, 17);
        Tensor x = Tensor::from_floats(*dev, DType::f32, {rows, cols}, xs);
        Tensor w = Tensor::from_floats(*dev, DType::f32, {cols}, ws);
        Tensor b = Tensor::from_floats(*dev, DType::f32, {cols}, bs);
        Tensor y1 = Tensor::empty(*dev, DType::f32, {rows, cols}), y2 = Tensor::empty(*dev, DType::f32, {rows, cols});
        ops::layer_norm(s, x, w, b, y2, 1e-5f);
        ops::rms_norm(s, x, Tensor(), y1, 1e-6f);
        ops::rms_norm(s, x, w, x, 1e-6f);
        s.finish();
        EXPECT_GE(s.dispatch_count(), 4u * rows);
        const std::vector<float> ones(static_cast<size_t>(cols), 1.0f);
        EXPECT_NMSE_LE(reference::layer_norm(xs, cols, ws, bs, 1e-5f), y2.to_floats(), 1e-7);
        EXPECT_NMSE_LE(reference::rms_norm(xs, cols, ones, 1e-6f), y1.to_floats(), 1e-7);
        EXPECT_NMSE_LE(reference::rms_norm(xs, cols, ws, 1e-6f), x.to_floats(), 1e-7);
    }
}

TEST_F(Norm, BadInputIsAnError) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        Tensor x = Tensor::empty(*dev, DType::f32, {4, 8});
        Tensor y = Tensor::empty(*dev, DType::f32, {4, 8});
        Tensor w7 = Tensor::empty(*dev, DType::f32, {7});
        Tensor w16 = Tensor::empty(*dev, DType::f16, {8});
        Tensor y9 = Tensor::empty(*dev, DType::f32, {4, 9});
        Tensor xu = Tensor::empty(*dev, DType::u32, {4, 8});
        EXPECT_VKML_ERROR(ops::rms_norm(s, x, w7, y, 1e-6f), ErrorKind::InvalidArgument, "one row of 8");
        EXPECT_VKML_ERROR(ops::rms_norm(s, x, w16, y, 1e-6f), ErrorKind::InvalidArgument, "weight must be f32");
        EXPECT_VKML_ERROR(ops::rms_norm(s, x, Tensor(), y9, 1e-6f), ErrorKind::InvalidArgument, "same shape");
        EXPECT_VKML_ERROR(ops::rms_norm(s, xu, Tensor(), y, 1e-6f), ErrorKind::InvalidArgument, "x must be f32");
        EXPECT_VKML_ERROR(ops::layer_norm(s, x, Tensor(), w7, y, 1e-5f), ErrorKind::InvalidArgument, "bias");
        EXPECT_VKML_ERROR(ops::layer_norm(s, x, Tensor(), Tensor(), y, -1.0f), ErrorKind::InvalidArgument, "eps");
        ops::rms_norm(s, x, Tensor(), y, 1e-6f);
        s.finish();
    }
}

}  // namespace
}  // namespace vkml::test
