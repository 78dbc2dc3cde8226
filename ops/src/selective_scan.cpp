#include <memory>
#include <string>

#include "op_common.hpp"
#include "vkml/kernel.hpp"
#include "vkml/ops/ssm.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct ScanParams {
    uint32_t batch, len, dim, chunk, nchunks, has_d, has_z, has_dbias, softplus, write_back;
};
static_assert(sizeof(ScanParams) <= 128);

constexpr int64_t kMaxState = 64;  // h[N] lives in registers

void check_dims(const char* op, const Tensor& t, const char* name, const Shape& want) {
    check_dtype(op, t, name, {DType::f32});
    if (t.shape() != want)
        fail(op, std::string(name) + " " + t.describe() + " must have shape " + shape_string(want));
}

void check_fits(const char* op, const Tensor& t, const char* name) {
    if (t && t.bytes() > t.device().caps().max_storage_buffer_range)
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + name + " " + t.describe() +
                                                " exceeds maxStorageBufferRange");
}

// Enough chunks to fill the device (B*C*D invocations), but chunks of at least 32 tokens so the
// two extra passes stay cheap.
int64_t pick_chunk(const Device& dev, int64_t batch, int64_t len, int64_t dim) {
    const int64_t target = dev.caps().type == DeviceType::Cpu ? 4096 : 65536;
    const int64_t want_chunks = std::max<int64_t>(1, target / std::max<int64_t>(1, batch * dim));
    return std::max<int64_t>(32, (len + want_chunks - 1) / want_chunks);
}

// llvmpipe (lavapipe) silently ends a shader invocation's loops after 65535 iterations in
// total; there chunks are kept short enough (each token runs the N-loop).
bool has_loop_limit(const Capabilities& c) {
    return c.name.find("llvmpipe") != std::string::npos || c.driver_name.find("llvmpipe") != std::string::npos;
}

}  // namespace

