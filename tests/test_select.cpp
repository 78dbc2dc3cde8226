// Argmax and top-k against ops/reference, exact: random rows, rows full of ties, sorted and
// adversarial rows (every winner in one invocation's slice), NaN/inf/-0, both reduction
// variants, row chunking under a lowered buffer range, bad input.
#include <cmath>
#include <cstdlib>
#include <limits>

#include "vkml/ops/select.hpp"
#include "vkml/reference/select.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Select : public VkmlTest {};

// Few distinct values: most elements tie with others, so the index order decides.
std::vector<float> tied_floats(size_t n, uint32_t seed) {
    auto v = random_floats(n, seed, 0.0f, 6.0f);
    for (float& f : v) f = std::floor(f);
    return v;
}

// Values compared bitwise-equal or both NaN.
void expect_same_values(const std::vector<float>& ref, const std::vector<float>& got) {
    ASSERT_EQ(ref.size(), got.size());
    for (size_t i = 0; i < ref.size(); ++i) {
        if (std::isnan(ref[i])) {
            ASSERT_TRUE(std::isnan(got[i])) << "at " << i;
        } else {
            ASSERT_EQ(ref[i], got[i]) << "at " << i;
        }
    }
}

void check_top_k(Stream& s, Device& dev, const Shape& shape, const std::vector<float>& xs, int k) {
    SCOPED_TRACE(shape_string(shape) + " k=" + std::to_string(k));
    const int64_t cols = shape.back(), rows = shape_numel(shape) / cols;
    Tensor x = Tensor::from_floats(dev, DType::f32, shape, xs);
    Tensor v = Tensor::empty(dev, DType::f32, {rows, k});
    Tensor i = Tensor::empty(dev, DType::u32, {rows, k});
    Tensor a = Tensor::empty(dev, DType::u32, {rows});
    ops::top_k(s, x, k, v, i);
    ops::argmax(s, x, a);
    s.finish();
    const auto ref = reference::top_k(xs, cols, k);
    EXPECT_EQ(ref.indices, i.to_vector<uint32_t>());
    expect_same_values(ref.values, v.to_floats());
    EXPECT_EQ(reference::argmax(xs, cols), a.to_vector<uint32_t>());
}

TEST_F(Select, MatchesReferenceExactly) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        for (const char* variant : {"", "shared"}) {
            SCOPED_TRACE(std::string("VKML_REDUCE=") + variant);
            if (*variant) setenv("VKML_REDUCE", variant, 1);
            else unsetenv("VKML_REDUCE");
            Stream s(*dev);
            const std::vector<Shape> shapes = {{1}, {3, 7}, {4, 33}, {3, 4097}, {2, 32000}, {1, 40000}, {2, 3, 33}};
            for (const Shape& shape : shapes) {
                const int64_t cols = shape.back();
                const auto xs = random_floats(shape_numel(shape), 31, -10.0f, 10.0f);
                const auto ts = tied_floats(shape_numel(shape), 32);
                for (int k : {1, 5, 40, 1000}) {
                    if (k > cols) continue;
                    check_top_k(s, *dev, shape, xs, k);
                    check_top_k(s, *dev, shape, ts, k);
                }
                check_top_k(s, *dev, shape, ts, static_cast<int>(std::min<int64_t>(cols, 600)));
            }
        }
        unsetenv("VKML_REDUCE");
    }
}

TEST_F(Select, WholeRowSortAndAdversarialRows) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        // k = cols: a full sort by the total order, with ties.
        check_top_k(s, *dev, {3, 1500}, tied_floats(4500, 41), 1500);
        // Ascending and descending rows.
        std::vector<float> up(2 * 3000);
        for (int j = 0; j < 3000; ++j) {
            up[j] = static_cast<float>(j);
            up[3000 + j] = static_cast<float>(-j);
        }
        check_top_k(s, *dev, {2, 3000}, up, 700);
        // Every winner in one invocation's strided slice (multiples of 256 and of 64), so that
        // invocation refills its list again and again.
        std::vector<float> one(3 * 25600);
        auto noise = random_floats(one.size(), 42, -1.0f, 0.0f);
        for (size_t j = 0; j < one.size(); ++j)
            one[j] = (j % 25600) % 64 == 0 ? 10.0f + static_cast<float>((j % 25600) % 7) : noise[j];
        check_top_k(s, *dev, {3, 25600}, one, 300);
    }
}

