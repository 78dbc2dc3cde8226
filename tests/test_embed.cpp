// Embedding lookup against a host gather, with f32 and f16 tables and a split table.
#include "vkml/ops/embed.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Embed : public VkmlTest {};

std::vector<float> gather(const std::vector<float>& table, int64_t dim, const std::vector<uint32_t>& ids) {
    std::vector<float> out;
    for (uint32_t id : ids) out.insert(out.end(), table.begin() + id * dim, table.begin() + (id + 1) * dim);
    return out;
}

TEST_F(Embed, GathersRowsOfF32AndF16Tables) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        for (DType dt : {DType::f32, DType::f16}) {
            const int64_t vocab = 1001, dim = 67;
            auto tv = random_floats(vocab * dim, 5);
            if (dt == DType::f16)
                for (float& v : tv) v = half_to_float(float_to_half(v));
            Tensor table = Tensor::from_floats(*dev, dt, {vocab, dim}, tv);
            const std::vector<uint32_t> ids = {0, 1000, 7, 7, 512, 999, 3};
            Tensor idt = Tensor::from_host(*dev, DType::u32, {7}, ids.data(), ids.size() * 4);
            Tensor y = Tensor::empty(*dev, DType::f32, {7, dim});
            Stream s(*dev);
            ops::embed(s, table, idt, y);
            s.finish();
            EXPECT_EQ(y.to_floats(), gather(tv, dim, ids));
        }
    }
}

TEST_F(Embed, TablesOverTheBufferRangeAreBoundInRanges) {
    auto dev = Device::open_index(devices()[0]->index(), DeviceOptions{.max_buffer_range = 1 << 16});
    const int64_t vocab = 700, dim = 64;  // 179 KB of f32: three ranges of 64 KiB
    const auto tv = random_floats(vocab * dim, 6);
    Tensor table = Tensor::from_floats(*dev, DType::f32, {vocab, dim}, tv);
    const std::vector<uint32_t> ids = {699, 0, 255, 256, 511, 512, 300};
    Tensor idt = Tensor::from_host(*dev, DType::u32, {7}, ids.data(), ids.size() * 4);
    Tensor y = Tensor::empty(*dev, DType::f32, {7, dim});
    Stream s(*dev);
    ops::embed(s, table, idt, y);
    s.finish();
    EXPECT_GE(s.dispatch_count(), 3u);
    EXPECT_EQ(y.to_floats(), gather(tv, dim, ids));
}

TEST_F(Embed, BadShapesAreErrors) {
    const auto& dev = devices()[0];
    Stream s(*dev);
    Tensor table = Tensor::empty(*dev, DType::f32, {10, 8});
    Tensor ids = Tensor::empty(*dev, DType::u32, {3});
    EXPECT_VKML_ERROR(ops::embed(s, table, ids, Tensor::empty(*dev, DType::f32, {3, 9})),
                      ErrorKind::InvalidArgument, "must be [3, 8]");
    EXPECT_VKML_ERROR(ops::embed(s, table, table, Tensor::empty(*dev, DType::f32, {3, 8})),
                      ErrorKind::InvalidArgument, "ids must be u32");
}

}  // namespace
}  // namespace vkml::test