void selective_scan(Stream& s, const SelectiveScanInputs& in_, const Tensor& y, const Tensor& state,
                    const SelectiveScanOptions& opt) {
    const char* op = "selective_scan";
    check_dtype(op, in_.x, "x", {DType::f32});
    check_dtype(op, in_.A, "A", {DType::f32});
    if (in_.x.rank() != 3) fail(op, "x " + in_.x.describe() + " must be [B, L, D]");
    if (in_.A.rank() != 2) fail(op, "A " + in_.A.describe() + " must be [D, N]");
    const int64_t batch = in_.x.dim(0), len = in_.x.dim(1), dim = in_.x.dim(2), n = in_.A.dim(1);
    if (batch < 1 || len < 1 || dim < 1) fail(op, "x " + in_.x.describe() + " is empty");
    if (n < 1 || n > kMaxState) fail(op, "A " + in_.A.describe() + ": N must be in [1, 64]");
    check_dims(op, in_.A, "A", {dim, n});
    check_dims(op, in_.delta, "delta", {batch, len, dim});
    check_dims(op, in_.B, "B", {batch, len, n});
    check_dims(op, in_.C, "C", {batch, len, n});
    check_dims(op, y, "y", {batch, len, dim});
    check_dims(op, state, "state", {batch, dim, n});
    if (in_.D) check_dims(op, in_.D, "D", {dim});
    if (in_.z) check_dims(op, in_.z, "z", {batch, len, dim});
    if (in_.delta_bias) check_dims(op, in_.delta_bias, "delta_bias", {dim});
    for (const Tensor* t : {&in_.delta, &in_.A, &in_.B, &in_.C, &in_.D, &in_.z, &in_.delta_bias, &y, &state})
        if (*t) check_same_device(op, in_.x, *t);
    if (opt.chunk < 0) fail(op, "chunk must be >= 0, got " + std::to_string(opt.chunk));
    check_u32(op, in_.x.numel(), "element count");

    Device& dev = s.device();
    int64_t chunk = std::min(len, opt.chunk > 0 ? opt.chunk : pick_chunk(dev, batch, len, dim));
    if (has_loop_limit(dev.caps())) chunk = std::min<int64_t>(chunk, 50000 / (n + 4));
    const int64_t nchunks = (len + chunk - 1) / chunk;
    const uint64_t summary_bytes = static_cast<uint64_t>(batch * nchunks * dim * n) * 4;
    if (nchunks > 1 && summary_bytes > dev.caps().max_storage_buffer_range)
        throw Error(ErrorKind::Unsupported, std::string(op) + ": chunk summaries of " +
                                                std::to_string(summary_bytes) + " bytes exceed maxStorageBufferRange; use a larger chunk");
    for (auto [t, nm] : {std::pair{&in_.x, "x"}, {&in_.delta, "delta"}, {&in_.z, "z"}, {&y, "y"}, {&state, "state"}})
        check_fits(op, *t, nm);

    const uint32_t wg = std::min<uint32_t>(64, dev.caps().max_workgroup_invocations);
    const std::vector<uint32_t> spec{wg, static_cast<uint32_t>(n)};
    ScanParams p{static_cast<uint32_t>(batch), static_cast<uint32_t>(len), static_cast<uint32_t>(dim),
                 static_cast<uint32_t>(chunk), static_cast<uint32_t>(nchunks),
                 in_.D ? 1u : 0u, in_.z ? 1u : 0u, in_.delta_bias ? 1u : 0u,
                 opt.delta_softplus ? 1u : 0u, 0u};
    const Tensor& x = in_.x;
    // Absent optional inputs are bound to x (read-only, never read).
    const Tensor& dk = in_.D ? in_.D : x;
    const Tensor& z = in_.z ? in_.z : x;
    const Tensor& db = in_.delta_bias ? in_.delta_bias : x;
    const Groups per_chunk = grid_1d(dev, ceil_div(static_cast<uint64_t>(batch * nchunks * dim), wg));

    if (nchunks == 1) {
        p.write_back = 1;
        s.dispatch(dev.kernel("ss_out_f32", spec),
                   {in(x), in(in_.delta), in(in_.A), in(in_.B), in(in_.C), in(dk), in(z), in(db),
                    inout(state), out(y)},
                   p, per_chunk, op);
        return;
    }
    auto summary = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, {batch, nchunks, dim, n}));
    auto dt_sum = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, {batch, nchunks, dim}));
    s.hold(summary);
    s.hold(dt_sum);
    s.dispatch(dev.kernel("ss_chunk_f32", spec),
               {in(x), in(in_.delta), in(in_.A), in(in_.B), in(db), out(*summary), out(*dt_sum)}, p,
               per_chunk, "selective_scan_chunk");
    s.dispatch(dev.kernel("ss_carry_f32", spec), {in(in_.A), in(*dt_sum), inout(*summary), inout(state)},
               p, grid_1d(dev, ceil_div(static_cast<uint64_t>(batch * dim * n), wg)),
               "selective_scan_carry");
    s.dispatch(dev.kernel("ss_out_f32", spec),
               {in(x), in(in_.delta), in(in_.A), in(in_.B), in(in_.C), in(dk), in(z), in(db),
                inout(*summary), out(y)},
               p, per_chunk, op);
}

void selective_scan_step(Stream& s, const SelectiveScanInputs& in_, const Tensor& y, const Tensor& state,
                         const SelectiveScanOptions& opt) {
    const char* op = "selective_scan_step";
    for (auto [t, nm] : {std::pair{&in_.x, "x"}, {&in_.delta, "delta"}, {&in_.B, "B"}, {&in_.C, "C"}, {&y, "y"}}) {
        check_present(op, *t, nm);
        if (t->rank() != 2) fail(op, std::string(nm) + " " + t->describe() + " must be rank 2 ([B, D] or [B, N])");
    }
    if (in_.z && in_.z.rank() != 2) fail(op, "z " + in_.z.describe() + " must be [B, D]");
    auto tok = [](const Tensor& t) { return t ? t.reshape({t.dim(0), 1, t.dim(1)}) : Tensor{}; };
    SelectiveScanInputs seq = in_;
    seq.x = tok(in_.x);
    seq.delta = tok(in_.delta);
    seq.B = tok(in_.B);
    seq.C = tok(in_.C);
    seq.z = tok(in_.z);
    selective_scan(s, seq, tok(y), state, opt);
}

}  // namespace vkml::ops
