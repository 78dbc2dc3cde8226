// RoPE: one invocation per (token, head, pair); see shaders/rope.comp.
#include <cmath>

#include "op_common.hpp"
#include "vkml/ops/attention.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct RopeParams {
    uint32_t rows, heads, head_dim, rot_dims, mode, start_pos;
    float log2_theta, freq_scale;
};
static_assert(sizeof(RopeParams) <= 128);

constexpr uint32_t kRopeWorkgroup = 128;

void run(Stream& s, const Tensor& x, const Tensor& y, const Tensor* positions, int64_t start_pos,
         const RopeOptions& o) {
    const char* name = "rope";
    check_dtype(name, x, "x", {DType::f32});
    check_dtype(name, y, "y", {DType::f32});
    check_same_device(name, x, y);
    check_same_shape(name, x, "x", y, "y");
    if (x.rank() != 3) fail(name, "x " + x.describe() + " must be [tokens, heads, head_dim]");
    const int64_t tokens = x.dim(0), heads = x.dim(1), head_dim = x.dim(2);
    if (x.numel() == 0) fail(name, "x " + x.describe() + " is empty");
    if (head_dim % 2 != 0) fail(name, "head_dim of x " + x.describe() + " must be even");
    const int64_t rot = o.rot_dims == 0 ? head_dim : o.rot_dims;
    if (rot <= 0 || rot % 2 != 0 || rot > head_dim)
        fail(name, "rot_dims " + std::to_string(o.rot_dims) + " must be even and in (0, head_dim " +
                       std::to_string(head_dim) + "]");
    if (!(o.theta > 1.0f) || !std::isfinite(o.theta))
        fail(name, "theta " + std::to_string(o.theta) + " must be a finite value > 1");
    if (!std::isfinite(o.freq_scale)) fail(name, "freq_scale must be finite");
    check_u32(name, x.numel() / 2, "pair count");
    Device& dev = s.device();
    const uint64_t range = dev.caps().max_storage_buffer_range;
    if (x.bytes() > range)
        throw Error(ErrorKind::Unsupported, std::string(name) + ": x " + x.describe() +
                                                " exceeds maxStorageBufferRange " + std::to_string(range));
    if (positions) {
        check_dtype(name, *positions, "positions", {DType::u32, DType::i32});
        check_same_device(name, x, *positions);
        if (positions->numel() != tokens)
            fail(name, "positions " + positions->describe() + " must hold one entry per token of x " +
                           x.describe());
    } else {
        if (start_pos < 0) fail(name, "start_pos " + std::to_string(start_pos) + " is negative");
        check_u32(name, start_pos + tokens, "start_pos + tokens");
    }
    const RopeParams p{static_cast<uint32_t>(tokens * heads), static_cast<uint32_t>(heads),
                       static_cast<uint32_t>(head_dim),      static_cast<uint32_t>(rot),
                       o.mode == RopeMode::HalfSplit ? 1u : 0u,
                       static_cast<uint32_t>(positions ? 0 : start_pos),
                       static_cast<float>(std::log2(static_cast<double>(o.theta))), o.freq_scale};
    const Groups g = grid_1d(dev, ceil_div(static_cast<uint64_t>(x.numel() / 2), kRopeWorkgroup));
    if (positions) {
        const Kernel& k = dev.kernel("rope_positions", {kRopeWorkgroup});
        s.dispatch(k, {in(x), out(y), in(*positions)}, p, g, name);
    } else {
        const Kernel& k = dev.kernel("rope_consecutive", {kRopeWorkgroup});
        s.dispatch(k, {in(x), out(y)}, p, g, name);
    }
}

}  // namespace

void rope(Stream& s, const Tensor& x, const Tensor& y, const Tensor& positions,
          const RopeOptions& opts) {
    run(s, x, y, &positions, 0, opts);
}

void rope(Stream& s, const Tensor& x, const Tensor& y, int64_t start_pos, const RopeOptions& opts) {
    run(s, x, y, nullptr, start_pos, opts);
}

}  // namespace vkml::ops
