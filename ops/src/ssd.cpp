#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "ssm_common.hpp"
#include "vkml/kernel.hpp"
#include "vkml/ops/ssm.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct SsdParams {
    uint32_t batch, len, heads, hp, ns, groups, nchunks, has_d, has_dtbias, softplus;
    uint32_t x_shift, dt_shift, b_shift, c_shift, y_shift, st_shift;  // ranges: window shifts
};
static_assert(sizeof(SsdParams) <= 128);

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
    check_inputs(op, in_.x, {{&in_.dt, "dt", {batch, len, heads}},
                             {&in_.A, "A", {heads}},
                             {&in_.B, "B", {batch, len, groups, n}},
                             {&in_.C, "C", {batch, len, groups, n}},
                             {&y, "y", {batch, len, heads, hp}},
                             {&state, "state", {batch, heads, hp, n}},
                             {&in_.D, "D", {heads}, true},
                             {&in_.dt_bias, "dt_bias", {heads}, true}});
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
    // Ranges start at chunk boundaries: a split run computes exactly what an unsplit one does.
    const uint64_t state_bytes = static_cast<uint64_t>(heads * hp * n) * 4;
    const uint64_t token_bytes = static_cast<uint64_t>(std::max(heads * hp, groups * n)) * 4;
    auto chunks_of = [&](int64_t tokens) { return (tokens + chunk - 1) / chunk; };
    const auto ranges = plan_seq_ranges(op, batch, len, chunk, [&](int64_t seqs, int64_t tokens) {
        // Per token x, y, B, C; per sequence the state and one state per chunk.
        return seq_fits(dev, seqs, tokens, token_bytes, state_bytes * static_cast<uint64_t>(chunks_of(tokens)));
    });
    const SeqRange& big = ranges.front();  // the largest range sizes the scratch
    const int64_t max_chunks = chunks_of(big.len());
    if (max_chunks > caps.max_workgroup_count[0] || heads > caps.max_workgroup_count[1] ||
        big.batch() > caps.max_workgroup_count[2])
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + in_.x.describe() + " needs more workgroups than the device allows");
    auto states = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, {big.batch() * max_chunks, heads, hp, n}));
    auto a_tot = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, {big.batch(), max_chunks, heads}));
    s.hold(states);
    s.hold(a_tot);
    for (auto [t, nm] : {std::pair{&in_.A, "A"}, {&in_.D, "D"}, {&in_.dt_bias, "dt_bias"}}) check_fits(op, *t, nm);

    const uint32_t wg = std::min<uint32_t>(256, caps.max_workgroup_invocations);
    const std::vector<uint32_t> spec{wg, static_cast<uint32_t>(chunk)};
    const Tensor& x = in_.x;
    for (const SeqRange& r : ranges) {
        const int64_t nchunks = chunks_of(r.len());
        const int64_t tok = r.b0 * len + r.t0, ntok = r.batch() * r.len();
        const Window xw = window(op, x, tok * heads * hp, ntok * heads * hp);
        const Window yw = window(op, y, tok * heads * hp, ntok * heads * hp);
        const Window dw = window(op, in_.dt, tok * heads, ntok * heads);
        const Window bw = window(op, in_.B, tok * groups * n, ntok * groups * n);
        const Window cw = window(op, in_.C, tok * groups * n, ntok * groups * n);
        const Window sw = window(op, state, r.b0 * heads * hp * n, r.batch() * heads * hp * n);
        const SsdParams p{static_cast<uint32_t>(r.batch()), static_cast<uint32_t>(r.len()), static_cast<uint32_t>(heads),
                          static_cast<uint32_t>(hp), static_cast<uint32_t>(n), static_cast<uint32_t>(groups),
                          static_cast<uint32_t>(nchunks), in_.D ? 1u : 0u, in_.dt_bias ? 1u : 0u,
                          opt.dt_softplus ? 1u : 0u,
                          xw.shift, dw.shift, bw.shift, cw.shift, yw.shift, sw.shift};
        const Tensor& db = in_.dt_bias ? in_.dt_bias : x;  // absent inputs: bound to x, never read
        const Tensor& dk = in_.D ? in_.D : x;
        const Groups per_chunk{static_cast<uint32_t>(nchunks), static_cast<uint32_t>(heads), static_cast<uint32_t>(r.batch())};
        s.dispatch(dev.kernel("ssd_state_f32", spec),
                   {in(xw.view), in(dw.view), in(in_.A), in(bw.view), in(db), out(*states), out(*a_tot)}, p, per_chunk,
                   "ssd_state");
        s.dispatch(dev.kernel("ssd_pass_f32", spec), {in(*a_tot), inout(*states), inout(sw.view)}, p,
                   grid_1d(dev, ceil_div(static_cast<uint64_t>(r.batch() * heads * hp * n), wg)), "ssd_pass");
        s.dispatch(dev.kernel("ssd_out_f32", spec),
                   {in(xw.view), in(dw.view), in(in_.A), in(bw.view), in(db), in(cw.view), in(dk), in(*states),
                    out(yw.view)},
                   p, per_chunk, op);
    }
}

void ssd_step(Stream& s, const SsdInputs& in_, const Tensor& y, const Tensor& state, const SsdOptions& opt) {
    const char* op = "ssd_step";
    for (auto [t, nm, r] : {std::tuple{&in_.x, "x", 3}, {&in_.dt, "dt", 2}, {&in_.B, "B", 3}, {&in_.C, "C", 3}, {&y, "y", 3}})
        check_rank(op, *t, nm, r);
    SsdInputs seq = in_;
    seq.x = one_token(in_.x);
    seq.dt = one_token(in_.dt);
    seq.B = one_token(in_.B);
    seq.C = one_token(in_.C);
    ssd(s, seq, one_token(y), state, opt);
}

}  // namespace vkml::ops
