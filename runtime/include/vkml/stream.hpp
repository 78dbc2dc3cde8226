// Stream: records dispatches into one command buffer, with barriers only where needed.
//
// A barrier is inserted before a dispatch that reads a range written since the last barrier,
// or writes a range read or written since then. Each command buffer starts with a full
// barrier (so work from earlier submissions and other streams is visible) and ends with one
// that makes device writes visible to the host.
//
// Thread safety: a Stream must be used by one thread at a time; different streams on the same
// Device may be used from different threads concurrently.
//
// Device loss: once the device is lost (see Device::check_alive) every Stream call, including
// construction, wait() and finish() with nothing pending, throws Error of kind DeviceLost. The
// destructor never throws; it waits at most 10 s for work still in flight.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "vkml/tensor.hpp"

namespace vkml {

class Device;
class Kernel;

enum class Access : uint8_t { Read, Write, ReadWrite };

// One storage-buffer binding of a dispatch: a byte range of a buffer.
struct Binding {
    const Buffer* buffer = nullptr;
    uint64_t offset = 0;  // bytes from the start of *buffer
    uint64_t range = 0;
    Access access = Access::Read;
};
Binding in(const Tensor& t);
Binding out(const Tensor& t);
Binding inout(const Tensor& t);

struct Groups {
    uint32_t x = 1, y = 1, z = 1;
};

struct DispatchTiming {
    std::string label;
    double ms = 0;
};

class Stream {
public:
    explicit Stream(Device& device);
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    Device& device() const;

    // Records one dispatch. `params` is the kernel's push-constant struct; its size must equal
    // the shader's push-constant block and the bindings must match the shader's count.
    template <class Params>
    void dispatch(const Kernel& kernel, std::initializer_list<Binding> bindings,
                  const Params& params, Groups groups, const char* label = nullptr) {
        static_assert(std::is_trivially_copyable_v<Params>);
        static_assert(sizeof(Params) <= 128, "push constants are limited to 128 bytes");
        dispatch_raw(kernel, bindings.begin(), bindings.size(), &params, sizeof(Params), groups,
                     label);
    }
    void dispatch(const Kernel& kernel, std::initializer_list<Binding> bindings, Groups groups,
                  const char* label = nullptr) {
        dispatch_raw(kernel, bindings.begin(), bindings.size(), nullptr, 0, groups, label);
    }
    void dispatch_raw(const Kernel& kernel, const Binding* bindings, size_t binding_count,
                      const void* push, uint32_t push_bytes, Groups groups, const char* label);

    // Keeps `resource` (e.g. an op's scratch tensor) alive while the current recording may run:
    // released when the next recording begins (after waiting for this one) or with the stream.
    void hold(std::shared_ptr<const void> resource);

    // Records a byte copy between tensors of equal byte size, and a zero fill.
    void copy(const Tensor& src, const Tensor& dst);
    void fill_zero(const Tensor& dst);

    void submit();  // ends recording and submits; no-op when nothing was recorded
    void wait();    // waits for the last submission
    void finish() { submit(); wait(); }
    // Submits the last recorded command buffer again (same dispatches, same push constants).
    void replay();

    // With timing on, each dispatch (and copy(), labelled "copy") is bracketed by GPU
    // timestamps; read them after wait().
    void set_timing(bool on);
    bool timing() const;
    const std::vector<DispatchTiming>& timings() const;
    // GPU time from the first timed dispatch's start to the last one's end, in ms (dispatches
    // without a barrier between them may overlap, so this is not the sum of timings()).
    double timed_span_ms() const;

    // Counters for tests and profiling of the current/last recording.
    uint32_t dispatch_count() const;
    uint32_t barrier_count() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace vkml
