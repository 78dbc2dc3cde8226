// ops::quantize, ops::dequantize, quantize_on_host: checks, range splitting, dispatch.
#include "vkml/ops/quant.hpp"

#include <string>
#include <vector>

#include "matmul_quant.hpp"
#include "op_common.hpp"
#include "vkml/kernel.hpp"
#include "vkml/ops/quant_cpu.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

constexpr uint32_t kWorkgroup = 64;

// Mirrors `Params` in shaders/quantize.comp and shaders/dequantize.comp.
struct QuantizeParams {
    uint32_t nblocks, x_off, q_off;
};
struct DequantizeParams {
    uint32_t nvec, q_off, y_off;
};

std::string qname(DType t) { return std::string(dtype_name(t)); }

}  // namespace

void quantize(Stream& s, const Tensor& x, const Tensor& q) {
    const char* op = "quantize";
    check_dtype(op, x, "x", {DType::f32});
    check_dtype(op, q, "q", {DType::q8_0, DType::q4_0});
    check_same_shape(op, x, "x", q, "q");
    check_same_device(op, x, q);
    Device& dev = s.device();
    const DTypeInfo& info = dtype_info(q.dtype());
    const uint64_t blocks = static_cast<uint64_t>(q.numel()) / info.block_elems;
    const uint64_t cap = window_cap(dev);
    const uint64_t chunk = std::min<uint64_t>(cap / (info.block_elems * 4), UINT32_MAX / 64);
    if (chunk == 0) fail(op, "maxStorageBufferRange is too small for one block");
    const Kernel& k = dev.kernel("quantize_" + qname(q.dtype()), {kWorkgroup});
    for (uint64_t b0 = 0; b0 < blocks; b0 += chunk) {
        const uint64_t nb = std::min(chunk, blocks - b0);
        uint64_t xo = 0, qo = 0;
        const Binding xb = window_binding(dev, x, b0 * info.block_elems * 4, nb * info.block_elems * 4, Access::Read, xo);
        const Binding qb = window_binding(dev, q, b0 * info.block_bytes, nb * info.block_bytes, Access::ReadWrite, qo);
        const QuantizeParams p{static_cast<uint32_t>(nb), static_cast<uint32_t>(xo / 4), static_cast<uint32_t>(qo)};
        const Binding bindings[] = {xb, qb};
        s.dispatch_raw(k, bindings, 2, &p, sizeof(p), grid_1d(dev, ceil_div(nb, kWorkgroup)), op);
    }
}

void dequantize(Stream& s, const Tensor& q, const Tensor& y) {
    const char* op = "dequantize";
    check_dtype(op, q, "q", {DType::q8_0, DType::q4_0, DType::q6_k});
    check_dtype(op, y, "y", {DType::f32, DType::f16});
    check_same_shape(op, q, "q", y, "y");
    check_same_device(op, q, y);
    Device& dev = s.device();
    const bool f16 = y.dtype() == DType::f16;
    if (f16 && !dev.caps().fp16_storage)
        throw Error(ErrorKind::Unsupported, std::string(op) + ": device '" + dev.caps().name +
                                                "' lacks storageBuffer16BitAccess for f16 output " + y.describe());
    const DTypeInfo& info = dtype_info(q.dtype());
    const uint64_t esize = f16 ? 2 : 4;
    const uint64_t blocks = static_cast<uint64_t>(q.numel()) / info.block_elems;
    const uint64_t cap = window_cap(dev);
    const uint64_t chunk = std::min<uint64_t>(cap / (info.block_elems * esize), UINT32_MAX / 4 / info.block_elems);
    if (chunk == 0) fail(op, "maxStorageBufferRange is too small for one block");
    const Kernel& k = dev.kernel("dequantize_" + qname(q.dtype()) + (f16 ? "_f16" : "_f32"), {kWorkgroup});
    for (uint64_t b0 = 0; b0 < blocks; b0 += chunk) {
        const uint64_t nb = std::min(chunk, blocks - b0);
        uint64_t qo = 0, yo = 0;
        const Binding qb = window_binding(dev, q, b0 * info.block_bytes, nb * info.block_bytes, Access::Read, qo);
        const Binding yb = window_binding(dev, y, b0 * info.block_elems * esize, nb * info.block_elems * esize, Access::Write, yo);
        const uint64_t nvec = nb * info.block_elems / 4;
        const DequantizeParams p{static_cast<uint32_t>(nvec), static_cast<uint32_t>(qo), static_cast<uint32_t>(yo / esize)};
        const Binding bindings[] = {qb, yb};
        s.dispatch_raw(k, bindings, 2, &p, sizeof(p), grid_1d(dev, ceil_div(nvec, kWorkgroup)), op);
    }
}

Tensor quantize_on_host(Device& dev, DType t, const Shape& shape, const float* data, Pool pool) {
    if (!is_quantized(t))
        throw Error(ErrorKind::InvalidArgument,
                    "quantize_on_host: " + qname(t) + " is not a block-quantized type");
    Tensor q = Tensor::empty(dev, t, shape, pool);  // checks the last dim against the block
    std::vector<uint8_t> bytes(q.bytes());
    quantize_cpu(t, data, q.numel(), bytes.data());
    q.upload(bytes.data(), bytes.size());
    return q;
}

}  // namespace vkml::ops
