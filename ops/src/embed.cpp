#include "vkml/ops/embed.hpp"

#include "op_common.hpp"
#include "vkml/kernel.hpp"

namespace vkml::ops {

using namespace detail;

namespace {
struct EmbedParams {
    uint32_t n, dim, first, rows;
};
static_assert(sizeof(EmbedParams) <= 128);
}  // namespace

void embed(Stream& s, const Tensor& table, const Tensor& ids, const Tensor& y) {
    const char* op = "embed";
    check_dtype(op, table, "table", {DType::f32, DType::f16});
    check_dtype(op, ids, "ids", {DType::u32, DType::i32});
    check_dtype(op, y, "y", {DType::f32});
    check_same_device(op, table, ids);
    check_same_device(op, table, y);
    if (table.rank() != 2) fail(op, "table must be [vocab, dim], got " + table.describe());
    const int64_t n = ids.numel(), dim = table.dim(1);
    if (y.rows() != n || y.cols() != dim)
        fail(op, "y " + y.describe() + " must be [" + std::to_string(n) + ", " + std::to_string(dim) +
                     "] for " + std::to_string(n) + " ids into " + table.describe());
    check_u32(op, table.dim(0), "vocabulary");
    check_u32(op, y.numel(), "output size");
    Device& dev = s.device();
    if (table.dtype() == DType::f16 && !dev.caps().fp16_storage)
        throw Error(ErrorKind::Unsupported, "embed: device '" + dev.caps().name + "' lacks 16-bit storage for f16 tables");
    if (static_cast<uint64_t>(n) > dev.caps().max_workgroup_count[1])
        fail(op, std::to_string(n) + " ids exceed the device's workgroup count limit; embed in batches");
    const uint32_t wg = std::min<uint32_t>(256, dev.caps().max_workgroup_invocations);
    const Kernel& k = dev.kernel(table.dtype() == DType::f32 ? "embed_f32" : "embed_f16", {wg});
    const uint64_t row_bytes = table.bytes() / static_cast<uint64_t>(table.dim(0));
    const int64_t chunk = rows_per_binding(dev, op, row_bytes);
    const Groups groups{std::min<uint32_t>(ceil_div(dim, wg), 64), static_cast<uint32_t>(n), 1};
    for (int64_t first = 0; first < table.dim(0); first += chunk) {
        const int64_t rows = std::min(chunk, table.dim(0) - first);
        const EmbedParams p{static_cast<uint32_t>(n), static_cast<uint32_t>(dim), static_cast<uint32_t>(first),
                            static_cast<uint32_t>(rows)};
        s.dispatch(k, {in(table.row_slice(first, rows)), in(ids), out(y)}, p, groups, op);
    }
}

}  // namespace vkml::ops
