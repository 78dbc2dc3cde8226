// Fault injection for tests: not for production use.
//
// lavapipe and healthy GPUs never lose a device, so tests of device-loss handling inject the
// loss. The injected VK_ERROR_DEVICE_LOST goes through the same VkResult check a real one takes
// (Device::Impl::check): the device is marked lost and every later call throws DeviceLost.
// The same hooks exist as environment variables, read when a device is opened:
//   VKML_INJECT_DEVICE_LOST=N  the Nth queue submission or fence wait on the device reports
//                              VK_ERROR_DEVICE_LOST (counting both, from 1)
//   VKML_FENCE_TIMEOUT_MS=T    bound fence waits to T ms instead of 120 s
#pragma once

#include <chrono>
#include <cstdint>

namespace vkml {
class Device;
}

namespace vkml::testing {

// The nth (1-based, counted from this call) queue submission or fence wait on `dev` returns
// VK_ERROR_DEVICE_LOST. An injected submission is not passed to the driver (a lost device runs
// nothing); an injected fence wait first waits for real, then reports the loss, so no work is
// left in flight. n = 0 cancels a pending injection.
void inject_device_lost(Device& dev, uint64_t nth);

// Bound on every fence wait of `dev` (default 120 s). A wait that runs past it throws
// DeviceLost and marks the device lost, as a hung GPU would.
void set_fence_timeout(Device& dev, std::chrono::nanoseconds timeout);

// Waits, without a bound, until `dev` has finished all the work it was given, even when it is
// marked lost. A loss declared by a fence-wait timeout (above) leaves that work running on a
// healthy device, and a Stream's destructor waits for it only 10 s before freeing what it uses;
// tests call this before they destroy such streams.
void wait_idle(Device& dev);

}  // namespace vkml::testing
