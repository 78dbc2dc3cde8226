// ops::matmul (f32 and f16 weights; matrix-vector and tiled paths) against ops/reference, on
// round and odd shapes, with tensors split over a lowered storage-buffer range, and bad input.
#include <tuple>

#include "vkml/ops/matmul.hpp"
#include "vkml/reference/matmul.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Matmul : public VkmlTest {};

struct Case {
    int64_t m, n, k;
};

// n <= 8 takes the matrix-vector kernel (one pipeline for n == 1, one for 2..8), n > 8 the
// tiled one: three pipelines per weight type in all.
const Case kCases[] = {
    {1, 1, 1},     {7, 1, 7},     {33, 1, 256},  {64, 1, 1000}, {4097, 1, 33},
    {7, 2, 31},    {33, 3, 32},   {64, 8, 1000}, {4097, 8, 7},  {33, 2, 33},
    {1, 9, 33},    {7, 17, 256},  {64, 9, 1},    {33, 64, 1000}, {64, 64, 256},
    {4097, 17, 31}, {1, 64, 7},
};

std::string case_name(const Case& c, DType t) {
    return std::string(dtype_name(t)) + " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) +
           " k=" + std::to_string(c.k);
}

// Runs one product on `dev` and compares with the reference (on the f16-rounded weights for f16).
void check_case(Device& dev, Stream& s, const Case& c, DType t, uint32_t seed,
                ops::MatmulKernel kernel = ops::MatmulKernel::Auto, double nmse = 5e-4) {
    SCOPED_TRACE(case_name(c, t));
    auto ws = random_floats(static_cast<size_t>(c.m * c.k), seed);
    const auto xs = random_floats(static_cast<size_t>(c.n * c.k), seed + 1);
    if (t == DType::f16) ws = reference::round_to_half(ws);
    Tensor w = Tensor::from_floats(dev, t, {c.m, c.k}, ws);
    Tensor x = Tensor::from_floats(dev, DType::f32, {c.n, c.k}, xs);
    Tensor y = Tensor::empty(dev, DType::f32, {c.n, c.m});
    ops::matmul(s, w, x, y, {.kernel = kernel});
    s.finish();
    EXPECT_NMSE_LE(reference::matmul(ws, xs, c.m, c.n, c.k), y.to_floats(), nmse);
}

TEST_F(Matmul, MatchesReferenceOnRoundAndOddShapes) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 1;
        for (DType t : {DType::f32, DType::f16}) {
            if (t == DType::f16 && !dev->caps().fp16_storage) continue;
            // Auto (what users get) and the tiled kernel forced on every shape.
            for (const Case& c : kCases) {
                check_case(*dev, s, c, t, seed += 2);
                check_case(*dev, s, c, t, seed += 2, ops::MatmulKernel::Tiled);
            }
        }
    }
}

TEST_F(Matmul, EveryKernelPathOnAnyDevice) {
    // The shared-memory reduction (for devices without subgroup arithmetic), the matrix-vector
    // kernel over n > 8 (chunks of 8 rows of x) and the tiled kernel on few rows.
    using ops::MatmulKernel;
    const Case gemv_cases[] = {{33, 1, 256}, {4097, 1, 33}, {64, 8, 1000}, {7, 3, 31}, {1, 2, 7}};
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 200;
        for (DType t : {DType::f32, DType::f16}) {
            if (t == DType::f16 && !dev->caps().fp16_storage) continue;
            for (const Case& c : gemv_cases) check_case(*dev, s, c, t, seed += 2, MatmulKernel::GemvShared);
            check_case(*dev, s, {33, 17, 256}, t, seed += 2, MatmulKernel::Gemv);
            check_case(*dev, s, {65, 1, 33}, t, seed += 2, MatmulKernel::Tiled);
            check_case(*dev, s, {4097, 3, 32}, t, seed += 2, MatmulKernel::Tiled);
        }
    }
}

TEST_F(Matmul, LongReductions) {
    // Long k loops: llvmpipe ends a shader's loops after 65535 iterations per invocation in
    // total, so rows this long must be spread over more threads (the first two failed before).
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        check_case(*dev, s, {7, 3, 600001}, DType::f32, 300);  // scalar loads
        check_case(*dev, s, {2, 1, 2400000}, DType::f32, 302);  // vec4 loads
        check_case(*dev, s, {7, 1, 99999}, DType::f32, 304);
        check_case(*dev, s, {33, 17, 16383}, DType::f32, 306, ops::MatmulKernel::Tiled);
        check_case(*dev, s, {7, 9, 70001}, DType::f32, 308, ops::MatmulKernel::Tiled);
    }
}

