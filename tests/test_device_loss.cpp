// Device loss (issue 7): a lost device surfaces as vkml::Error of kind DeviceLost from every
// later call that would touch it, never a hang, and tearing everything down afterwards is clean
// (no validation message, no crash). lavapipe never loses a device, so the loss is injected
// through vkml/testing.hpp (or $VKML_INJECT_DEVICE_LOST), which feeds VK_ERROR_DEVICE_LOST into
// the same VkResult check a real one takes. A fence wait past its bound counts as a loss too.
// Each case opens its own device: a lost device stays lost.
#include <cstdlib>

#include "vkml/ops/elementwise.hpp"
#include "vkml/testing.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class DeviceLoss : public VkmlTest {};

std::shared_ptr<Device> fresh_device() { return Device::open_index(devices()[0]->index()); }

// Every entry point that touches the device throws DeviceLost once the device is lost.
void expect_every_call_fails(Device& dev, Stream& s, Tensor& x) {
    EXPECT_TRUE(dev.lost());
    EXPECT_VKML_ERROR(dev.check_alive(), ErrorKind::DeviceLost, "lost");
    // Stream: recording, submit, wait, replay, timing.
    EXPECT_VKML_ERROR(ops::scale(s, x, x, 2.0f), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(s.copy(x, x), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(s.fill_zero(x), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(s.hold(nullptr), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(s.submit(), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(s.wait(), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(s.finish(), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(s.replay(), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(s.set_timing(true), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(Stream another(dev), ErrorKind::DeviceLost, "lost");
    // Memory: allocation in every pool, tensors, upload and download.
    for (Pool p : {Pool::Weights, Pool::Activations, Pool::Staging})
        EXPECT_VKML_ERROR(dev.allocator().allocate(256, p), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(Tensor::empty(dev, DType::f32, {4}), ErrorKind::DeviceLost, "lost");
    std::vector<float> host(static_cast<size_t>(x.numel()), 1.0f);
    EXPECT_VKML_ERROR(x.upload(host.data(), host.size() * 4), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(x.download(host.data(), host.size() * 4), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(x.to_floats(), ErrorKind::DeviceLost, "lost");
    // Pipelines: a cached kernel and one never built.
    EXPECT_VKML_ERROR(dev.kernel("unary", {64}), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(dev.kernel("binary", {32}), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(dev.save_pipeline_cache(), ErrorKind::DeviceLost, "lost");
}

// One step of work that submits and waits once (the warm-up builds the pipeline first).
void step(Stream& s, const Tensor& x) {
    ops::scale(s, x, x, 1.0f);
    s.finish();
}

TEST_F(DeviceLoss, AtQueueSubmit) {
    auto dev = fresh_device();
    {
        Tensor x = Tensor::from_floats(*dev, DType::f32, {1000}, random_floats(1000, 1));
        Stream s(*dev);
        step(s, x);
        testing::inject_device_lost(*dev, 1);
        ops::scale(s, x, x, 2.0f);
        EXPECT_VKML_ERROR(s.submit(), ErrorKind::DeviceLost, "vkQueueSubmit");
        expect_every_call_fails(*dev, s, x);
    }
    // Everything but the device is gone: no stream objects remain, only the device's own.
    const LiveObjects live = dev->live_objects();
    EXPECT_EQ(live.fences, 0u) << live.to_string();
    EXPECT_EQ(live.command_buffers, 0u) << live.to_string();
    EXPECT_EQ(live.command_pools, 1u) << live.to_string();  // the device's transfer pool
    EXPECT_EQ(live.descriptor_pools, 0u) << live.to_string();
    EXPECT_EQ(live.descriptor_sets, 0u) << live.to_string();
    dev.reset();
}

TEST_F(DeviceLoss, AtFenceWait) {
    auto dev = fresh_device();
    Tensor x = Tensor::from_floats(*dev, DType::f32, {1000}, random_floats(1000, 2));
    auto s = std::make_unique<Stream>(*dev);
    step(*s, x);
    testing::inject_device_lost(*dev, 2);  // the next submission succeeds, its wait is lost
    EXPECT_VKML_ERROR(step(*s, x), ErrorKind::DeviceLost, "vkWaitForFences");
    expect_every_call_fails(*dev, *s, x);
    // Tear down in the order users do it by accident: the device handle first, then the rest.
    dev.reset();
    s.reset();
    x = Tensor();
}

TEST_F(DeviceLoss, FromEnvironment) {
    ::setenv("VKML_INJECT_DEVICE_LOST", "3", 1);
    auto dev = fresh_device();
    ::unsetenv("VKML_INJECT_DEVICE_LOST");
    Tensor x = Tensor::from_floats(*dev, DType::f32, {64}, random_floats(64, 3));
    Stream s(*dev);
    step(s, x);  // submission 1, wait 2
    EXPECT_VKML_ERROR(step(s, x), ErrorKind::DeviceLost, "vkQueueSubmit");  // submission 3
    expect_every_call_fails(*dev, s, x);
    EXPECT_FALSE(fresh_device()->lost()) << "the injection belongs to the device opened with it";
}

TEST_F(DeviceLoss, PendingWorkAtLossIsWaitedForOnDestruction) {
    // Loss while another stream has work in flight: that stream's next call fails, and its
    // destructor still waits (bounded) for the work before freeing what it uses.
    auto dev = fresh_device();
    Tensor x = Tensor::from_floats(*dev, DType::f32, {1 << 16}, random_floats(1 << 16, 4));
    Tensor y = Tensor::from_floats(*dev, DType::f32, {1 << 16}, random_floats(1 << 16, 5));
    Stream a(*dev), b(*dev);
    step(a, x);
    ops::scale(b, y, y, 3.0f);
    b.submit();  // in flight
    testing::inject_device_lost(*dev, 1);
    EXPECT_VKML_ERROR(step(a, x), ErrorKind::DeviceLost, "vkQueueSubmit");
    EXPECT_VKML_ERROR(b.wait(), ErrorKind::DeviceLost, "lost");
    EXPECT_VKML_ERROR(ops::scale(b, y, y, 1.0f), ErrorKind::DeviceLost, "lost");
}

TEST_F(DeviceLoss, FenceWaitPastItsBoundIsALoss) {
    // A zero bound makes the wait time out while lavapipe is still working, as a hung GPU would
    // after 120 s. Enough work that it cannot finish between submit and wait; retried with more
    // if the machine was fast anyway.
    auto dev = fresh_device();
    const int64_t n = 1 << 22;  // 16 MiB of f32
    Tensor x = Tensor::from_floats(*dev, DType::f32, {n}, std::vector<float>(static_cast<size_t>(n), 1.0f));
    Stream s(*dev);
    step(s, x);
    testing::set_fence_timeout(*dev, std::chrono::nanoseconds(0));
    bool timed_out = false;
    for (int passes = 8; passes <= 512 && !timed_out; passes *= 4) {
        for (int i = 0; i < passes; ++i) ops::scale(s, x, x, 1.0f);
        s.submit();
        try {
            s.wait();
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::DeviceLost) << e.what();
            EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
            timed_out = true;
        }
    }
    ASSERT_TRUE(timed_out) << "lavapipe finished every batch before a zero-timeout wait";
    expect_every_call_fails(*dev, s, x);
    // The timed-out work still runs on lavapipe: let it finish before the stream is destroyed
    // (its destructor waits only 10 s, which a loaded machine under ASan has exceeded).
    testing::wait_idle(*dev);
}

TEST_F(DeviceLoss, OtherDevicesAreUnaffected) {
    auto lost = fresh_device();
    Stream s(*lost);
    Tensor x = Tensor::from_floats(*lost, DType::f32, {16}, random_floats(16, 6));
    step(s, x);
    testing::inject_device_lost(*lost, 1);
    EXPECT_VKML_ERROR(step(s, x), ErrorKind::DeviceLost, "vkQueueSubmit");
    // The shared test device (same physical device, another VkDevice) keeps working.
    Device& ok = *devices()[0];
    EXPECT_FALSE(ok.lost());
    Stream t(ok);
    Tensor y = Tensor::from_floats(ok, DType::f32, {16}, std::vector<float>(16, 2.0f));
    ops::scale(t, y, y, 3.0f);
    t.finish();
    EXPECT_EQ(y.to_floats(), std::vector<float>(16, 6.0f));
}

TEST_F(DeviceLoss, TestingHooksAndOptionsAreChecked) {
    ::setenv("VKML_INJECT_DEVICE_LOST", "soon", 1);
    EXPECT_VKML_ERROR(fresh_device(), ErrorKind::InvalidArgument, "VKML_INJECT_DEVICE_LOST");
    ::unsetenv("VKML_INJECT_DEVICE_LOST");
    // Cancelling a pending injection leaves the device healthy.
    auto dev = fresh_device();
    testing::inject_device_lost(*dev, 1);
    testing::inject_device_lost(*dev, 0);
    Stream s(*dev);
    Tensor x = Tensor::from_floats(*dev, DType::f32, {16}, std::vector<float>(16, 1.0f));
    step(s, x);
    EXPECT_FALSE(dev->lost());
}

}  // namespace
}  // namespace vkml::test
