// Quantized matrix-vector product (n <= 8; the decode hot loop) for q8_0, q4_0, q6_k against the
// dequantized reference, NMSE <= 5e-4, on odd m and several k; every kernel flavour (subgroup,
// shared-memory reduction, whole rows per invocation);
// tensors split over a lowered storage-buffer range; bad input.
#include <cstdlib>
#include <tuple>
#include <vector>

#include "vkml/ops/matmul.hpp"
#include "vkml/ops/quant.hpp"
#include "vkml/reference/quant.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class QuantGemv : public VkmlTest {};

struct Case {
    int64_t m, n, k;
};

// One product through ops::matmul (or matmul_quantized with options) against the reference on
// the weights' own dequantized values.
// lead: W starts after `lead` other weights of the same buffer (a view at a byte offset; a
// multiple of k skips whole rows, a multiple of the block alone starts W mid-row). nmse: the bound.
void check(Device& dev, Stream& s, DType t, const Case& c, uint32_t seed, const ops::QuantMatmulOptions* opts = nullptr,
           int64_t lead = 0, double nmse = 5e-4) {
    SCOPED_TRACE(std::string(dtype_name(t)) + " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) +
                 " k=" + std::to_string(c.k) + " lead=" + std::to_string(lead));
    const auto ws = random_floats(static_cast<size_t>(lead + c.m * c.k), seed);
    const auto xs = random_floats(static_cast<size_t>(c.n * c.k), seed + 1);
    const Tensor flat = ops::quantize_on_host(dev, t, {1, lead + c.m * c.k}, ws.data());
    Tensor w = Tensor::view_of(flat.buffer(), flat.offset() + dtype_bytes(t, static_cast<uint64_t>(lead)), t, {c.m, c.k});
    Tensor x = Tensor::from_floats(dev, DType::f32, {c.n, c.k}, xs);
    Tensor y = Tensor::empty(dev, DType::f32, {c.n, c.m});
    if (opts) ops::matmul_quantized(s, w, x, y, *opts);
    else ops::matmul(s, w, x, y);
    s.finish();
    const auto ref = reference::matmul_quantized(t, w.to_vector<uint8_t>(), xs, c.m, c.n, c.k);
    EXPECT_NMSE_LE(ref, y.to_floats(), nmse);
}

// k for q8_0/q4_0 (block 32; 96 gives rows of an odd number of blocks, 2-aligned) and q6_k (256).
std::vector<int64_t> ks(DType t) {
    if (t == DType::q6_k) return {256, 768};
    return {32, 96, 1024};
}

// The CPU-shaped kernel, forced; it dequantizes every weight exactly, so it is held to float
// rounding (NMSE 1e-8; one weight off by one step is ~1e-5), not the 5e-4 of a lossy path.
const ops::QuantMatmulOptions kCpu{.kernel = ops::QuantKernel::GemvCpu, .int_dot = ops::IntDot::Off};
constexpr double kExact = 1e-8;

// Dispatches one product of t weights [9, k] with n rows of x records (opts null: ops::matmul).
uint32_t dispatches(Device& dev, DType t, int64_t n, int64_t k, const ops::QuantMatmulOptions* opts) {
    Tensor w = Tensor::empty(dev, t, {9, k});
    Tensor x = Tensor::empty(dev, DType::f32, {n, k}), y = Tensor::empty(dev, DType::f32, {n, 9});
    Stream counted(dev);
    if (opts) ops::matmul_quantized(counted, w, x, y, *opts);
    else ops::matmul(counted, w, x, y);
    const uint32_t count = counted.dispatch_count();
    counted.finish();
    return count;
}

TEST_F(QuantGemv, MatchesReference) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 1;
        for (DType t : {DType::q8_0, DType::q4_0, DType::q6_k}) {
            for (int64_t k : ks(t))
                for (int64_t m : {1, 7, 33})
                    for (int64_t n : {1, 3, 8}) check(*dev, s, t, {m, n, k}, seed += 2);
            check(*dev, s, t, {4097, 1, ks(t)[0]}, seed += 2);
            check(*dev, s, t, {4097, 8, ks(t)[0]}, seed += 2);
        }
    }
}