TEST_F(Matmul, F16KernelForCpuDevices) {
    // f16 weights, k a multiple of 256 of at least 512: CPU devices (lavapipe) take
    // shaders/gemv_quant_cpu.comp for any rows of x (two dispatches: the kernel and its chunk
    // sum; k = 512 c + 256 adds a third, the last 256 columns through its HALF variant); odd m
    // and n, one and many chunks, Llama-2's k = 11008. The weights are exact halves and the
    // kernel sums them in float, so it is held to float rounding (NMSE 1e-8), not the 5e-4 of a
    // lossy path.
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        if (!dev->caps().fp16_storage) continue;
        Stream s(*dev);
        uint32_t seed = 400;
        for (const Case& c : {Case{1, 1, 512}, Case{7, 1, 1536}, Case{65, 1, 4096}, Case{4097, 1, 512},
                              Case{7, 1, 768}, Case{65, 1, 11008}, Case{4097, 1, 1280}, Case{7, 9, 512},
                              Case{33, 17, 1536}, Case{65, 12, 11008}, Case{4097, 9, 512}})
            check_case(*dev, s, c, DType::f16, seed += 2, ops::MatmulKernel::Auto, 1e-8);
        if (dev->caps().type == DeviceType::Cpu) {
            for (const auto& [n, k, dispatches] : {std::tuple{1, 1024, 2u}, std::tuple{1, 768, 3u}, std::tuple{20, 768, 3u}}) {
                Tensor w = Tensor::empty(*dev, DType::f16, {9, k});
                Tensor x = Tensor::empty(*dev, DType::f32, {n, k}), y = Tensor::empty(*dev, DType::f32, {n, 9});
                Stream counted(*dev);
                ops::matmul(counted, w, x, y);
                EXPECT_EQ(counted.dispatch_count(), dispatches);
                counted.finish();
            }
        }
    }
}

TEST_F(Matmul, RowsLongerThanOneBinding) {
    // 1.2 MiB rows of x and w over a 1 MiB range: k is summed in chunks (y += per chunk).
    for (const auto& dev0 : devices()) {
        SCOPED_TRACE(dev0->caps().name);
        auto dev = Device::open_index(dev0->index(), DeviceOptions{.max_buffer_range = 1 << 20});
        Stream s(*dev);
        check_case(*dev, s, {5, 3, 300001}, DType::f32, 310);
        if (dev->caps().fp16_storage) check_case(*dev, s, {3, 2, 600003}, DType::f16, 312);
        check_case(*dev, s, {4, 9, 262145}, DType::f32, 314, ops::MatmulKernel::Tiled);
    }
}

TEST_F(Matmul, LeadingBatchDimsFoldIntoRows) {
    for (const auto& dev : devices()) {
        Stream s(*dev);
        for (int64_t rows : {int64_t{3}, int64_t{5}}) {  // n = 6 (matrix-vector) and 10 (tiled)
            const int64_t m = 33, k = 31;
            const auto ws = random_floats(m * k, 3), xs = random_floats(2 * rows * k, 4);
            Tensor w = Tensor::from_floats(*dev, DType::f32, {m, k}, ws);
            Tensor x = Tensor::from_floats(*dev, DType::f32, {2, rows, k}, xs);
            Tensor y = Tensor::empty(*dev, DType::f32, {2, rows, m});
            ops::matmul(s, w, x, y);
            s.finish();
            EXPECT_NMSE_LE(reference::matmul(ws, xs, m, 2 * rows, k), y.to_floats(), 5e-4);
        }
    }
}

TEST_F(Matmul, UnalignedTensorViews) {
    // Row slices start at offsets that are not multiples of the binding alignment (k odd): the
    // op binds from the aligned offset below and passes element offsets.
    const int64_t m = 33, k = 7;
    for (const auto& dev : devices()) {
        Stream s(*dev);
        for (int64_t n : {int64_t{1}, int64_t{17}})
            for (auto kernel : {ops::MatmulKernel::Auto, ops::MatmulKernel::Tiled}) {
                SCOPED_TRACE(n);
                const auto all_w = random_floats((m + 3) * k, 5), all_x = random_floats((n + 1) * k, 6);
                Tensor wall = Tensor::from_floats(*dev, DType::f32, {m + 3, k}, all_w);
                Tensor xall = Tensor::from_floats(*dev, DType::f32, {n + 1, k}, all_x);
                Tensor yall = Tensor::empty(*dev, DType::f32, {n + 1, m});
                ops::matmul(s, wall.row_slice(3, m), xall.row_slice(1, n), yall.row_slice(1, n),
                            {.kernel = kernel});
                s.finish();
                const std::vector<float> ws(all_w.begin() + 3 * k, all_w.end());
                const std::vector<float> xs(all_x.begin() + k, all_x.end());
                const auto got = yall.to_floats();
                EXPECT_NMSE_LE(reference::matmul(ws, xs, m, n, k),
                               std::vector<float>(got.begin() + m, got.end()), 5e-4);
            }
    }
}

