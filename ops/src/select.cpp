#include "vkml/ops/select.hpp"

#include "row_reduce.hpp"

namespace vkml::ops {

using namespace detail;

namespace {

struct SelectParams {
    uint32_t rows, cols, k;
};
static_assert(sizeof(SelectParams) <= 128);

void check_x(const char* name, const Tensor& x) {
    check_dtype(name, x, "x", {DType::f32});
    if (x.numel() == 0) fail(name, "x " + x.describe() + " is empty");
    check_u32(name, x.rows(), "row count");
    check_u32(name, x.cols(), "column count");
}

}  // namespace

void argmax(Stream& s, const Tensor& x, const Tensor& idx) {
    const char* name = "argmax";
    check_x(name, x);
    check_dtype(name, idx, "idx", {DType::u32});
    check_same_device(name, x, idx);
    const int64_t rows = x.rows(), cols = x.cols();
    if (idx.numel() != rows)
        fail(name, "idx " + idx.describe() + " must hold one index per row of x " + x.describe() +
                       " (" + std::to_string(rows) + ")");
    Device& dev = s.device();
    const uint32_t wg = row_workgroup_size(dev);
    const Kernel& kern = dev.kernel(reduce_variant(dev, "argmax"), {wg});
    const Tensor x2 = x.reshape({rows, cols}), i2 = idx.reshape({rows, 1});
    for_each_row_chunk(dev, name, rows, {4 * static_cast<uint64_t>(cols), 4},
                       [&](int64_t first, int64_t count) {
        const SelectParams p{static_cast<uint32_t>(count), static_cast<uint32_t>(cols), 1};
        s.dispatch(kern, {in(x2.row_slice(first, count)), out(i2.row_slice(first, count))}, p,
                   grid_1d(dev, static_cast<uint64_t>(count)), name);
    });
}

void top_k(Stream& s, const Tensor& x, int k, const Tensor& values, const Tensor& indices) {
    const char* name = "top_k";
    check_x(name, x);
    check_dtype(name, values, "values", {DType::f32});
    check_dtype(name, indices, "indices", {DType::u32});
    check_same_device(name, x, values);
    check_same_device(name, x, indices);
    const int64_t rows = x.rows(), cols = x.cols();
    if (k < 1 || k > cols)
        fail(name, "k = " + std::to_string(k) + " must be in [1, " + std::to_string(cols) +
                       "] for x " + x.describe());
    for (const auto& [t, tn] : {std::pair{&values, "values"}, std::pair{&indices, "indices"}}) {
        if (t->cols() != k || t->rows() != rows)
            fail(name, std::string(tn) + " " + t->describe() + " must be [" + std::to_string(rows) +
                           ", " + std::to_string(k) + "] for x " + x.describe() + " and k = " +
                           std::to_string(k));
    }
    Device& dev = s.device();
    const uint32_t wg = row_workgroup_size(dev);
    const Kernel& kern = dev.kernel(reduce_variant(dev, "top_k"), {wg});
    const Tensor x2 = x.reshape({rows, cols});
    const Tensor v2 = values.reshape({rows, k}), i2 = indices.reshape({rows, k});
    const uint64_t out_row = 4 * static_cast<uint64_t>(k);
    for_each_row_chunk(dev, name, rows, {4 * static_cast<uint64_t>(cols), out_row},
                       [&](int64_t first, int64_t count) {
        const SelectParams p{static_cast<uint32_t>(count), static_cast<uint32_t>(cols),
                             static_cast<uint32_t>(k)};
        s.dispatch(kern, {in(x2.row_slice(first, count)), out(v2.row_slice(first, count)),
                          out(i2.row_slice(first, count))},
                   p, grid_1d(dev, static_cast<uint64_t>(count)), name);
    });
}

}  // namespace vkml::ops