TEST_F(QuantGemv, EveryFlavourAndChunksOfEight) {
    const ops::QuantMatmulOptions gemv{.kernel = ops::QuantKernel::Gemv, .int_dot = ops::IntDot::Off};
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 100;
        for (ops::QuantKernel kernel : {ops::QuantKernel::GemvShared, ops::QuantKernel::GemvRows,
                                        ops::QuantKernel::GemvSubgroup}) {
            const ops::QuantMatmulOptions opts{.kernel = kernel, .int_dot = ops::IntDot::Off};
            for (DType t : {DType::q8_0, DType::q4_0, DType::q6_k})
                for (const Case& c : {Case{33, 3, ks(t)[1]}, Case{7, 1, ks(t)[0]}}) check(*dev, s, t, c, seed += 2, &opts);
        }
        for (DType t : {DType::q8_0, DType::q4_0, DType::q6_k})
            check(*dev, s, t, {33, 19, ks(t)[0]}, seed += 2, &gemv);  // n > 8 in chunks of 8
    }
}

TEST_F(QuantGemv, CpuShapedKernel) {
    // shaders/gemv_quant_cpu.comp (q4_0/q8_0/q6_k, one row of x, k a multiple of 256 of at least
    // 512): odd m (rows past m in the last workgroup), one and many chunks, the k of a Llama FFN;
    // q6_k rows at every word phase of a 16-byte texel (k = 512: 105 words a row), W starting
    // mid-buffer; a half chunk at the end (k = 768, and Llama-2's 11008: the last 256 columns
    // through the HALF variant; q4_0/q8_0 rows 16-byte aligned, q6_k rows 2-byte aligned, the
    // PHASED variant); q6_k W 2 bytes into a word with rows of whole words (every row PHASED);
    // the last row's texels past the binding clamped; held to kExact. Shapes it does not take
    // fall back to the other kernels.
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 200;
        for (DType t : {DType::q4_0, DType::q8_0, DType::q6_k})
            for (const Case& c : {Case{1, 1, 512}, Case{7, 1, 1536}, Case{65, 1, 14336}, Case{4097, 1, 512}})
                check(*dev, s, t, c, seed += 2, &kCpu, 0, kExact);
        for (int64_t rows : {1, 3, 5}) check(*dev, s, DType::q6_k, {19, 1, 1024}, seed += 2, &kCpu, rows * 1024, kExact);
        check(*dev, s, DType::q4_0, {19, 1, 1024}, seed += 2, &kCpu, 3 * 1024, kExact);
        for (DType t : {DType::q4_0, DType::q8_0, DType::q6_k})
            for (const Case& c : {Case{7, 1, 768}, Case{65, 1, 11008}, Case{1, 1, 1280}})
                check(*dev, s, t, c, seed += 2, &kCpu, c.k, kExact);
        check(*dev, s, DType::q6_k, {9, 1, 1024}, seed += 2, &kCpu, 256, kExact);  // W 210 bytes in
        // It really runs: the kernel and its chunk reduction, two dispatches (a half chunk at the
        // end: three).
        for (const auto& [t, k, count] : {std::tuple{DType::q4_0, 1024, 2u}, std::tuple{DType::q6_k, 1024, 2u},
                                          std::tuple{DType::q8_0, 768, 3u}, std::tuple{DType::q6_k, 768, 3u}})
            EXPECT_EQ(dispatches(*dev, t, 1, k, &kCpu), count);
        {
            // The HALF variant writes partial sums of its own: it runs beside the kernel, and
            // only the chunk sums wait for both (one barrier), for one row of x or several (64
            // rows of W, so its range starts on the binding alignment).
            for (int64_t n : {1, 5}) {
                Tensor w = Tensor::empty(*dev, DType::q4_0, {64, 768});
                Tensor x = Tensor::empty(*dev, DType::f32, {n, 768}), y = Tensor::empty(*dev, DType::f32, {n, 64});
                Stream counted(*dev);
                ops::matmul_quantized(counted, w, x, y, kCpu);
                EXPECT_EQ(counted.barrier_count(), 1u);
                counted.finish();
            }
        }
        for (const Case& c : {Case{7, 1, 96}, Case{7, 1, 256}}) check(*dev, s, DType::q4_0, c, seed += 2, &kCpu);
        check(*dev, s, DType::q6_k, {7, 1, 256}, seed += 2, &kCpu);
    }
    for (const auto& d : devices()) {
        // 64 KiB bindings: 300 rows of 1024 q4_0 (576 bytes; q8_0: 1088; q6_k: 840) over several
        // dispatches; q6_k's last row ends inside a binding, not on a 32-byte vector.
        auto dev = Device::open_index(d->index(), DeviceOptions{.max_buffer_range = 1 << 16});
        Stream s(*dev);
        check(*dev, s, DType::q4_0, {300, 1, 1024}, 11, &kCpu, 0, kExact);
        check(*dev, s, DType::q8_0, {300, 1, 1024}, 13, &kCpu, 0, kExact);
        check(*dev, s, DType::q6_k, {300, 1, 1024}, 15, &kCpu, 1024, kExact);
        check(*dev, s, DType::q4_0, {200, 1, 1280}, 17, &kCpu, 1280, kExact);
        check(*dev, s, DType::q6_k, {200, 1, 1280}, 19, &kCpu, 1280, kExact);
    }
}