TEST_F(Matmul, SplitsTensorsOverTheBufferRange) {
    for (const auto& shared : devices()) {
        SCOPED_TRACE(shared->caps().name);
        auto dev = Device::open_index(shared->index(), DeviceOptions{.max_buffer_range = 1 << 20});
        Stream s(*dev);
        // W of 6 MB (f32) / 3 MB (f16): split by rows of W, Y written by column ranges.
        check_case(*dev, s, {1500, 1, 1000}, DType::f32, 100);
        check_case(*dev, s, {1500, 17, 1000}, DType::f32, 110);
        check_case(*dev, s, {1500, 17, 1000}, DType::f32, 115, ops::MatmulKernel::Tiled);
        if (dev->caps().fp16_storage) {
            check_case(*dev, s, {1500, 3, 1000}, DType::f16, 120);
            check_case(*dev, s, {1500, 17, 1000}, DType::f16, 130);
            check_case(*dev, s, {1500, 17, 1000}, DType::f16, 135, ops::MatmulKernel::Tiled);
        }
        // One row of Y (1.2 MB) over the range: Y split by columns within a row.
        check_case(*dev, s, {300001, 3, 1}, DType::f32, 140);
        // Y (2.5 MB) and X (1.2 MB) over the range: split along n too.
        check_case(*dev, s, {70001, 9, 2}, DType::f32, 150);
        check_case(*dev, s, {70001, 9, 2}, DType::f32, 155, ops::MatmulKernel::Tiled);
        check_case(*dev, s, {33, 301, 1000}, DType::f32, 160);
        check_case(*dev, s, {33, 301, 1000}, DType::f32, 165, ops::MatmulKernel::Tiled);
    }
}

TEST_F(Matmul, BadInputIsAClearError) {
    for (const auto& dev : devices()) {
        Stream s(*dev);
        Tensor w = Tensor::empty(*dev, DType::f32, {8, 6});
        Tensor x = Tensor::empty(*dev, DType::f32, {4, 6});
        Tensor y = Tensor::empty(*dev, DType::f32, {4, 8});
        EXPECT_VKML_ERROR(ops::matmul(s, w, Tensor::empty(*dev, DType::f32, {4, 7}), y),
                          ErrorKind::InvalidArgument, "k = 7");
        EXPECT_VKML_ERROR(ops::matmul(s, w, x, Tensor::empty(*dev, DType::f32, {4, 7})),
                          ErrorKind::InvalidArgument, "[4, 8]");
        EXPECT_VKML_ERROR(ops::matmul(s, w, x, Tensor::empty(*dev, DType::f32, {5, 8})),
                          ErrorKind::InvalidArgument, "y f32[5, 8]");
        EXPECT_VKML_ERROR(ops::matmul(s, w, Tensor::empty(*dev, DType::f16, {4, 6}), y),
                          ErrorKind::InvalidArgument, "x must be f32");
        EXPECT_VKML_ERROR(ops::matmul(s, w, x, Tensor::empty(*dev, DType::f16, {4, 8})),
                          ErrorKind::InvalidArgument, "y must be f32");
        EXPECT_VKML_ERROR(ops::matmul(s, Tensor::empty(*dev, DType::i32, {8, 6}), x, y),
                          ErrorKind::InvalidArgument, "w must be");
        EXPECT_VKML_ERROR(ops::matmul(s, Tensor::empty(*dev, DType::f32, {2, 4, 6}), x, y),
                          ErrorKind::InvalidArgument, "[m, k]");
        EXPECT_VKML_ERROR(ops::matmul(s, Tensor(), x, y), ErrorKind::InvalidArgument, "empty");
        // Quantized weights pass the x/y checks and go to the quantized kernels.
        Tensor q = Tensor::empty(*dev, DType::q8_0, {8, 32});
        Tensor xq = Tensor::empty(*dev, DType::f32, {4, 32});
        EXPECT_VKML_ERROR(ops::matmul(s, q, Tensor::empty(*dev, DType::f32, {4, 6}), y),
                          ErrorKind::InvalidArgument, "k = 6");
        // Whatever the quantized kernels make of it (they own its tests), no crash and no
        // rejection by matmul's own checks.
        try {
            ops::matmul(s, q, xq, y);
            s.finish();
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()).find("matmul: x"), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find("matmul: y"), std::string::npos) << e.what();
        }
        // The stream is still usable afterwards.
        const auto ws = random_floats(8 * 6, 7), xs = random_floats(4 * 6, 8);
        w.upload(ws.data(), ws.size() * 4);
        x.upload(xs.data(), xs.size() * 4);
        ops::matmul(s, w, x, y);
        s.finish();
        EXPECT_NMSE_LE(reference::matmul(ws, xs, 8, 4, 6), y.to_floats(), 5e-4);
    }
}

}  // namespace
}  // namespace vkml::test
