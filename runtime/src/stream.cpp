// Recording, barrier tracking, submission and GPU timestamps.
#include "vkml/stream.hpp"

#include <algorithm>

#include "vk_internal.hpp"

namespace vkml {

namespace {

Binding make_binding(const Tensor& t, Access a) {
    if (!t) throw Error(ErrorKind::InvalidArgument, "binding an empty tensor");
    return Binding{t.buffer().get(), t.offset(), t.bytes(), a};
}

struct Range {
    VkBuffer buffer;
    uint64_t begin, end;
    bool overlaps(const Range& o) const {
        return buffer == o.buffer && begin < o.end && o.begin < end;
    }
};

constexpr uint32_t kSetsPerPool = 256;
constexpr uint32_t kMaxTimedDispatches = 4096;

}  // namespace

Binding in(const Tensor& t) { return make_binding(t, Access::Read); }
Binding out(const Tensor& t) { return make_binding(t, Access::Write); }
Binding inout(const Tensor& t) { return make_binding(t, Access::ReadWrite); }

struct Stream::Impl {
    Device* device = nullptr;
    Device::Impl* dev = nullptr;
    VkCommandPool pool = VK_NULL_HANDLE;
    VkCommandBuffer cb = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
    std::vector<VkDescriptorPool> desc_pools;
    size_t desc_pool_used = 0;  // pools [0, used) have been allocated from this recording
    uint32_t sets_in_current = 0;
    uint64_t live_sets = 0;  // descriptor sets allocated since the pools were last reset

    bool recording = false;
    bool recorded = false;  // cb holds a finished recording that replay() may resubmit
    bool pending = false;   // submitted and not yet waited
    std::vector<Range> written, read;  // since the last barrier

    bool timing = false;
    VkQueryPool queries = VK_NULL_HANDLE;
    std::vector<std::string> labels;
    std::vector<DispatchTiming> timings;
    double span_ms = 0;

    uint32_t dispatches = 0;
    uint32_t barriers = 0;
    std::vector<std::shared_ptr<const void>> held;  // see Stream::hold

    void full_barrier(VkPipelineStageFlags src, VkPipelineStageFlags dst, VkAccessFlags src_access,
                      VkAccessFlags dst_access) {
        VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        mb.srcAccessMask = src_access;
        mb.dstAccessMask = dst_access;
        vkCmdPipelineBarrier(cb, src, dst, 0, 1, &mb, 0, nullptr, 0, nullptr);
    }

    // The view of a texel binding, made for one dispatch and destroyed with its recording.
    struct TexelView {
        VkDevice device;
        detail::ObjectCounts* counts;
        VkBufferView view = VK_NULL_HANDLE;
        TexelView(VkDevice d, detail::ObjectCounts* c) : device(d), counts(c) {}
        TexelView(const TexelView&) = delete;
        TexelView& operator=(const TexelView&) = delete;
        ~TexelView() {
            if (view == VK_NULL_HANDLE) return;
            vkDestroyBufferView(device, view, nullptr);
            counts->sub(detail::Obj::BufferView);
        }
    };

    void begin() {
        dev->check_alive();
        if (recording) return;
        if (pending) wait();
        held.clear();  // the previous recording can no longer run or be replayed
        dev->check(vkResetCommandPool(dev->device, pool, 0), "vkResetCommandPool");
        for (size_t i = 0; i < desc_pool_used && i < desc_pools.size(); ++i)
            dev->check(vkResetDescriptorPool(dev->device, desc_pools[i], 0), "vkResetDescriptorPool");
        dev->counts.sub(detail::Obj::DescriptorSet, static_cast<int64_t>(live_sets));
        live_sets = 0;
        desc_pool_used = 0;
        sets_in_current = kSetsPerPool;  // forces a pool on the first allocation
        VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        dev->check(vkBeginCommandBuffer(cb, &bi), "vkBeginCommandBuffer");
        recording = true;
        recorded = false;
        dispatches = barriers = 0;
        labels.clear();
        timings.clear();
        written.clear();
        read.clear();
        // Work of earlier submissions (this stream's or another's) and host writes become
        // visible to everything recorded here.
        full_barrier(VK_PIPELINE_STAGE_ALL_COMMANDS_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                     VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                     VK_ACCESS_MEMORY_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT,
                     VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT);
        if (timing && queries) vkCmdResetQueryPool(cb, queries, 0, 2 * kMaxTimedDispatches);
    }

