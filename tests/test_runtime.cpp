// The runtime itself: device selection, memory pools, tensors, kernels, streams, errors.
#include <filesystem>
#include <thread>

#include "vkml/ops/elementwise.hpp"
#include "vkml/ops/quant.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Runtime : public VkmlTest {};

TEST_F(Runtime, ListsDevicesAndSelectsByIndexAndName) {
    const auto& devs = list_devices();
    ASSERT_FALSE(devs.empty());
    for (uint32_t i = 0; i < devs.size(); ++i) {
        EXPECT_EQ(select_device(std::to_string(i)), i);
        EXPECT_GE(devs[i].subgroup_size, 1u);
        EXPECT_GE(devs[i].max_storage_buffer_range, 1u << 20);
        EXPECT_GT(devs[i].max_allocation_size, 0u);
        EXPECT_FALSE(devs[i].heaps.empty());
    }
    // A part of the first device's name, in another case, selects a device with that name part.
    std::string part = devs[0].name.substr(0, 4);
    for (char& c : part) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const uint32_t by_name = select_device(part);
    std::string lower_name = devs[by_name].name, lower_part = part;
    for (char& c : lower_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (char& c : lower_part) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_NE(lower_name.find(lower_part), std::string::npos);
    EXPECT_VKML_ERROR(select_device("no-such-device-xyz"), ErrorKind::InvalidArgument, "no-such-device-xyz");
    EXPECT_VKML_ERROR(select_device("999"), ErrorKind::InvalidArgument, "out of range");
}

TEST_F(Runtime, PoolsSubAllocateAndFree) {
    for (const auto& dev : devices()) {
        Allocator& a = dev->allocator();
        a.trim();
        const PoolStats before = a.stats(Pool::Activations);
        {
            Buffer b1 = a.allocate(1000, Pool::Activations);
            Buffer b2 = a.allocate(3000, Pool::Activations);
            EXPECT_EQ(b1.vk_buffer(), b2.vk_buffer()) << "small buffers share one block";
            EXPECT_NE(b1.vk_offset(), b2.vk_offset());
            EXPECT_EQ(b1.vk_offset() % std::max<uint64_t>(dev->caps().min_storage_offset_alignment, 1), 0u);
            const PoolStats during = a.stats(Pool::Activations);
            EXPECT_EQ(during.live_buffers, before.live_buffers + 2);
            EXPECT_GE(during.used_bytes, before.used_bytes + 4000);
            Buffer moved = std::move(b1);
            EXPECT_FALSE(b1);
            EXPECT_TRUE(moved);
        }
        EXPECT_EQ(a.stats(Pool::Activations).live_buffers, before.live_buffers);
        EXPECT_EQ(a.stats(Pool::Activations).used_bytes, before.used_bytes);
        // Pools are separate.
        Buffer w = a.allocate(64, Pool::Weights);
        Buffer x = a.allocate(64, Pool::Activations);
        EXPECT_NE(w.vk_buffer(), x.vk_buffer());
    }
}

TEST_F(Runtime, TooLargeAllocationIsOutOfMemoryAndDeviceStaysUsable) {
    for (const auto& dev : devices()) {
        const uint64_t huge = dev->caps().max_allocation_size + (1ull << 20);
        EXPECT_VKML_ERROR(dev->allocator().allocate(huge, Pool::Weights), ErrorKind::OutOfMemory,
                          "maxMemoryAllocationSize");
        EXPECT_VKML_ERROR(Tensor::empty(*dev, DType::f32, {int64_t{1} << 40}), ErrorKind::OutOfMemory, "bytes");
        Stream s(*dev);
        Tensor t = Tensor::from_floats(*dev, DType::f32, {3}, {1, 2, 3});
        ops::scale(s, t, t, 2.0f);
        s.finish();
        EXPECT_EQ(t.to_floats(), (std::vector<float>{2, 4, 6}));
    }
}

TEST_F(Runtime, TensorsRoundTripAndCheckShapes) {
    for (const auto& dev : devices()) {
        const auto v = random_floats(6 * 5, 7);
        Tensor t = Tensor::from_floats(*dev, DType::f32, {6, 5}, v);
        EXPECT_EQ(t.to_floats(), v);
        EXPECT_EQ(t.rows(), 6);
        EXPECT_EQ(t.strides(), (std::vector<int64_t>{5, 1}));
        Tensor rows = t.row_slice(2, 3);
        EXPECT_EQ(rows.to_floats(), std::vector<float>(v.begin() + 10, v.begin() + 25));
        EXPECT_EQ(t.reshape({30}).numel(), 30);
        EXPECT_VKML_ERROR(t.reshape({7, 4}), ErrorKind::InvalidArgument, "cannot reshape");
        EXPECT_VKML_ERROR(t.row_slice(5, 2), ErrorKind::InvalidArgument, "outside");
        EXPECT_VKML_ERROR(Tensor::empty(*dev, DType::f32, {0}), ErrorKind::InvalidArgument, "non-positive");
        EXPECT_VKML_ERROR(Tensor::empty(*dev, DType::f32, {1, 1, 1, 1, 1}), ErrorKind::InvalidArgument, "rank");
        EXPECT_VKML_ERROR(Tensor::empty(*dev, DType::q8_0, {4, 33}), ErrorKind::InvalidArgument, "block size 32");
        EXPECT_VKML_ERROR(t.upload(v.data(), 8), ErrorKind::InvalidArgument, "holds 120");
        EXPECT_VKML_ERROR(Tensor::from_floats(*dev, DType::f32, {4}, v), ErrorKind::InvalidArgument, "30 values");
        EXPECT_EQ(dtype_bytes(DType::q4_0, 64), 36u);
        EXPECT_EQ(dtype_bytes(DType::q6_k, 512), 420u);
    }
}

TEST_F(Runtime, HalfConversionMatchesIeee) {
    EXPECT_EQ(float_to_half(1.0f), 0x3c00);
    EXPECT_EQ(float_to_half(-2.0f), 0xc000);
    EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
    EXPECT_EQ(float_to_half(65520.0f), 0x7c00);       // rounds to infinity
    EXPECT_EQ(float_to_half(5.9604645e-8f), 0x0001);  // smallest subnormal
    EXPECT_EQ(float_to_half(2.9802322e-8f), 0x0000);  // exactly half of it: ties to even
    EXPECT_EQ(float_to_half(1.0009765625f), 0x3c01);
    EXPECT_EQ(float_to_half(1.00048828125f), 0x3c00);  // halfway, ties to even
    for (uint32_t h = 0; h < 0x7c00; ++h) EXPECT_EQ(float_to_half(half_to_float(static_cast<uint16_t>(h))), h);
}

TEST_F(Runtime, KernelsAreReflectedAndChecked) {
    for (const auto& dev : devices()) {
        const Kernel& k = dev->kernel("binary", {64});
        EXPECT_EQ(k.interface().binding_count, 3u);
        EXPECT_EQ(k.interface().binding_writable, (std::vector<bool>{false, false, true}));
        EXPECT_EQ(k.interface().push_constant_bytes, 12u);
        EXPECT_EQ(&dev->kernel("binary", {64}), &k) << "pipelines are cached per spec constants";
        EXPECT_VKML_ERROR(dev->kernel("no_such_kernel"), ErrorKind::InvalidArgument, "no_such_kernel");

        Stream s(*dev);
        Tensor a = Tensor::empty(*dev, DType::f32, {64});
        struct Wrong { uint32_t x; };
        struct Right { uint32_t n, b_n, op; };
        EXPECT_VKML_ERROR(s.dispatch(k, {in(a), in(a)}, Right{64, 64, 0}, Groups{1, 1, 1}),
                          ErrorKind::InvalidArgument, "takes 3 buffers, 2 given");
        EXPECT_VKML_ERROR(s.dispatch(k, {in(a), in(a), out(a)}, Wrong{1}, Groups{1, 1, 1}),
                          ErrorKind::InvalidArgument, "12-byte push-constant block, 4 bytes given");
        EXPECT_VKML_ERROR(s.dispatch(k, {in(a), in(a), in(a)}, Right{64, 64, 0}, Groups{1, 1, 1}),
                          ErrorKind::Internal, "writable in the shader");
        EXPECT_VKML_ERROR(s.dispatch(k, {in(a), in(a), out(a)}, Right{64, 64, 0}, Groups{0, 1, 1}),
                          ErrorKind::InvalidArgument, "workgroup count");
        EXPECT_EQ(k.interface().binding_texel, (std::vector<bool>{false, false, false}));

        // A uniform texel buffer (the CPU-shaped GEMV reads W as 16-byte texels).
        const Kernel& t = dev->kernel("gemv_q4_0_cpu", {dev->caps().subgroup_size, 8, 0});
        EXPECT_EQ(t.interface().binding_texel, (std::vector<bool>{true, false, false}));
        EXPECT_EQ(t.interface().binding_writable, (std::vector<bool>{false, false, true}));
        const uint64_t align = dev->caps().min_texel_offset_alignment;
        EXPECT_GE(dev->caps().max_texel_buffer_elements, 65536u);  // the Vulkan minimum
        if (align > 4) {
            struct { uint32_t v[26]; } params{};  // the kernel's push constants
            const Binding misaligned{a.buffer().get(), a.offset() + align / 2, 64, Access::Read};
            const Binding bs[] = {misaligned, in(a), out(a)};
            EXPECT_VKML_ERROR(s.dispatch_raw(t, bs, 3, &params, sizeof(params), Groups{1, 1, 1}, nullptr),
                              ErrorKind::InvalidArgument, "minTexelBufferOffsetAlignment");
        }
    }
}

TEST_F(Runtime, TexelViewsLiveAsLongAsTheirRecording) {
    auto dev = Device::open_index(devices()[0]->index());
    Tensor w = Tensor::empty(*dev, DType::q4_0, {9, 512});
    Tensor x = Tensor::from_floats(*dev, DType::f32, {1, 512}, std::vector<float>(512, 1.0f));
    Tensor y = Tensor::empty(*dev, DType::f32, {1, 9});
    const ops::QuantMatmulOptions cpu{.kernel = ops::QuantKernel::GemvCpu, .int_dot = ops::IntDot::Off};
    {
        Stream s(*dev);
        ops::matmul_quantized(s, w, x, y, cpu);
        EXPECT_EQ(dev->live_objects().buffer_views, 1u) << dev->live_objects().to_string();
        s.finish();
        s.replay();  // the recording, and its view, can still be submitted again
        s.finish();
        EXPECT_EQ(dev->live_objects().buffer_views, 1u);
        ops::scale(s, x, x, 2.0f);  // a new recording: the old one's view goes
        EXPECT_EQ(dev->live_objects().buffer_views, 0u);
        s.finish();
        ops::matmul_quantized(s, w, x, y, cpu);
        EXPECT_EQ(dev->live_objects().buffer_views, 1u);
    }
    EXPECT_EQ(dev->live_objects().buffer_views, 0u) << "the stream took its last view with it";
}

TEST_F(Runtime, BarriersOnlyBetweenDependentDispatches) {
    for (const auto& dev : devices()) {
        Stream s(*dev);
        Tensor a = Tensor::from_floats(*dev, DType::f32, {256}, random_floats(256, 1));
        Tensor b = Tensor::empty(*dev, DType::f32, {256});
        Tensor c = Tensor::empty(*dev, DType::f32, {256});
        Tensor d = Tensor::empty(*dev, DType::f32, {256});
        ops::silu(s, a, b);  // independent of the next: reads a, writes c
        ops::gelu(s, a, c);
        EXPECT_EQ(s.barrier_count(), 0u);
        ops::add(s, b, c, d);  // reads b and c: one barrier
        EXPECT_EQ(s.barrier_count(), 1u);
        ops::scale(s, a, b, 3.0f);  // writes b, which add read: write-after-read needs a barrier
        EXPECT_EQ(s.barrier_count(), 2u);
        EXPECT_EQ(s.dispatch_count(), 4u);
        s.finish();
        auto av = a.to_floats();
        auto bv = b.to_floats();
        for (size_t i = 0; i < av.size(); ++i) EXPECT_FLOAT_EQ(bv[i], 3.0f * av[i]);
    }
}

TEST_F(Runtime, ReplayAndTimestamps) {
    for (const auto& dev : devices()) {
        if (dev->caps().timestamp_period_ns <= 0) continue;
        Stream s(*dev);
        s.set_timing(true);
        Tensor t = Tensor::from_floats(*dev, DType::f32, {1000}, std::vector<float>(1000, 1.0f));
        ops::scale(s, t, t, 2.0f);
        s.finish();
        ASSERT_EQ(s.timings().size(), 1u);
        EXPECT_EQ(s.timings()[0].label, "scale");
        EXPECT_GE(s.timings()[0].ms, 0.0);
        EXPECT_GE(s.timed_span_ms(), s.timings()[0].ms * 0.999);
        s.replay();
        s.replay();
        for (float v : t.to_floats()) ASSERT_EQ(v, 8.0f);
        EXPECT_VKML_ERROR([&] { Stream e(*dev); e.replay(); }(), ErrorKind::InvalidArgument, "nothing recorded");
        // Copies are timed too (the bench's copy probe times vkCmdCopyBuffer this way).
        Tensor u = Tensor::empty(*dev, DType::f32, {1000});
        s.copy(t, u);
        ops::scale(s, u, u, 0.5f);
        s.finish();
        ASSERT_EQ(s.timings().size(), 2u);
        EXPECT_EQ(s.timings()[0].label, "copy");
        EXPECT_EQ(s.timings()[1].label, "scale");
        EXPECT_EQ(u.to_floats(), std::vector<float>(1000, 4.0f));
    }
}

TEST_F(Runtime, LoweredBufferRangeSplitsLargeTensors) {
    // 3 MiB of floats through a device whose storage range is lowered to 1 MiB.
    auto dev = Device::open_index(devices()[0]->index(), DeviceOptions{.max_buffer_range = 1 << 20});
    EXPECT_EQ(dev->caps().max_storage_buffer_range, 1u << 20);
    const int64_t n = 3 * (1 << 18) + 5;
    const auto v = random_floats(n, 3);
    Tensor x = Tensor::from_floats(*dev, DType::f32, {n}, v);
    Tensor y = Tensor::empty(*dev, DType::f32, {n});
    Stream s(*dev);
    ops::scale(s, x, y, 2.0f, 1.0f);
    ops::add(s, y, x, y);
    s.finish();
    EXPECT_GE(s.dispatch_count(), 6u) << "each op must be split into ranges";
    const auto got = y.to_floats();
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(got[i], (2.0f * v[i] + 1.0f) + v[i], 1e-6f) << i;
    // A raw dispatch over the lowered range is refused with a clear message.
    const Kernel& k = dev->kernel("unary", {64});
    struct P { uint32_t n, op; float a, b; };
    EXPECT_VKML_ERROR(s.dispatch(k, {in(x), out(y)}, P{1, 0, 1, 0}, Groups{1, 1, 1}),
                      ErrorKind::InvalidArgument, "maxStorageBufferRange");
}

TEST_F(Runtime, PipelineCacheIsWrittenToDisk) {
    const auto& dev = devices()[0];
    dev->kernel("unary", {32});
    dev->save_pipeline_cache();
    const std::string path = dev->pipeline_cache_path();
    ASSERT_FALSE(path.empty());
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_GT(std::filesystem::file_size(path), 0u);
    // A second device handle loads it (a corrupt cache would be ignored, not fatal).
    auto again = Device::open_index(dev->index());
    EXPECT_EQ(again->pipeline_cache_path(), path);
}

TEST_F(Runtime, LiveObjectsFollowWhatVkmlHolds) {
    // A device of its own, so the counts start from nothing else.
    auto dev = Device::open_index(devices()[0]->index());
    const LiveObjects empty = dev->live_objects();
    EXPECT_EQ(empty.command_pools, 1u) << empty.to_string();  // the transfer pool
    EXPECT_EQ(empty.pipeline_caches, 1u);
    EXPECT_EQ(empty.total(), 2u) << empty.to_string();
    {
        // A dedicated block (over half the 64 MiB block size): one buffer, one memory.
        Tensor big = Tensor::empty(*dev, DType::f32, {40 << 18});
        const LiveObjects with_big = dev->live_objects();
        EXPECT_EQ(with_big.buffers, 1u);
        EXPECT_EQ(with_big.device_memory, 1u);
        Tensor x = Tensor::from_floats(*dev, DType::f32, {16}, std::vector<float>(16, 1.0f));
        Stream s(*dev);
        if (dev->caps().timestamp_period_ns > 0) s.set_timing(true);
        ops::scale(s, x, x, 2.0f);
        s.finish();
        const LiveObjects busy = dev->live_objects();
        EXPECT_EQ(busy.buffers, 2u) << busy.to_string();
        EXPECT_EQ(busy.pipelines, 1u);
        EXPECT_EQ(busy.pipeline_layouts, 1u);
        EXPECT_EQ(busy.descriptor_set_layouts, 1u);
        EXPECT_EQ(busy.shader_modules, 1u);
        EXPECT_EQ(busy.command_pools, 2u);
        EXPECT_EQ(busy.command_buffers, 1u);
        EXPECT_EQ(busy.fences, 1u);
        EXPECT_EQ(busy.descriptor_pools, 1u);
        EXPECT_EQ(busy.descriptor_sets, 1u);
        EXPECT_EQ(busy.query_pools, dev->caps().timestamp_period_ns > 0 ? 1u : 0u);
        EXPECT_EQ(busy.semaphores, 0u);
        EXPECT_EQ(busy.buffer_views, 0u);  // only texel bindings make views
    }
    // The dedicated block went with its tensor; the shared block stays for reuse, and the
    // pipeline stays cached for the device's lifetime.
    const LiveObjects after = dev->live_objects();
    EXPECT_EQ(after.buffers, 1u) << after.to_string();
    EXPECT_EQ(after.device_memory, 1u);
    EXPECT_EQ(after.pipelines, 1u);
    EXPECT_EQ(after.command_pools, 1u);
    EXPECT_EQ(after.command_buffers + after.fences + after.descriptor_pools + after.descriptor_sets +
                  after.query_pools,
              0u)
        << after.to_string();
    dev->allocator().trim();
    EXPECT_EQ(dev->live_objects().buffers + dev->live_objects().device_memory, 0u);
}

TEST_F(Runtime, StreamsOnSeveralThreadsAgree) {
    const auto& dev = devices()[0];
    const auto v = random_floats(4096, 9, -3, 3);
    Tensor x = Tensor::from_floats(*dev, DType::f32, {4096}, v);
    std::vector<std::vector<float>> results(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            Stream s(*dev);
            Tensor y = Tensor::empty(*dev, DType::f32, {4096});
            for (int rep = 0; rep < 5; ++rep) {
                ops::silu(s, x, y);
                s.finish();
            }
            results[t] = y.to_floats();
        });
    for (auto& th : threads) th.join();
    for (int t = 1; t < 4; ++t) EXPECT_EQ(results[t], results[0]);
}

}  // namespace
}  // namespace vkml::test