TEST_F(QuantGemv, CpuShapedKernelTakesPrompts) {
    // The same kernel over many rows of x (the grid's z; a prompt): Auto takes it for any n on
    // CPU devices. Odd n, one chunk and many, half chunks, q6_k rows at every phase, W mid-buffer,
    // held to kExact; rows of x, W and partial sums split over a lowered buffer range.
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 600;
        for (DType t : {DType::q4_0, DType::q8_0, DType::q6_k}) {
            for (const Case& c : {Case{7, 2, 1024}, Case{33, 19, 1536}, Case{65, 70, 11008}, Case{4097, 9, 512}})
                check(*dev, s, t, c, seed += 2, &kCpu, 0, kExact);
            check(*dev, s, t, {19, 11, 1280}, seed += 2, &kCpu, 1280, kExact);
            check(*dev, s, t, {19, 12, 1024}, seed += 2, nullptr, 0, kExact);  // Auto
        }
        if (dev->caps().type == DeviceType::Cpu) {
            // Auto on a CPU device: the kernel and its chunk sums (a half chunk: three dispatches).
            for (const auto& [n, k, count] : {std::tuple{20, 1024, 2u}, std::tuple{20, 768, 3u}, std::tuple{4, 1024, 2u}})
                EXPECT_EQ(dispatches(*dev, DType::q4_0, n, k, nullptr), count);
        }
    }
    for (const auto& d : devices()) {
        // 64 KiB bindings: 300 rows of 1024 and 40 rows of x (4 KiB each): slices of W rows and
        // of x rows.
        auto dev = Device::open_index(d->index(), DeviceOptions{.max_buffer_range = 1 << 16});
        Stream s(*dev);
        check(*dev, s, DType::q4_0, {300, 40, 1024}, 21, &kCpu, 0, kExact);
        check(*dev, s, DType::q6_k, {200, 40, 1280}, 23, &kCpu, 1280, kExact);
    }
}

// W as models upload it on CPU devices (ops::upload_matmul_weight, rows interleaved for the CPU
// kernel): the same kernel over the same values in another order, so y must equal, bit for bit,
// y from the dense W (which CpuShapedKernel holds to the reference).
void check_interleaved(Device& dev, Stream& s, DType t, const Case& c, uint32_t seed) {
    SCOPED_TRACE(std::string(dtype_name(t)) + " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) +
                 " k=" + std::to_string(c.k));
    const auto ws = random_floats(static_cast<size_t>(c.m * c.k), seed);
    const auto xs = random_floats(static_cast<size_t>(c.n * c.k), seed + 1);
    const Tensor dense = t == DType::f16 ? Tensor::from_floats(dev, t, {c.m, c.k}, ws)
                                         : ops::quantize_on_host(dev, t, {c.m, c.k}, ws.data());
    const std::vector<uint8_t> bytes = dense.to_vector<uint8_t>();
    const Tensor il = ops::upload_matmul_weight(dev, t, {c.m, c.k}, bytes.data(), bytes.size(), ops::WeightLayout::Interleave);
    ASSERT_TRUE(il.interleave());
    const uint64_t group = il.interleave().group_rows();
    EXPECT_EQ(group, uint64_t{dev.caps().subgroup_size} * 16);
    const uint64_t row = t == DType::q6_k ? c.k / 512 * 432 + (c.k % 512 ? 224 : 0) : dtype_bytes(t, c.k);
    EXPECT_EQ(il.bytes(), (static_cast<uint64_t>(c.m) + group - 1) / group * group * row);
    Tensor x = Tensor::from_floats(dev, DType::f32, {c.n, c.k}, xs);
    Tensor y_dense = Tensor::empty(dev, DType::f32, {c.n, c.m}), y_il = Tensor::empty(dev, DType::f32, {c.n, c.m});
    const ops::QuantMatmulOptions cpu{.kernel = ops::QuantKernel::GemvCpu, .int_dot = ops::IntDot::Off};
    if (t == DType::f16) ops::matmul(s, dense, x, y_dense);  // Auto: the CPU kernel on CPU devices
    else ops::matmul_quantized(s, dense, x, y_dense, cpu);
    ops::matmul(s, il, x, y_il);
    s.finish();
    const std::vector<float> a = y_dense.to_floats(), b = y_il.to_floats();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) FAIL() << "y[" << i << "]: " << b[i] << " interleaved vs " << a[i] << " dense";
    if (t != DType::f16) EXPECT_NMSE_LE(reference::matmul_quantized(t, bytes, xs, c.m, c.n, c.k), b, kExact);
}