    VkDescriptorSet allocate_set(VkDescriptorSetLayout layout) {
        if (sets_in_current >= kSetsPerPool) {
            if (desc_pool_used == desc_pools.size()) {
                const VkDescriptorPoolSize sizes[] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * 8},
                                                      {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, kSetsPerPool}};
                VkDescriptorPoolCreateInfo ci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
                ci.maxSets = kSetsPerPool;
                ci.poolSizeCount = 2;
                ci.pPoolSizes = sizes;
                VkDescriptorPool p = VK_NULL_HANDLE;
                dev->check(vkCreateDescriptorPool(dev->device, &ci, nullptr, &p), "vkCreateDescriptorPool");
                dev->counts.add(detail::Obj::DescriptorPool);
                desc_pools.push_back(p);
            }
            ++desc_pool_used;
            sets_in_current = 0;
        }
        VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
        ai.descriptorPool = desc_pools[desc_pool_used - 1];
        ai.descriptorSetCount = 1;
        ai.pSetLayouts = &layout;
        VkDescriptorSet set = VK_NULL_HANDLE;
        VkResult r = vkAllocateDescriptorSets(dev->device, &ai, &set);
        if (r == VK_ERROR_OUT_OF_POOL_MEMORY || r == VK_ERROR_FRAGMENTED_POOL) {
            sets_in_current = kSetsPerPool;  // this pool ran out of descriptors: take the next
            return allocate_set(layout);
        }
        dev->check(r, "vkAllocateDescriptorSets");
        dev->counts.add(detail::Obj::DescriptorSet);
        ++live_sets;
        ++sets_in_current;
        return set;
    }

    // Inserts a barrier if any access conflicts with writes (or, for writes, reads) since the
    // last barrier, then records the accesses.
    void track(const std::vector<Range>& reads, const std::vector<Range>& writes) {
        bool conflict = false;
        for (const Range& r : reads)
            for (const Range& w : written) conflict = conflict || r.overlaps(w);
        for (const Range& w : writes) {
            for (const Range& o : written) conflict = conflict || w.overlaps(o);
            for (const Range& o : read) conflict = conflict || w.overlaps(o);
        }
        if (conflict) {
            const VkPipelineStageFlags stages =
                VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
            full_barrier(stages, stages, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                         VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                             VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
            ++barriers;
            written.clear();
            read.clear();
        }
        read.insert(read.end(), reads.begin(), reads.end());
        written.insert(written.end(), writes.begin(), writes.end());
    }

    // Records one command, bracketed by GPU timestamps under `label` while timing is on and
    // slots remain.
    template <class Record>
    void timed(const char* label, Record&& record) {
        if (!timing || !queries || labels.size() >= kMaxTimedDispatches) {
            record();
            return;
        }
        const uint32_t slot = static_cast<uint32_t>(labels.size());
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries, 2 * slot);
        record();
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries, 2 * slot + 1);
        labels.push_back(label);
    }

    void wait() {
        if (!pending) return;
        // Stays pending when the wait throws (device lost or timed out), so the destructor
        // still waits, bounded, before it frees what the work may use.
        dev->wait_fence(fence);
        pending = false;
        dev->check(vkResetFences(dev->device, 1, &fence), "vkResetFences");
        if (timing && queries && !labels.empty()) {
            std::vector<uint64_t> ts(2 * labels.size());
            dev->check(vkGetQueryPoolResults(dev->device, queries, 0, static_cast<uint32_t>(ts.size()),
                                             ts.size() * 8, ts.data(), 8,
                                             VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                       "vkGetQueryPoolResults");
            const uint64_t mask = dev->caps.timestamp_valid_bits >= 64
                                      ? ~0ull
                                      : (1ull << dev->caps.timestamp_valid_bits) - 1;
            timings.clear();
            const double ns = dev->caps.timestamp_period_ns;
            uint64_t last = 0;
            for (size_t i = 0; i < labels.size(); ++i) {
                const uint64_t t = ((ts[2 * i + 1] - ts[2 * i]) & mask);
                timings.push_back({labels[i], static_cast<double>(t) * ns * 1e-6});
                last = std::max<uint64_t>(last, (ts[2 * i + 1] - ts[0]) & mask);
            }
            span_ms = static_cast<double>(last) * ns * 1e-6;
        }
    }
};

