#include <memory>
#include <string>

#include "ssm_common.hpp"
#include "vkml/kernel.hpp"
#include "vkml/ops/ssm.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct ScanParams {
    uint32_t batch, len, dim, chunk, nchunks, has_d, has_z, has_dbias, softplus, write_back;
    // Ranges (ssm_common.hpp): element shifts of the windows; h_shift is that of binding H.
    uint32_t x_shift, dl_shift, b_shift, c_shift, z_shift, y_shift, st_shift, h_shift;
};
static_assert(sizeof(ScanParams) <= 128);

constexpr int64_t kMaxState = 64;  // h[N] lives in registers

// Enough chunks to fill the device (B*C*D invocations), but chunks of at least 32 tokens so the
// two extra passes stay cheap.
int64_t pick_chunk(const Device& dev, int64_t batch, int64_t len, int64_t dim) {
    const int64_t target = dev.caps().type == DeviceType::Cpu ? 4096 : 65536;
    const int64_t want_chunks = std::max<int64_t>(1, target / std::max<int64_t>(1, batch * dim));
    return std::max<int64_t>(32, (len + want_chunks - 1) / want_chunks);
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
    check_inputs(op, in_.x, {{&in_.A, "A", {dim, n}},
                             {&in_.delta, "delta", {batch, len, dim}},
                             {&in_.B, "B", {batch, len, n}},
                             {&in_.C, "C", {batch, len, n}},
                             {&y, "y", {batch, len, dim}},
                             {&state, "state", {batch, dim, n}},
                             {&in_.D, "D", {dim}, true},
                             {&in_.z, "z", {batch, len, dim}, true},
                             {&in_.delta_bias, "delta_bias", {dim}, true}});
    if (opt.chunk < 0) fail(op, "chunk must be >= 0, got " + std::to_string(opt.chunk));
    check_u32(op, in_.x.numel(), "element count");
    for (auto [t, nm] : {std::pair{&in_.A, "A"}, {&in_.D, "D"}, {&in_.delta_bias, "delta_bias"}}) check_fits(op, *t, nm);

    Device& dev = s.device();
    // The chunk comes from the whole problem and ranges start at chunk boundaries, so a split
    // run does exactly the arithmetic of an unsplit one.
    int64_t chunk = std::min(len, opt.chunk > 0 ? opt.chunk : pick_chunk(dev, batch, len, dim));
    if (has_loop_limit(dev.caps())) chunk = std::min<int64_t>(chunk, 50000 / (n + 4));
    const uint64_t state_bytes = static_cast<uint64_t>(dim * n) * 4;
    auto chunks_of = [&](int64_t tokens) { return (tokens + chunk - 1) / chunk; };
    const auto ranges = plan_seq_ranges(op, batch, len, chunk, [&](int64_t seqs, int64_t tokens) {
        // Per token: x, delta, z, y (D floats), B, C (N); per sequence: the state and, with
        // several chunks, the chunk summaries.
        const int64_t c = chunks_of(tokens);
        return seq_fits(dev, seqs, tokens, static_cast<uint64_t>(std::max(dim, n)) * 4,
                        state_bytes * static_cast<uint64_t>(c > 1 ? c : 1));
    });

    const uint32_t wg = std::min<uint32_t>(64, dev.caps().max_workgroup_invocations);
    const std::vector<uint32_t> spec{wg, static_cast<uint32_t>(n)};
    const Tensor& x = in_.x;
    // One chunk for the whole sequence: a single pass from and to `state`. Otherwise every
    // range takes the three passes, even a range of one chunk, as the unsplit run does.
    const bool single = chunks_of(len) == 1;
    // Chunk summaries, sized for the largest range and reused by the others.
    int64_t summary_slots = 0;
    for (const SeqRange& r : ranges) summary_slots = std::max(summary_slots, r.batch() * chunks_of(r.len()));
    std::shared_ptr<Tensor> summary, dt_sum;
    if (!single) {
        summary = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, {summary_slots, dim, n}));
        dt_sum = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, {summary_slots, dim}));
        s.hold(summary);
        s.hold(dt_sum);
    }
    for (const SeqRange& r : ranges) {
        const int64_t nchunks = chunks_of(r.len());
        const int64_t tok = r.b0 * len + r.t0, ntok = r.batch() * r.len();
        const Window xw = window(op, x, tok * dim, ntok * dim), dw = window(op, in_.delta, tok * dim, ntok * dim);
        const Window bw = window(op, in_.B, tok * n, ntok * n), cw = window(op, in_.C, tok * n, ntok * n);
        const Window yw = window(op, y, tok * dim, ntok * dim);
        const Window sw = window(op, state, r.b0 * dim * n, r.batch() * dim * n);
        // Absent optional inputs are bound to x (read-only, never read).
        const Window zw = in_.z ? window(op, in_.z, tok * dim, ntok * dim) : xw;
        const Tensor& dk = in_.D ? in_.D : x;
        const Tensor& db = in_.delta_bias ? in_.delta_bias : x;
        ScanParams p{static_cast<uint32_t>(r.batch()), static_cast<uint32_t>(r.len()), static_cast<uint32_t>(dim),
                     static_cast<uint32_t>(chunk), static_cast<uint32_t>(nchunks),
                     in_.D ? 1u : 0u, in_.z ? 1u : 0u, in_.delta_bias ? 1u : 0u,
                     opt.delta_softplus ? 1u : 0u, 0u,
                     xw.shift, dw.shift, bw.shift, cw.shift, zw.shift, yw.shift, sw.shift, 0u};
        const Groups per_chunk = grid_1d(dev, ceil_div(static_cast<uint64_t>(r.batch() * nchunks * dim), wg));
        if (single) {
            p.write_back = 1;
            p.h_shift = sw.shift;
            s.dispatch(dev.kernel("ss_out_f32", spec),
                       {in(xw.view), in(dw.view), in(in_.A), in(bw.view), in(cw.view), in(dk), in(zw.view), in(db),
                        inout(sw.view), out(yw.view)},
                       p, per_chunk, op);
            continue;
        }
        s.dispatch(dev.kernel("ss_chunk_f32", spec),
                   {in(xw.view), in(dw.view), in(in_.A), in(bw.view), in(db), out(*summary), out(*dt_sum)}, p,
                   per_chunk, "selective_scan_chunk");
        s.dispatch(dev.kernel("ss_carry_f32", spec), {in(in_.A), in(*dt_sum), inout(*summary), inout(sw.view)},
                   p, grid_1d(dev, ceil_div(static_cast<uint64_t>(r.batch() * dim * n), wg)),
                   "selective_scan_carry");
        s.dispatch(dev.kernel("ss_out_f32", spec),
                   {in(xw.view), in(dw.view), in(in_.A), in(bw.view), in(cw.view), in(dk), in(zw.view), in(db),
                    inout(*summary), out(yw.view)},
                   p, per_chunk, op);
    }
}

void selective_scan_step(Stream& s, const SelectiveScanInputs& in_, const Tensor& y, const Tensor& state,
                         const SelectiveScanOptions& opt) {
    const char* op = "selective_scan_step";
    for (auto [t, nm] : {std::pair{&in_.x, "x"}, {&in_.delta, "delta"}, {&in_.B, "B"}, {&in_.C, "C"}, {&y, "y"}})
        check_rank(op, *t, nm, 2);
    if (in_.z) check_rank(op, in_.z, "z", 2);
    SelectiveScanInputs seq = in_;
    seq.x = one_token(in_.x);
    seq.delta = one_token(in_.delta);
    seq.B = one_token(in_.B);
    seq.C = one_token(in_.C);
    seq.z = one_token(in_.z);
    selective_scan(s, seq, one_token(y), state, opt);
}

}  // namespace vkml::ops