TEST_F(QuantGemv, InterleavedWeightsMatchDense) {
    // Odd m (a last group of 1, 7, 33, 129 - 128 rows padded), decode and prompts, one chunk,
    // many and a half chunk; and over 256 KiB bindings, slices of whole groups of rows.
    for (const auto& dev : devices()) {
        if (dev->caps().type != DeviceType::Cpu || !dev->caps().fp16_storage) continue;  // the CPU kernel is for CPU devices
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 900;
        for (DType t : {DType::q4_0, DType::q8_0, DType::q6_k, DType::f16}) {
            for (const Case& c : {Case{1, 1, 512}, Case{7, 3, 768}, Case{33, 1, 1536}, Case{129, 11, 1024}, Case{300, 2, 2816}})
                check_interleaved(*dev, s, t, c, seed += 2);
        }
        // Auto interleaves on CPU devices, and $VKML_INTERLEAVE_WEIGHTS=0 turns it off; shapes the
        // CPU kernel does not take (k < 512) and Dense stay dense. q6_k rows are padded (a chunk's
        // 420 bytes to 432, a half chunk's 210 to 224).
        const std::vector<uint8_t> q(dtype_bytes(DType::q8_0, 9 * 512), 0);
        EXPECT_TRUE(ops::upload_matmul_weight(*dev, DType::q8_0, {9, 512}, q.data(), q.size()).interleave());
        ::setenv("VKML_INTERLEAVE_WEIGHTS", "0", 1);
        EXPECT_FALSE(ops::upload_matmul_weight(*dev, DType::q8_0, {9, 512}, q.data(), q.size()).interleave());
        ::unsetenv("VKML_INTERLEAVE_WEIGHTS");
        EXPECT_FALSE(ops::upload_matmul_weight(*dev, DType::q8_0, {18, 256}, q.data(), q.size()).interleave());
        EXPECT_FALSE(ops::upload_matmul_weight(*dev, DType::q8_0, {9, 512}, q.data(), q.size(), ops::WeightLayout::Dense)
                         .interleave());
        const std::vector<uint8_t> q6(dtype_bytes(DType::q6_k, 2 * 768), 0);
        const Tensor w6 = ops::upload_matmul_weight(*dev, DType::q6_k, {2, 768}, q6.data(), q6.size());
        EXPECT_TRUE(w6.interleave());
        EXPECT_EQ(w6.bytes(), w6.interleave().group_rows() * (432 + 224));
    }
    for (const auto& d : devices()) {
        if (d->caps().type != DeviceType::Cpu) continue;
        auto dev = Device::open_index(d->index(), DeviceOptions{.max_buffer_range = 1 << 18});
        Stream s(*dev);
        check_interleaved(*dev, s, DType::q4_0, {1000, 3, 1024}, 31);  // groups of 128 x 576 bytes, 3 slices
        check_interleaved(*dev, s, DType::q6_k, {300, 2, 1280}, 33);   // 128 x 1088 bytes, 3 slices
    }
}