Stream::Stream(Device& device) : impl_(std::make_unique<Impl>()) {
    device.check_alive();
    Impl& s = *impl_;
    s.device = &device;
    s.dev = &device.impl();
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.queueFamilyIndex = s.dev->queue_family;
    s.dev->check(vkCreateCommandPool(s.dev->device, &pci, nullptr, &s.pool), "vkCreateCommandPool");
    s.dev->counts.add(detail::Obj::CommandPool);
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = s.pool;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkResult r = vkAllocateCommandBuffers(s.dev->device, &ai, &s.cb);
    if (r == VK_SUCCESS) r = vkCreateFence(s.dev->device, &fci, nullptr, &s.fence);
    if (r != VK_SUCCESS) {
        if (s.fence) vkDestroyFence(s.dev->device, s.fence, nullptr);
        vkDestroyCommandPool(s.dev->device, s.pool, nullptr);  // frees the command buffer too
        s.dev->counts.sub(detail::Obj::CommandPool);
        s.dev->check(r, "vkAllocateCommandBuffers/vkCreateFence");
    }
    s.dev->counts.add(detail::Obj::CommandBuffer);
    s.dev->counts.add(detail::Obj::Fence);
}

Stream::~Stream() {
    Impl& s = *impl_;
    // Bounded: on a lost device this returns at once, on a hung one after 10 s.
    if (s.pending) vkWaitForFences(s.dev->device, 1, &s.fence, VK_TRUE, 10ull * 1000 * 1000 * 1000);
    if (s.recording) vkEndCommandBuffer(s.cb);
    using detail::Obj;
    if (s.queries) {
        vkDestroyQueryPool(s.dev->device, s.queries, nullptr);
        s.dev->counts.sub(Obj::QueryPool);
    }
    for (VkDescriptorPool p : s.desc_pools) vkDestroyDescriptorPool(s.dev->device, p, nullptr);
    s.dev->counts.sub(Obj::DescriptorPool, static_cast<int64_t>(s.desc_pools.size()));
    s.dev->counts.sub(Obj::DescriptorSet, static_cast<int64_t>(s.live_sets));
    vkDestroyFence(s.dev->device, s.fence, nullptr);
    vkDestroyCommandPool(s.dev->device, s.pool, nullptr);
    s.dev->counts.sub(Obj::Fence);
    s.dev->counts.sub(Obj::CommandBuffer);
    s.dev->counts.sub(Obj::CommandPool);
}

Device& Stream::device() const { return *impl_->device; }

