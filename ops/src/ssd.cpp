#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "op_common.hpp"
#include "vkml/kernel.hpp"
#include "vkml/ops/ssm.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct SsdParams {
    uint32_t batch, len, heads, hp, ns, groups, nchunks, has_d, has_dtbias, softplus;
};
static_assert(sizeof(SsdParams) <= 128);

void check_dims(const char* op, const Tensor& t, const char* name, const Shape& want) {
    check_dtype(op, t, name, {DType::f32});
    if (t.shape() != want)
        fail(op, std::string(name) + " " + t.describe() + " must have shape " + shape_string(want));
}

// ssd_out's shared memory: the Q x Q score matrix and four Q-vectors.
uint64_t shared_bytes(int64_t q) { return static_cast<uint64_t>(q * q + 4 * q) * 4; }

}  // namespace

void ssd(Stream& s, const SsdInputs& in_, const Tensor& y, const Tensor& state, const SsdOptions& opt) {
    const char* op = "ssd";
    check_dtype(op, in_.x, "x", {DType::f32});
    check_dtype(op, in_.B, "B", {DType::f32});
    if (in_.x.rank() != 4) fail(op, "x " + in_.x.describe() + " must be [B, L, H, P]");
    if (in_.B.rank() != 4) fail(op, "B " + in_.B.describe() + " must be [B, L, G, N]");
    const int64_t batch = in_.x.dim(0), len = in_.x.dim(1), heads = in_.x.dim(2), hp = in_.x.dim(3);
    const int64_t groups = in_.B.dim(2), n = in_.B.dim(3);
    if (batch < 1 || len < 1 || heads < 1 || hp < 1 || n < 1 || groups < 1)
        fail(op, "x " + in_.x.describe() + " or B " + in_.B.describe() + " is empty");
    if (heads % groups != 0)
        fail(op, "heads " + std::to_string(heads) + " is not a multiple of the B/C groups " + std::to_string(groups));
    check_dims(op, in_.dt, "dt", {batch, len, heads});
    check_dims(op, in_.A, "A", {heads});
    check_dims(op, in_.B, "B", {batch, len, groups, n});
    check_dims(op, in_.C, "C", {batch, len, groups, n});
    check_dims(op, y, "y", {batch, len, heads, hp});
    check_dims(op, state, "state", {batch, heads, hp, n});
    if (in_.D) check_dims(op, in_.D, "D", {heads});
    if (in_.dt_bias) check_dims(op, in_.dt_bias, "dt_bias", {heads});
    for (const Tensor* t : {&in_.dt, &in_.A, &in_.B, &in_.C, &in_.D, &in_.dt_bias, &y, &state})
        if (*t) check_same_device(op, in_.x, *t);
    if (opt.chunk < 0 || opt.chunk > 128) fail(op, "chunk must be in [0, 128], got " + std::to_string(opt.chunk));
    check_u32(op, in_.x.numel(), "element count");

    Device& dev = s.device();
    const Capabilities& caps = dev.caps();
    int64_t chunk = opt.chunk > 0 ? opt.chunk : 64;
    if (opt.chunk == 0)
        while (chunk > 8 && shared_bytes(chunk) > caps.max_shared_memory) chunk /= 2;
    if (shared_bytes(chunk) > caps.max_shared_memory)
        throw Error(ErrorKind::Unsupported, std::string(op) + ": chunk " + std::to_string(chunk) + " needs " +
                                                std::to_string(shared_bytes(chunk)) + " bytes of shared memory");
    const int64_t nchunks = (len + chunk - 1) / chunk;
    if (nchunks > caps.max_workgroup_count[0] || heads > caps.max_workgroup_count[1] || batch > caps.max_workgroup_count[2])
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + in_.x.describe() + " needs more workgroups than the device allows");
    auto states = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, {batch * nchunks, heads, hp, n}));
    auto a_tot = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, {batch, nchunks, heads}));
    s.hold(states);
    s.hold(a_tot);
    for (auto [t, nm] : {std::pair{&in_.x, "x"}, {&y, "y"}, {&in_.B, "B"}, {&in_.C, "C"}, {states.get(), "chunk states"}})
        if (t->bytes() > caps.max_storage_buffer_range)
            throw Error(ErrorKind::Unsupported, std::string(op) + ": " + nm + " " + t->describe() + " exceeds maxStorageBufferRange");

    const uint32_t wg = std::min<uint32_t>(256, caps.max_workgroup_invocations);
    const std::vector<uint32_t> spec{wg, static_cast<uint32_t>(chunk)};
    const SsdParams p{static_cast<uint32_t>(batch), static_cast<uint32_t>(len), static_cast<uint32_t>(heads),
                      static_cast<uint32_t>(hp), static_cast<uint32_t>(n), static_cast<uint32_t>(groups),
                      static_cast<uint32_t>(nchunks), in_.D ? 1u : 0u, in_.dt_bias ? 1u : 0u,
                      opt.dt_softplus ? 1u : 0u};
    const Tensor& x = in_.x;
    const Tensor& db = in_.dt_bias ? in_.dt_bias : x;  // absent inputs: bound to x, never read
    const Tensor& dk = in_.D ? in_.D : x;
    const Groups per_chunk{static_cast<uint32_t>(nchunks), static_cast<uint32_t>(heads), static_cast<uint32_t>(batch)};
    s.dispatch(dev.kernel("ssd_state_f32", spec), {in(x), in(in_.dt), in(in_.A), in(in_.B), in(db), out(*states), out(*a_tot)},
               p, per_chunk, "ssd_state");
    s.dispatch(dev.kernel("ssd_pass_f32", spec), {in(*a_tot), inout(*states), inout(state)}, p,
               grid_1d(dev, ceil_div(static_cast<uint64_t>(batch * heads * hp * n), wg)), "ssd_pass");
    s.dispatch(dev.kernel("ssd_out_f32", spec),
               {in(x), in(in_.dt), in(in_.A), in(in_.B), in(db), in(in_.C), in(dk), in(*states), out(y)}, p, per_chunk, op);
}

void ssd_step(Stream& s, const SsdInputs& in_, const Tensor& y, const Tensor& state, const SsdOptions& opt) {
    const char* op = "ssd_step";
    for (auto [t, nm, r] : {std::tuple{&in_.x, "x", 3}, {&in_.dt, "dt", 2}, {&in_.B, "B", 3}, {&in_.C, "C", 3}, {&y, "y", 3}}) {
        check_present(op, *t, nm);
        if (t->rank() != r) fail(op, std::string(nm) + " " + t->describe() + " must have rank " + std::to_string(r));
    }
    auto tok = [](const Tensor& t) {
        Shape sh = t.shape();
        sh.insert(sh.begin() + 1, 1);
        return t.reshape(sh);
    };
    SsdInputs seq = in_;
    seq.x = tok(in_.x);
    seq.dt = tok(in_.dt);
    seq.B = tok(in_.B);
    seq.C = tok(in_.C);
    ssd(s, seq, tok(y), state, opt);
}

}  // namespace vkml::ops
