#include <memory>
#include <string>
#include <utility>

#include "op_common.hpp"
#include "vkml/kernel.hpp"
#include "vkml/ops/ssm.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct S5Params {
    uint32_t batch, len, states, hdim, seg, block, nblocks, write_back;
};
static_assert(sizeof(S5Params) <= 128);

constexpr uint32_t kStatesPerGroup = 8;  // x: consecutive states, so loads coalesce
constexpr uint32_t kTokensPerInvocation = 16;

void check_dims(const char* op, const Tensor& t, const char* name, const Shape& want) {
    check_dtype(op, t, name, {DType::f32});
    if (t.shape() != want)
        fail(op, std::string(name) + " " + t.describe() + " must have shape " + shape_string(want));
}

void check_fits(const char* op, const Tensor& t, const char* name) {
    if (t.bytes() > t.device().caps().max_storage_buffer_range)
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + name + " " + t.describe() +
                                                " exceeds maxStorageBufferRange");
}

}  // namespace

void s5(Stream& s, const Tensor& u, const S5Weights& w, const Tensor& y, const Tensor& state) {
    const char* op = "s5";
    check_dtype(op, u, "u", {DType::f32});
    check_dtype(op, w.lambda, "lambda", {DType::f32});
    if (u.rank() != 3) fail(op, "u " + u.describe() + " must be [Bt, L, H]");
    if (w.lambda.rank() != 2) fail(op, "lambda " + w.lambda.describe() + " must be [P, 2]");
    const int64_t batch = u.dim(0), len = u.dim(1), hdim = u.dim(2), states = w.lambda.dim(0);
    if (batch < 1 || len < 1 || hdim < 1 || states < 1) fail(op, "u " + u.describe() + " or lambda " + w.lambda.describe() + " is empty");
    check_dims(op, w.lambda, "lambda", {states, 2});
    check_dims(op, w.log_step, "log_step", {states});
    check_dims(op, w.B, "B", {states, hdim, 2});
    check_dims(op, w.C, "C", {hdim, states, 2});
    check_dims(op, w.D, "D", {hdim});
    check_dims(op, y, "y", {batch, len, hdim});
    check_dims(op, state, "state", {batch, states, 2});
    for (const Tensor* t : {&w.lambda, &w.log_step, &w.B, &w.C, &w.D, &y, &state}) check_same_device(op, u, *t);
    check_u32(op, batch * len * std::max(hdim, states), "element count");

    Device& dev = s.device();
    const Capabilities& caps = dev.caps();
    const uint32_t segs = std::min<uint32_t>(32, caps.max_workgroup_invocations / kStatesPerGroup);
    const uint32_t block = segs * kTokensPerInvocation;
    const int64_t nblocks = (len + block - 1) / block;
    if (nblocks > caps.max_workgroup_count[1] || batch > caps.max_workgroup_count[2])
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + u.describe() + " needs more workgroups than the device allows");
    auto xs = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, {batch, len, states, 2}));
    s.hold(xs);
    for (auto [t, nm] : {std::pair{&u, "u"}, {&y, "y"}, {xs.get(), "scan scratch"}}) check_fits(op, *t, nm);

    const uint32_t wg = std::min<uint32_t>(256, caps.max_workgroup_invocations);
    S5Params p{static_cast<uint32_t>(batch), static_cast<uint32_t>(len), static_cast<uint32_t>(states),
               static_cast<uint32_t>(hdim), kTokensPerInvocation, block, static_cast<uint32_t>(nblocks), 0u};
    const std::vector<uint32_t> spec1d{wg, 1}, spec2d{kStatesPerGroup, segs};
    const Groups scan_groups{ceil_div(states, kStatesPerGroup), static_cast<uint32_t>(nblocks), static_cast<uint32_t>(batch)};

    s.dispatch(dev.kernel("s5_bu_f32", spec1d), {in(w.lambda), in(w.log_step), in(w.B), in(u), out(*xs)}, p,
               grid_1d(dev, ceil_div(static_cast<uint64_t>(batch * len * states), wg)), "s5_bu");
    if (nblocks == 1) {
        p.write_back = 1;
        s.dispatch(dev.kernel("s5_out_f32", spec2d), {in(w.lambda), in(w.log_step), inout(*xs), inout(state)}, p,
                   scan_groups, "s5_scan");
    } else {
        auto carry = std::make_shared<Tensor>(Tensor::empty(dev, DType::f32, {batch, nblocks, states, 2}));
        s.hold(carry);
        s.dispatch(dev.kernel("s5_block_f32", spec2d), {in(w.lambda), in(w.log_step), in(*xs), out(*carry)}, p,
                   scan_groups, "s5_block");
        s.dispatch(dev.kernel("s5_carry_f32", spec1d), {in(w.lambda), in(w.log_step), inout(*carry), inout(state)}, p,
                   grid_1d(dev, ceil_div(static_cast<uint64_t>(batch * states), wg)), "s5_carry");
        s.dispatch(dev.kernel("s5_out_f32", spec2d), {in(w.lambda), in(w.log_step), inout(*xs), inout(*carry)}, p,
                   scan_groups, "s5_scan");
    }
    s.dispatch(dev.kernel("s5_y_f32", spec1d), {in(w.C), in(w.D), in(u), in(*xs), out(y)}, p,
               grid_1d(dev, ceil_div(static_cast<uint64_t>(batch * len * hdim), wg)), "s5_y");
}

void s5_step(Stream& s, const Tensor& u, const S5Weights& w, const Tensor& y, const Tensor& state) {
    const char* op = "s5_step";
    check_present(op, u, "u");
    check_present(op, y, "y");
    if (u.rank() != 2 || y.rank() != 2) fail(op, "u " + u.describe() + " and y " + y.describe() + " must be [Bt, H]");
    s5(s, u.reshape({u.dim(0), 1, u.dim(1)}), w, y.reshape({y.dim(0), 1, y.dim(1)}), state);
}

}  // namespace vkml::ops
