// Missing features (issue 7): a device without fp16, subgroup operations, int8 or integer dot
// products either falls back or says so clearly. Capabilities are masked when the device is
// opened (DeviceOptions::disable / $VKML_DISABLE), which also leaves the Vulkan feature disabled,
// so validation catches a kernel that still uses it. A small representative set of ops keeps the
// pipeline count (compile time on lavapipe) low.
#include <cstdlib>

#include "random_models.hpp"
#include "vkml/models/llama.hpp"
#include "vkml/ops/elementwise.hpp"
#include "vkml/ops/embed.hpp"
#include "vkml/ops/matmul.hpp"
#include "vkml/ops/norm.hpp"
#include "vkml/ops/quant.hpp"
#include "vkml/ops/select.hpp"
#include "vkml/ops/softmax.hpp"
#include "vkml/reference/matmul.hpp"
#include "vkml/reference/norm.hpp"
#include "vkml/reference/quant.hpp"
#include "vkml/reference/select.hpp"
#include "vkml/reference/softmax.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Features : public VkmlTest {};

std::shared_ptr<Device> open_without(const std::string& disable) {
    return Device::open_index(devices()[0]->index(), DeviceOptions{.disable = disable});
}

TEST_F(Features, MaskClearsCapabilities) {
    const Capabilities& real = devices()[0]->caps();
    auto d = open_without("fp16, subgroup,int8,int_dot");
    const Capabilities& c = d->caps();
    EXPECT_FALSE(c.fp16_storage || c.fp16_arithmetic);
    EXPECT_FALSE(c.subgroup_basic || c.subgroup_arithmetic || c.subgroup_shuffle || c.subgroup_ballot);
    EXPECT_FALSE(c.int8_storage || c.int8_arithmetic);
    EXPECT_FALSE(c.integer_dot_product || c.integer_dot_product_accelerated);
    // Everything else is the device's own.
    EXPECT_EQ(c.name, real.name);
    EXPECT_EQ(c.subgroup_size, real.subgroup_size);
    EXPECT_EQ(c.max_storage_buffer_range, real.max_storage_buffer_range);
    EXPECT_EQ(c.int16_arithmetic, real.int16_arithmetic);
    // The device list still reports the hardware.
    EXPECT_EQ(list_devices()[d->index()].fp16_storage, real.fp16_storage);
}

TEST_F(Features, UnknownNamesAreRejected) {
    EXPECT_VKML_ERROR(open_without("fp17"), ErrorKind::InvalidArgument, "fp17");
    ::setenv("VKML_DISABLE", "subgroups", 1);
    EXPECT_VKML_ERROR(open_without(""), ErrorKind::InvalidArgument, "subgroups");
    ::unsetenv("VKML_DISABLE");
}

TEST_F(Features, EnvironmentMasksToo) {
    ::setenv("VKML_DISABLE", "fp16", 1);
    auto d = open_without("int_dot");
    ::unsetenv("VKML_DISABLE");
    EXPECT_FALSE(d->caps().fp16_storage);
    EXPECT_FALSE(d->caps().integer_dot_product);
}

TEST_F(Features, WithoutFp16TheF16OpsSaySoAndF32OpsRun) {
    auto d = open_without("fp16");
    Device& dev = *d;
    Stream s(dev);
    const auto xs = random_floats(33 * 64, 1);
    Tensor x = Tensor::from_floats(dev, DType::f32, {33, 64}, xs);
    // f16 tensors can still be made and read on the host side ...
    Tensor h = Tensor::from_floats(dev, DType::f16, {33, 64}, xs);
    EXPECT_NMSE_LE(reference::round_to_half(xs), h.to_floats(), 0.0);
    // ... but every op that would read or write them on the device throws Unsupported naming
    // the missing feature.
    Tensor y = Tensor::empty(dev, DType::f32, {33, 33});
    EXPECT_VKML_ERROR(ops::cast(s, x, h), ErrorKind::Unsupported, "storageBuffer16BitAccess");
    EXPECT_VKML_ERROR(ops::cast(s, h, x), ErrorKind::Unsupported, "storageBuffer16BitAccess");
    EXPECT_VKML_ERROR(ops::matmul(s, h, x, y), ErrorKind::Unsupported, "storageBuffer16BitAccess");
    Tensor ids = Tensor::from_host(dev, DType::u32, {2}, std::vector<uint32_t>{1, 5}.data(), 8);
    Tensor e = Tensor::empty(dev, DType::f32, {2, 64});
    EXPECT_VKML_ERROR(ops::embed(s, h, ids, e), ErrorKind::Unsupported, "16-bit storage");
    // The f32 paths need no 16-bit feature (validation would flag a shader declaring one).
    const auto ws = random_floats(33 * 64, 2);
    Tensor w = Tensor::from_floats(dev, DType::f32, {33, 64}, ws);
    ops::matmul(s, w, x, y);
    s.finish();
    EXPECT_NMSE_LE(reference::matmul(ws, xs, 33, 33, 64), y.to_floats(), 5e-4);
}