TEST_F(QuantGemv, InterleavedWeightsOnlyGoToMatmul) {
    for (const auto& dev : devices()) {
        Stream s(*dev);
        const std::vector<uint8_t> q(dtype_bytes(DType::q4_0, 9 * 512), 0);
        const Tensor w = ops::upload_matmul_weight(*dev, DType::q4_0, {9, 512}, q.data(), q.size(), ops::WeightLayout::Interleave);
        ASSERT_TRUE(w.interleave());
        EXPECT_VKML_ERROR(ops::dequantize(s, w, Tensor::empty(*dev, DType::f32, {9, 512})), ErrorKind::InvalidArgument,
                          "interleaved");
        EXPECT_VKML_ERROR(w.reshape({512 * 9 / 32, 32}), ErrorKind::InvalidArgument, "interleaved");
        EXPECT_VKML_ERROR(w.row_slice(0, 1), ErrorKind::InvalidArgument, "interleaved");
        // x must be 16-byte aligned for the only kernel that reads W: a view 4 bytes in is refused.
        const Tensor xs = Tensor::empty(*dev, DType::f32, {1, 513});
        const Tensor x = Tensor::view_of(xs.buffer(), xs.offset() + 4, DType::f32, {1, 512});
        EXPECT_VKML_ERROR(ops::matmul(s, w, x, Tensor::empty(*dev, DType::f32, {1, 9})), ErrorKind::InvalidArgument,
                          "16-byte aligned");
        // A copy into a dense tensor of the same size would reorder nothing: refused.
        EXPECT_VKML_ERROR(s.copy(w, Tensor::empty(*dev, DType::q4_0, {128, 512})), ErrorKind::InvalidArgument,
                          "different orders");
        EXPECT_VKML_ERROR(ops::upload_matmul_weight(*dev, DType::q4_0, {-9, 512}, q.data(), q.size()),
                          ErrorKind::InvalidArgument, "m, k > 0");
        // The bytes must be the dense matrix's.
        EXPECT_VKML_ERROR(ops::upload_matmul_weight(*dev, DType::q4_0, {9, 512}, q.data(), q.size() - 18,
                                                    ops::WeightLayout::Interleave),
                          ErrorKind::InvalidArgument, "bytes");
    }
}

TEST_F(QuantGemv, SplitsWeightsOverALoweredBufferRange) {
    for (const auto& d : devices()) {
        auto dev = Device::open_index(d->index(), DeviceOptions{.max_buffer_range = 1 << 16});
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        // 64 KiB bindings: W of 300 x 1024 q8_0 is 326 KB, five or more ranges.
        check(*dev, s, DType::q8_0, {300, 1, 1024}, 7);
        check(*dev, s, DType::q6_k, {100, 3, 1024}, 9);
    }
}

TEST_F(QuantGemv, BadInputThrows) {
    for (const auto& dev : devices()) {
        Stream s(*dev);
        Tensor w = Tensor::empty(*dev, DType::q4_0, {8, 64});
        Tensor x = Tensor::empty(*dev, DType::f32, {2, 64});
        Tensor y = Tensor::empty(*dev, DType::f32, {2, 8});
        EXPECT_VKML_ERROR(ops::matmul(s, w, Tensor::empty(*dev, DType::f32, {2, 32}), y), ErrorKind::InvalidArgument, "k");
        EXPECT_VKML_ERROR(ops::matmul(s, w, x, Tensor::empty(*dev, DType::f32, {2, 7})), ErrorKind::InvalidArgument, "y");
        EXPECT_VKML_ERROR(ops::matmul_quantized(s, w, x, Tensor::empty(*dev, DType::f32, {3, 8}), {}),
                          ErrorKind::InvalidArgument, "y");
        EXPECT_VKML_ERROR(ops::matmul_quantized(s, Tensor::empty(*dev, DType::f32, {8, 64}), x, y, {}),
                          ErrorKind::InvalidArgument, "w must be");
        EXPECT_VKML_ERROR(ops::matmul_quantized(s, w, Tensor::empty(*dev, DType::f16, {2, 64}), y, {}),
                          ErrorKind::InvalidArgument, "x must be");
        EXPECT_VKML_ERROR(ops::matmul_quantized(s, w.reshape({2, 4, 64}), x, y, {}), ErrorKind::InvalidArgument, "[m, k]");
        // k not a multiple of the block cannot even be made into a tensor.
        EXPECT_VKML_ERROR(Tensor::empty(*dev, DType::q6_k, {8, 255}), ErrorKind::InvalidArgument, "");
    }
}

}  // namespace
}  // namespace vkml::test