void Stream::dispatch_raw(const Kernel& kernel, const Binding* bindings, size_t binding_count,
                          const void* push, uint32_t push_bytes, Groups groups, const char* label) {
    Impl& s = *impl_;
    s.dev->check_alive();
    const ShaderInterface& iface = kernel.interface();
    const std::string name = kernel.name();
    if (binding_count != iface.binding_count)
        throw Error(ErrorKind::InvalidArgument,
                    "kernel '" + name + "' takes " + std::to_string(iface.binding_count) +
                        " buffers, " + std::to_string(binding_count) + " given");
    if (push_bytes != iface.push_constant_bytes)
        throw Error(ErrorKind::InvalidArgument,
                    "kernel '" + name + "' has a " + std::to_string(iface.push_constant_bytes) +
                        "-byte push-constant block, " + std::to_string(push_bytes) + " bytes given");
    const Capabilities& c = s.dev->caps;
    if (groups.x == 0 || groups.y == 0 || groups.z == 0 || groups.x > c.max_workgroup_count[0] ||
        groups.y > c.max_workgroup_count[1] || groups.z > c.max_workgroup_count[2])
        throw Error(ErrorKind::InvalidArgument,
                    "kernel '" + name + "': workgroup count (" + std::to_string(groups.x) + ", " +
                        std::to_string(groups.y) + ", " + std::to_string(groups.z) +
                        ") is zero or over the device limit (" + std::to_string(c.max_workgroup_count[0]) +
                        ", " + std::to_string(c.max_workgroup_count[1]) + ", " +
                        std::to_string(c.max_workgroup_count[2]) + ")");
    std::vector<Range> reads, writes;
    std::vector<VkDescriptorBufferInfo> infos(binding_count);
    for (size_t i = 0; i < binding_count; ++i) {
        const Binding& b = bindings[i];
        if (!b.buffer || !*b.buffer)
            throw Error(ErrorKind::InvalidArgument, "kernel '" + name + "': binding " +
                                                        std::to_string(i) + " has no buffer");
        if (&b.buffer->device() != s.device)
            throw Error(ErrorKind::InvalidArgument, "kernel '" + name + "': binding " +
                                                        std::to_string(i) + " lives on another device");
        if (b.range == 0 || b.offset + b.range > b.buffer->size())
            throw Error(ErrorKind::InvalidArgument,
                        "kernel '" + name + "': binding " + std::to_string(i) + " range [" +
                            std::to_string(b.offset) + ", " + std::to_string(b.offset + b.range) +
                            ") is outside its " + std::to_string(b.buffer->size()) + "-byte buffer");
        const uint64_t off = b.buffer->vk_offset() + b.offset;
        if (iface.binding_texel[i]) {
            // A uniform texel buffer of 16-byte texels (RGBA32UI) viewing the same bytes; the
            // view covers whole texels, so the range is rounded up to 16 within the buffer.
            const uint64_t texels = (b.range + 15) / 16;
            const std::string what = "kernel '" + name + "': texel binding " + std::to_string(i);
            if (b.offset + texels * 16 > b.buffer->size())
                throw Error(ErrorKind::InvalidArgument, what + " of " + std::to_string(texels) +
                                                            " 16-byte texels runs past its buffer");
            if (texels > c.max_texel_buffer_elements)
                throw Error(ErrorKind::InvalidArgument, what + " of " + std::to_string(texels) +
                                                            " texels is over maxTexelBufferElements " +
                                                            std::to_string(c.max_texel_buffer_elements) +
                                                            "; the op must split it into ranges");
            if (c.min_texel_offset_alignment && off % c.min_texel_offset_alignment != 0)
                throw Error(ErrorKind::InvalidArgument, what + " offset " + std::to_string(off) +
                                                            " is not a multiple of minTexelBufferOffsetAlignment " +
                                                            std::to_string(c.min_texel_offset_alignment));
        }
        if (b.range > c.max_storage_buffer_range)
            throw Error(ErrorKind::InvalidArgument,
                        "kernel '" + name + "': binding " + std::to_string(i) + " spans " +
                            std::to_string(b.range) + " bytes, over maxStorageBufferRange " +
                            std::to_string(c.max_storage_buffer_range) +
                            "; the op must split it into ranges");
        if (c.min_storage_offset_alignment && off % c.min_storage_offset_alignment != 0)
            throw Error(ErrorKind::InvalidArgument,
                        "kernel '" + name + "': binding " + std::to_string(i) + " offset " +
                            std::to_string(off) + " is not a multiple of minStorageBufferOffsetAlignment " +
                            std::to_string(c.min_storage_offset_alignment));
        if (b.access == Access::Read && iface.binding_writable[i])
            throw Error(ErrorKind::Internal, "kernel '" + name + "': binding " + std::to_string(i) +
                                                 " is writable in the shader but bound as an input");
        infos[i] = {b.buffer->vk_buffer(), off, b.range};
        const Range r{b.buffer->vk_buffer(), off, off + b.range};
        if (b.access != Access::Write) reads.push_back(r);
        if (b.access != Access::Read) writes.push_back(r);
    }

    s.begin();
    const Kernel::Handles& h = kernel.handles();
    const VkDescriptorSet set = s.allocate_set(h.set_layout);
    std::vector<VkWriteDescriptorSet> w(binding_count);
    std::vector<VkBufferView> views(binding_count, VK_NULL_HANDLE);
    for (size_t i = 0; i < binding_count; ++i) {
        w[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        w[i].dstSet = set;
        w[i].dstBinding = static_cast<uint32_t>(i);
        w[i].descriptorCount = 1;
        if (iface.binding_texel[i]) {
            VkBufferViewCreateInfo vi{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
            vi.buffer = infos[i].buffer;
            vi.format = VK_FORMAT_R32G32B32A32_UINT;
            vi.offset = infos[i].offset;
            vi.range = (infos[i].range + 15) / 16 * 16;
            auto view = std::make_shared<Impl::TexelView>(s.dev->device, &s.dev->counts);
            s.dev->check(vkCreateBufferView(s.dev->device, &vi, nullptr, &view->view), "vkCreateBufferView");
            s.dev->counts.add(detail::Obj::BufferView);
            views[i] = view->view;
            s.held.push_back(std::move(view));  // lives as long as the recording
            w[i].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
            w[i].pTexelBufferView = &views[i];
        } else {
            w[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            w[i].pBufferInfo = &infos[i];
        }
    }
    vkUpdateDescriptorSets(s.dev->device, static_cast<uint32_t>(w.size()), w.data(), 0, nullptr);

    s.track(reads, writes);
    vkCmdBindPipeline(s.cb, VK_PIPELINE_BIND_POINT_COMPUTE, h.pipeline);
    vkCmdBindDescriptorSets(s.cb, VK_PIPELINE_BIND_POINT_COMPUTE, h.layout, 0, 1, &set, 0, nullptr);
    if (push_bytes) vkCmdPushConstants(s.cb, h.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
    s.timed(label ? label : name.c_str(), [&] { vkCmdDispatch(s.cb, groups.x, groups.y, groups.z); });
    ++s.dispatches;
}

void Stream::copy(const Tensor& src, const Tensor& dst) {
    Impl& s = *impl_;
    s.dev->check_alive();
    if (!src || !dst || src.bytes() != dst.bytes())
        throw Error(ErrorKind::InvalidArgument, "copy needs two tensors of equal byte size, got " +
                                                    (src ? src.describe() : std::string("empty")) + " and " +
                                                    (dst ? dst.describe() : std::string("empty")));
    if (src.interleave() != dst.interleave())
        throw Error(ErrorKind::InvalidArgument, "copy between " + src.describe() + " and " + dst.describe() +
                                                    ": their rows are in different orders");
    const uint64_t so = src.buffer()->vk_offset() + src.offset();
    const uint64_t d_o = dst.buffer()->vk_offset() + dst.offset();
    s.begin();
    s.track({{src.buffer()->vk_buffer(), so, so + src.bytes()}},
            {{dst.buffer()->vk_buffer(), d_o, d_o + dst.bytes()}});
    VkBufferCopy region{so, d_o, src.bytes()};
    s.timed("copy", [&] { vkCmdCopyBuffer(s.cb, src.buffer()->vk_buffer(), dst.buffer()->vk_buffer(), 1, &region); });
}

void Stream::fill_zero(const Tensor& dst) {
    Impl& s = *impl_;
    s.dev->check_alive();
    if (!dst) throw Error(ErrorKind::InvalidArgument, "fill_zero of an empty tensor");
    const uint64_t off = dst.buffer()->vk_offset() + dst.offset();
    if (off % 4 || dst.bytes() % 4)
        throw Error(ErrorKind::InvalidArgument, "fill_zero needs a 4-byte aligned tensor, got " + dst.describe());
    s.begin();
    s.track({}, {{dst.buffer()->vk_buffer(), off, off + dst.bytes()}});
    vkCmdFillBuffer(s.cb, dst.buffer()->vk_buffer(), off, dst.bytes(), 0);
}

void Stream::submit() {
    Impl& s = *impl_;
    s.dev->check_alive();
    if (!s.recording) return;
    s.full_barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                   VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                   VK_ACCESS_HOST_READ_BIT);
    s.recording = false;
    s.dev->check(vkEndCommandBuffer(s.cb), "vkEndCommandBuffer");
    s.recorded = true;
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &s.cb;
    s.dev->submit(si, s.fence);
    s.pending = true;
}

void Stream::wait() {
    impl_->dev->check_alive();
    impl_->wait();
}

void Stream::hold(std::shared_ptr<const void> resource) {
    impl_->begin();
    impl_->held.push_back(std::move(resource));
}

void Stream::replay() {
    Impl& s = *impl_;
    s.dev->check_alive();
    if (s.recording) throw Error(ErrorKind::InvalidArgument, "replay() while recording: submit first");
    if (!s.recorded) throw Error(ErrorKind::InvalidArgument, "replay() with nothing recorded");
    s.wait();
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &s.cb;
    if (s.timing && s.queries) {
        // Timestamps were reset inside the recording, so a replay measures afresh.
    }
    s.dev->submit(si, s.fence);
    s.pending = true;
    s.wait();
}

void Stream::set_timing(bool on) {
    Impl& s = *impl_;
    s.dev->check_alive();
    if (s.recording)
        throw Error(ErrorKind::InvalidArgument, "set_timing() while recording: submit first");
    if (on && s.dev->caps.timestamp_period_ns <= 0)
        throw Error(ErrorKind::Unsupported, "device '" + s.dev->caps.name +
                                                "' has no timestamps on its compute queue");
    if (on && !s.queries) {
        VkQueryPoolCreateInfo qci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
        qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
        qci.queryCount = 2 * kMaxTimedDispatches;
        s.dev->check(vkCreateQueryPool(s.dev->device, &qci, nullptr, &s.queries), "vkCreateQueryPool");
        s.dev->counts.add(detail::Obj::QueryPool);
    }
    s.timing = on;
}

bool Stream::timing() const { return impl_->timing; }
const std::vector<DispatchTiming>& Stream::timings() const { return impl_->timings; }
double Stream::timed_span_ms() const { return impl_->span_ms; }
uint32_t Stream::dispatch_count() const { return impl_->dispatches; }
uint32_t Stream::barrier_count() const { return impl_->barriers; }

}  // namespace vkml