// A whole model on a device without fp16 either runs (f32 fallbacks) or stops at once with
// Unsupported naming the missing feature; never a crash or wrong output.
TEST_F(Features, WithoutFp16ALlamaRunsOrSaysSo) {
    auto d = open_without("fp16");
    const auto w = random_llama(64, 32, 1, 4, 2, 64, false, 77);
    try {
        models::Llama model(*d, w, {.max_context = 16});
        auto session = model.new_session();
        Stream s(*d);
        model.forward(s, session, {1, 2, 3});
        s.finish();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Unsupported) << e.what();
        EXPECT_NE(std::string(e.what()).find("storageBuffer16BitAccess"), std::string::npos) << e.what();
    }
}

// With subgroup operations masked, each op with a subgroup path takes its shared-memory
// fallback and still matches the reference.
TEST_F(Features, WithoutSubgroupsTheFallbacksMatch) {
    auto d = open_without("subgroup");
    Device& dev = *d;
    Stream s(dev);
    uint32_t seed = 10;
    for (int64_t cols : {7, 1000}) {
        SCOPED_TRACE("cols=" + std::to_string(cols));
        const int64_t rows = 5;
        const auto xs = random_floats(static_cast<size_t>(rows * cols), seed++, -4.0f, 4.0f);
        const auto gs = random_floats(static_cast<size_t>(cols), seed++);
        Tensor x = Tensor::from_floats(dev, DType::f32, {rows, cols}, xs);
        Tensor g = Tensor::from_floats(dev, DType::f32, {cols}, gs);
        Tensor sm = Tensor::empty(dev, DType::f32, {rows, cols});
        Tensor nm = Tensor::empty(dev, DType::f32, {rows, cols});
        Tensor am = Tensor::empty(dev, DType::u32, {rows});
        ops::softmax(s, x, sm);
        ops::rms_norm(s, x, g, nm, 1e-5f);
        ops::argmax(s, x, am);
        s.finish();
        EXPECT_NMSE_LE(reference::softmax(xs, cols), sm.to_floats(), 1e-6);
        EXPECT_NMSE_LE(reference::rms_norm(xs, cols, gs, 1e-5f), nm.to_floats(), 1e-6);
        EXPECT_EQ(reference::argmax(xs, cols), am.to_vector<uint32_t>());
    }
    // Matrix-vector products, f32 and q8_0 (the decode path), odd m.
    const int64_t m = 33, k = 96;
    for (int64_t n : {1, 3}) {
        SCOPED_TRACE("n=" + std::to_string(n));
        const auto ws = random_floats(static_cast<size_t>(m * k), seed++);
        const auto xs = random_floats(static_cast<size_t>(n * k), seed++);
        Tensor w = Tensor::from_floats(dev, DType::f32, {m, k}, ws);
        Tensor wq = ops::quantize_on_host(dev, DType::q8_0, {m, k}, ws.data());
        Tensor x = Tensor::from_floats(dev, DType::f32, {n, k}, xs);
        Tensor y = Tensor::empty(dev, DType::f32, {n, m});
        Tensor yq = Tensor::empty(dev, DType::f32, {n, m});
        ops::matmul(s, w, x, y, {.kernel = ops::MatmulKernel::Gemv});
        ops::matmul_quantized(s, wq, x, yq, {.kernel = ops::QuantKernel::GemvSubgroup});
        s.finish();
        EXPECT_NMSE_LE(reference::matmul(ws, xs, m, n, k), y.to_floats(), 5e-4);
        EXPECT_NMSE_LE(reference::matmul_quantized(DType::q8_0, wq.to_vector<uint8_t>(), xs, m, n, k),
                       yq.to_floats(), 5e-4);
    }
}

// Without the integer dot product (or 8-bit storage) the quantized product asked to use it
// takes the float path and stays correct.
TEST_F(Features, WithoutIntegerDotProductQuantizedProductsFallBack) {
    auto d = open_without("int_dot,int8");
    Device& dev = *d;
    Stream s(dev);
    const int64_t m = 7, n = 1, k = 64;
    const auto ws = random_floats(static_cast<size_t>(m * k), 30);
    const auto xs = random_floats(static_cast<size_t>(n * k), 31);
    Tensor wq = ops::quantize_on_host(dev, DType::q8_0, {m, k}, ws.data());
    Tensor x = Tensor::from_floats(dev, DType::f32, {n, k}, xs);
    Tensor y = Tensor::empty(dev, DType::f32, {n, m});
    ops::matmul_quantized(s, wq, x, y, {.kernel = ops::QuantKernel::Gemv, .int_dot = ops::IntDot::On});
    s.finish();
    EXPECT_NMSE_LE(reference::matmul_quantized(DType::q8_0, wq.to_vector<uint8_t>(), xs, m, n, k),
                   y.to_floats(), 5e-4);
}

}  // namespace
}  // namespace vkml::test