TEST_F(Select, NanInfAndSignedZero) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        // NaN ranks above +inf (first NaN wins argmax); -0 ties with +0 (lower index first).
        const std::vector<float> xs = {1.0f, -nan, 3.0f, nan, inf, -inf, -0.0f, 0.0f,
                                       -0.0f, 0.0f, 2.0f, -inf, -1.0f, inf, 0.0f, -0.0f};
        check_top_k(s, *dev, {2, 8}, xs, 8);
        const auto ref = reference::top_k(xs, 8, 8);
        const std::vector<uint32_t> expect = {1, 3, 4, 2, 0, 6, 7, 5, 5, 2, 0, 1, 6, 7, 4, 3};
        EXPECT_EQ(ref.indices, expect);

        // The same order on the split path of argmax (few long rows): a late NaN beats an
        // early +inf; among equal maxima the first wins.
        std::vector<float> lr(2 * 40000, 1.0f);
        lr[100] = inf;
        lr[39000] = nan;
        lr[39500] = nan;
        lr[40000 + 20000] = 5.0f;
        lr[40000 + 30000] = 5.0f;
        check_top_k(s, *dev, {2, 40000}, lr, 3);
    }
}

TEST_F(Select, RowChunksUnderLoweredBufferRange) {
    for (const auto& dev0 : devices()) {
        SCOPED_TRACE(dev0->caps().name);
        auto dev = Device::open_index(dev0->index(), DeviceOptions{.max_buffer_range = 1 << 20});
        Stream s(*dev);
        const Shape shape{21, 30000};  // 2.4 MiB over a 1 MiB range
        check_top_k(s, *dev, shape, random_floats(shape_numel(shape), 51), 3);
    }
}

TEST_F(Select, MillionColumnRows) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        const int64_t cols = int64_t{1} << 20;
        check_top_k(s, *dev, {2, cols}, random_floats(2 * cols, 61), 64);
        // A full sort of a long row: under llvmpipe's loop limit (65535 iterations per shader
        // invocation) the ranks are split over several dispatches that resume each other.
        check_top_k(s, *dev, {2, 12000}, tied_floats(24000, 62), 12000);
    }
}

TEST_F(Select, RowsLongerThanOneBinding) {
    // 1.2 MiB rows over a 1 MiB range: argmax over windows of segments; top_k over windows
    // (candidates), then over the candidates. Ties everywhere (the lower column must win across
    // windows), a winner in the last window, k splitting over dispatches on llvmpipe.
    for (const auto& dev0 : devices()) {
        SCOPED_TRACE(dev0->caps().name);
        auto dev = Device::open_index(dev0->index(), DeviceOptions{.max_buffer_range = 1 << 20});
        Stream s(*dev);
        const int64_t cols = 300001;
        auto xs = tied_floats(3 * cols, 63);
        xs[static_cast<size_t>(2 * cols + cols - 5)] = 9.0f;  // row 2: the best is near the end
        check_top_k(s, *dev, {3, cols}, xs, 40);
        check_top_k(s, *dev, {1, cols}, random_floats(cols, 64), 1);
        // k beyond what a window can hold is refused, not wrong.
        Tensor x = Tensor::from_floats(*dev, DType::f32, {1, cols}, random_floats(cols, 65));
        Tensor v = Tensor::empty(*dev, DType::f32, {1, 200000}), i = Tensor::empty(*dev, DType::u32, {1, 200000});
        EXPECT_VKML_ERROR(ops::top_k(s, x, 200000, v, i), ErrorKind::Unsupported, "longer than one binding");
    }
}

TEST_F(Select, BadInputIsAnError) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        Tensor x = Tensor::empty(*dev, DType::f32, {4, 8});
        Tensor idx = Tensor::empty(*dev, DType::u32, {4});
        Tensor idx_f = Tensor::empty(*dev, DType::f32, {4});
        Tensor idx5 = Tensor::empty(*dev, DType::u32, {5});
        Tensor v = Tensor::empty(*dev, DType::f32, {4, 3});
        Tensor i = Tensor::empty(*dev, DType::u32, {4, 3});
        Tensor i2 = Tensor::empty(*dev, DType::u32, {4, 2});
        EXPECT_VKML_ERROR(ops::argmax(s, x, idx_f), ErrorKind::InvalidArgument, "idx must be u32");
        EXPECT_VKML_ERROR(ops::argmax(s, x, idx5), ErrorKind::InvalidArgument, "one index per row");
        EXPECT_VKML_ERROR(ops::argmax(s, idx, idx), ErrorKind::InvalidArgument, "x must be f32");
        EXPECT_VKML_ERROR(ops::top_k(s, x, 0, v, i), ErrorKind::InvalidArgument, "k = 0");
        EXPECT_VKML_ERROR(ops::top_k(s, x, 9, v, i), ErrorKind::InvalidArgument, "k = 9");
        EXPECT_VKML_ERROR(ops::top_k(s, x, 3, v, i2), ErrorKind::InvalidArgument, "indices");
        EXPECT_VKML_ERROR(ops::top_k(s, x, 3, i, i), ErrorKind::InvalidArgument, "values must be f32");
        ops::top_k(s, x, 3, v, i);
        s.finish();
    }
}

}  // namespace
}  // namespace vkml::test
