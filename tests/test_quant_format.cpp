// Block formats: q8_0/q4_0 quantizers byte-identical to the GGUF (ggml) definition on fixed
// vectors written from the spec, the library quantizers against the independent reference,
// q6_k round-trip error bounds, GPU quantize == CPU quantize byte for byte, GPU dequantize
// against the reference (also on the Q8_0 tensors of a real GGUF file), and bad input.
#include <cmath>
#include <cstring>
#include <fstream>
#include <string>

#include "vkml/ops/quant.hpp"
#include "vkml/ops/quant_cpu.hpp"
#include "vkml/reference/quant.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class QuantFormat : public VkmlTest {};

using Bytes = std::vector<uint8_t>;

// A block as bytes: the f16 scale (little-endian) then the quants.
Bytes block(uint16_t d, const Bytes& qs) {
    Bytes b(2 + qs.size());
    b[0] = static_cast<uint8_t>(d & 0xFF);
    b[1] = static_cast<uint8_t>(d >> 8);
    for (size_t i = 0; i < qs.size(); ++i) b[2 + i] = qs[i];
    return b;
}

// Both CPU quantizers (library and reference) must give `expected`.
void expect_bytes(DType t, const std::vector<float>& x, const Bytes& expected, const char* what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(ops::quantize_cpu(t, x), expected);
    EXPECT_EQ(reference::quantize(t, x), expected);
}

TEST_F(QuantFormat, Q8_0MatchesTheSpecOnFixedBlocks) {
    // All zeros: d = 0, every quant 0.
    expect_bytes(DType::q8_0, std::vector<float>(32, 0.0f), block(0x0000, Bytes(32, 0)), "zeros");
    // One huge value: d = 1000 / 127 = 7.874 -> f16 0x47E0; its quant is 127, the rest 0.
    {
        std::vector<float> x(32, 0.0f);
        x[5] = 1000.0f;
        Bytes qs(32, 0);
        qs[5] = 0x7F;
        expect_bytes(DType::q8_0, x, block(0x47E0, qs), "one huge value");
    }
    // Negative max: d = 2 / 127 -> f16 0x2408; -2 -> -127, 0.25 -> 15.875 -> 16, -0.1 -> -6.35 -> -6.
    {
        std::vector<float> x(32, 0.0f);
        x[0] = -2.0f;
        x[1] = 0.25f;
        x[2] = -0.1f;
        Bytes qs(32, 0);
        qs[0] = 0x81;
        qs[1] = 0x10;
        qs[2] = 0xFA;
        expect_bytes(DType::q8_0, x, block(0x2408, qs), "negative max");
    }
    // Ramp -16 .. 15: d = 16 / 127 -> f16 0x3008; quant j = roundf((j - 16) * 127 / 16), so
    // -8 and 8 (exactly -63.5 and 63.5) round away from zero to -64 and 64.
    {
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
        Bytes qs(32);
        const int q[32] = {-127, -119, -111, -103, -95, -87, -79, -71, -64, -56, -48, -40, -32, -24, -16, -8,
                           0,    8,    16,   24,   32,  40,  48,  56,  64,  71,  79,  87,  95,  103, 111, 119};
        for (int j = 0; j < 32; ++j) qs[j] = static_cast<uint8_t>(static_cast<int8_t>(q[j]));
        expect_bytes(DType::q8_0, x, block(0x3008, qs), "ramp");
    }
}

TEST_F(QuantFormat, Q4_0MatchesTheSpecOnFixedBlocks) {
    // All zeros: max = 0, d = 0 / -8 = -0 -> f16 0x8000; every nibble (int)(0 + 8.5) = 8.
    expect_bytes(DType::q4_0, std::vector<float>(32, 0.0f), block(0x8000, Bytes(16, 0x88)), "zeros");
    // Negative max -4: d = 0.5 (0x3800), id = 2; -4 -> 0, 0 -> 8, 1 -> 10, 2 -> 12.
    // Byte j = q[j] | q[j + 16] << 4.
    {
        std::vector<float> x(32, 0.0f);
        x[3] = -4.0f;
        x[7] = 1.0f;
        x[20] = 2.0f;
        Bytes qs(16, 0x88);
        qs[3] = 0x80;
        qs[4] = 0xC8;
        qs[7] = 0x8A;
        expect_bytes(DType::q4_0, x, block(0x3800, qs), "negative max");
    }
    // Positive max 8 and a tie in magnitude (-8 later: the first wins): d = -1 (0xBC00);
    // 8 -> 0, -8 -> 16.5 -> clamped to 15.
    {
        std::vector<float> x(32, 0.0f);
        x[0] = 8.0f;
        x[1] = -8.0f;
        Bytes qs(16, 0x88);
        qs[0] = 0x80;
        qs[1] = 0x8F;
        expect_bytes(DType::q4_0, x, block(0xBC00, qs), "positive max, clamp");
    }
    // One huge value 60000 in the last element: d = -7500 (0xEF53); it is the high nibble of byte 15.
    {
        std::vector<float> x(32, 0.0f);
        x[31] = 60000.0f;
        Bytes qs(16, 0x88);
        qs[15] = 0x08;
        expect_bytes(DType::q4_0, x, block(0xEF53, qs), "one huge value");
    }
}

TEST_F(QuantFormat, LibraryQuantizersMatchTheReferenceOnRandomData) {
    for (DType t : {DType::q8_0, DType::q4_0}) {
        SCOPED_TRACE(dtype_name(t));
        for (uint32_t seed = 1; seed <= 4; ++seed) {
            auto x = random_floats(32 * 257, seed, -3.0f, 3.0f);
            x[100] = 0.0f;
            EXPECT_EQ(ops::quantize_cpu(t, x), reference::quantize(t, x));
        }
    }
}

TEST_F(QuantFormat, DequantizersAgree) {
    // Library (ggml loop order) and reference (per element) dequantizers over the same bytes,
    // including the reference's own q6_k packing read back by the library.
    for (DType t : {DType::q8_0, DType::q4_0, DType::q6_k}) {
        SCOPED_TRACE(dtype_name(t));
        const auto x = random_floats(256 * 9, 3, -2.0f, 2.0f);
        for (const Bytes& q : {ops::quantize_cpu(t, x), reference::quantize(t, x)}) {
            const auto a = ops::dequantize_cpu(t, q, static_cast<int64_t>(x.size()));
            const auto b = reference::dequantize(t, q, static_cast<int64_t>(x.size()));
            EXPECT_EQ(a, b);
            EXPECT_LE(nmse(x, a), 1e-2);  // the layout is right: values land where they belong
        }
    }
}

double roundtrip_nmse(DType t, const std::vector<float>& x) {
    return nmse(x, reference::dequantize(t, ops::quantize_cpu(t, x), static_cast<int64_t>(x.size())));
}

TEST_F(QuantFormat, Q6_KRoundTripWithinBound) {
    // Bound documented in docs/quantization.md: NMSE <= 2e-4 on uniform data (6-bit levels per 16
    // weights; the step is about absmax/32), <= 1e-3 on heavy-tailed data, and the scale search
    // never does worse than the plain absmax scale of the reference quantizer.
    const auto uni = random_floats(256 * 64, 11);
    EXPECT_LE(roundtrip_nmse(DType::q6_k, uni), 2e-4);
    auto heavy = random_floats(256 * 64, 12);
    for (float& v : heavy) v = v * v * v * 4.0f;
    EXPECT_LE(roundtrip_nmse(DType::q6_k, heavy), 1e-3);
    for (const std::vector<float>* x : {&uni, static_cast<const std::vector<float>*>(&heavy)}) {
        const double plain = nmse(*x, reference::dequantize(DType::q6_k, reference::quantize(DType::q6_k, *x),
                                                            static_cast<int64_t>(x->size())));
        EXPECT_LE(roundtrip_nmse(DType::q6_k, *x), plain);
    }
    // All zeros: every byte zero. q8_0 and q4_0 for comparison of the bounds.
    EXPECT_EQ(ops::quantize_cpu(DType::q6_k, std::vector<float>(256, 0.0f)), Bytes(210, 0));
    EXPECT_LE(roundtrip_nmse(DType::q8_0, uni), 1e-4);
    EXPECT_LE(roundtrip_nmse(DType::q4_0, uni), 1e-2);
}

// GPU quantize of x [rows, k] equals the CPU bytes.
void check_gpu_quantize(Device& dev, Stream& s, DType t, int64_t rows, int64_t k, uint32_t seed) {
    SCOPED_TRACE(std::string(dtype_name(t)) + " rows=" + std::to_string(rows) + " k=" + std::to_string(k));
    auto xs = random_floats(static_cast<size_t>(rows * k), seed, -5.0f, 5.0f);
    for (size_t i = 0; i < xs.size(); i += 97) xs[i] = 0.0f;
    if (xs.size() >= 64) std::fill(xs.begin() + 32, xs.begin() + 64, 0.0f);  // an all-zero block
    Tensor x = Tensor::from_floats(dev, DType::f32, {rows, k}, xs);
    Tensor q = Tensor::empty(dev, t, {rows, k});
    ops::quantize(s, x, q);
    s.finish();
    EXPECT_EQ(q.to_vector<uint8_t>(), ops::quantize_cpu(t, xs));
}

TEST_F(QuantFormat, GpuQuantizeIsByteIdenticalToCpu) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 20;
        for (DType t : {DType::q8_0, DType::q4_0}) {
            check_gpu_quantize(*dev, s, t, 1, 32, ++seed);
            check_gpu_quantize(*dev, s, t, 7, 96, ++seed);     // odd blocks per row: 2-aligned rows
            check_gpu_quantize(*dev, s, t, 33, 1024, ++seed);
            check_gpu_quantize(*dev, s, t, 4097, 32, ++seed);
        }
    }
}

TEST_F(QuantFormat, GpuQuantizeIntoAnOddRowSliceLeavesNeighboursAlone) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        for (DType t : {DType::q8_0, DType::q4_0}) {
            const int64_t rows = 5, k = 32;  // rows of 34 or 18 bytes: row 1 starts 2 mod 4
            Tensor q = Tensor::empty(*dev, t, {rows, k});
            Bytes fill(q.bytes(), 0xAB);
            q.upload(fill.data(), fill.size());
            const auto xs = random_floats(static_cast<size_t>(3 * k), 7);
            Tensor x = Tensor::from_floats(*dev, DType::f32, {3, k}, xs);
            ops::quantize(s, x, q.row_slice(1, 3));
            s.finish();
            const Bytes got = q.to_vector<uint8_t>();
            const Bytes want = ops::quantize_cpu(t, xs);
            const size_t rb = dtype_info(t).block_bytes;
            for (size_t i = 0; i < got.size(); ++i) {
                const bool inside = i >= rb && i < 4 * rb;
                ASSERT_EQ(got[i], inside ? want[i - rb] : 0xAB) << dtype_name(t) << " byte " << i;
            }
        }
    }
}

TEST_F(QuantFormat, GpuDequantizeMatchesReference) {
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        for (DType t : {DType::q8_0, DType::q4_0, DType::q6_k}) {
            for (int64_t rows : {1, 7, 33}) {
                const int64_t k = t == DType::q6_k ? 512 : 96;
                SCOPED_TRACE(std::string(dtype_name(t)) + " rows=" + std::to_string(rows));
                const auto xs = random_floats(static_cast<size_t>(rows * k), static_cast<uint32_t>(rows), -4.0f, 4.0f);
                Tensor q = ops::quantize_on_host(*dev, t, {rows, k}, xs.data());
                const Bytes qb = q.to_vector<uint8_t>();
                const auto ref = reference::dequantize(t, qb, rows * k);
                Tensor y = Tensor::empty(*dev, DType::f32, {rows, k});
                ops::dequantize(s, q, y);
                // A slice starting at an odd block (2-aligned bytes) into the middle of y.
                Tensor ys = Tensor::empty(*dev, DType::f32, {rows, k});
                if (rows > 1) ops::dequantize(s, q.row_slice(1, rows - 1), ys.row_slice(1, rows - 1));
                s.finish();
                EXPECT_EQ(y.to_floats(), ref);
                if (rows > 1) {
                    const auto got = ys.to_floats();
                    EXPECT_EQ(std::vector<float>(got.begin() + k, got.end()), std::vector<float>(ref.begin() + k, ref.end()));
                }
                if (dev->caps().fp16_storage) {
                    Tensor h = Tensor::empty(*dev, DType::f16, {rows, k});
                    ops::dequantize(s, q, h);
                    s.finish();
                    EXPECT_NMSE_LE(ref, h.to_floats(), 1e-6);
                }
            }
        }
    }
}

// --- A real GGUF file: its Q8_0 tensors dequantized on the GPU against the reference. ---------

struct GgufTensor {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type = 0;
    uint64_t offset = 0;
};

// Just enough of GGUF v3 to find tensors: header, metadata skipped, tensor infos.
class GgufReader {
public:
    explicit GgufReader(const std::string& path) : in_(path, std::ios::binary) {}
    bool ok() const { return static_cast<bool>(in_); }
    template <class T>
    T get() {
        T v{};
        in_.read(reinterpret_cast<char*>(&v), sizeof(T));
        if (!in_) throw std::runtime_error("truncated GGUF");
        return v;
    }
    std::string str() {
        const uint64_t n = get<uint64_t>();
        std::string s(n, '\0');
        in_.read(s.data(), static_cast<std::streamsize>(n));
        return s;
    }
    void skip_value(uint32_t type) {
        static const int kSize[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
        if (type == 8) {
            str();
        } else if (type == 9) {
            const uint32_t et = get<uint32_t>();
            const uint64_t n = get<uint64_t>();
            for (uint64_t i = 0; i < n; ++i) skip_value(et);
        } else if (type < 13) {
            in_.seekg(kSize[type], std::ios::cur);
        } else {
            throw std::runtime_error("bad GGUF value type");
        }
    }
    uint64_t pos() { return static_cast<uint64_t>(in_.tellg()); }
    Bytes read_at(uint64_t at, uint64_t n) {
        Bytes b(n);
        in_.seekg(static_cast<std::streamoff>(at));
        in_.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(n));
        if (!in_) throw std::runtime_error("truncated GGUF data");
        return b;
    }

private:
    std::ifstream in_;
};

TEST_F(QuantFormat, DequantizesQ8_0TensorsOfARealGgufFile) {
    const std::string path = "/work/shared/data/models/mmproj-tinygemma3.gguf";
    GgufReader r(path);
    if (!r.ok()) GTEST_SKIP() << path << " not present";
    ASSERT_EQ(r.get<uint32_t>(), 0x46554747u);  // "GGUF"
    ASSERT_GE(r.get<uint32_t>(), 2u);
    const uint64_t n_tensors = r.get<uint64_t>(), n_kv = r.get<uint64_t>();
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < n_kv; ++i) {
        const std::string key = r.str();
        const uint32_t type = r.get<uint32_t>();
        if (key == "general.alignment" && type == 4) alignment = r.get<uint32_t>();
        else r.skip_value(type);
    }
    std::vector<GgufTensor> tensors;
    for (uint64_t i = 0; i < n_tensors; ++i) {
        GgufTensor t;
        t.name = r.str();
        const uint32_t nd = r.get<uint32_t>();
        for (uint32_t d = 0; d < nd; ++d) t.dims.push_back(r.get<uint64_t>());
        t.type = r.get<uint32_t>();
        t.offset = r.get<uint64_t>();
        tensors.push_back(t);
    }
    const uint64_t data_start = (r.pos() + alignment - 1) / alignment * alignment;
    int checked = 0;
    for (const auto& dev : devices()) {
        Stream s(*dev);
        for (const GgufTensor& t : tensors) {
            if (t.type != 8 || checked >= 3) continue;  // GGML_TYPE_Q8_0, a few of them
            SCOPED_TRACE(t.name);
            const int64_t k = static_cast<int64_t>(t.dims[0]);  // GGUF dims: innermost first
            int64_t rows = 1;
            for (size_t d = 1; d < t.dims.size(); ++d) rows *= static_cast<int64_t>(t.dims[d]);
            const uint64_t bytes = dtype_bytes(DType::q8_0, static_cast<uint64_t>(rows * k));
            const Bytes raw = r.read_at(data_start + t.offset, bytes);
            Tensor q = Tensor::from_host(*dev, DType::q8_0, {rows, k}, raw.data(), raw.size());
            Tensor y = Tensor::empty(*dev, DType::f32, {rows, k});
            ops::dequantize(s, q, y);
            s.finish();
            const auto ref = reference::dequantize(DType::q8_0, raw, rows * k);
            EXPECT_EQ(y.to_floats(), ref);
            double energy = 0;
            for (float v : ref) energy += static_cast<double>(v) * v;
            EXPECT_GT(energy, 0.0);  // real weights, not zeros
            ++checked;
        }
    }
    EXPECT_GT(checked, 0) << "no Q8_0 tensor in " << path;
}

TEST_F(QuantFormat, BadInputThrows) {
    // CPU: counts that are not a block multiple, non-quantized types, short buffers.
    EXPECT_VKML_ERROR(ops::quantize_cpu(DType::q8_0, std::vector<float>(33)), ErrorKind::InvalidArgument, "multiple");
    EXPECT_VKML_ERROR(ops::quantize_cpu(DType::q6_k, std::vector<float>(128)), ErrorKind::InvalidArgument, "256");
    EXPECT_VKML_ERROR(ops::quantize_cpu(DType::f32, std::vector<float>(32)), ErrorKind::InvalidArgument, "f32");
    EXPECT_VKML_ERROR(ops::dequantize_cpu(DType::q4_0, Bytes(17), 32), ErrorKind::InvalidArgument, "too few");
    for (const auto& dev : devices()) {
        Stream s(*dev);
        // k not a multiple of the block.
        EXPECT_VKML_ERROR(Tensor::empty(*dev, DType::q8_0, {4, 33}), ErrorKind::InvalidArgument, "");
        const std::vector<float> f(100 * 32, 1.0f);
        EXPECT_VKML_ERROR(ops::quantize_on_host(*dev, DType::q6_k, {100, 32}, f.data()), ErrorKind::InvalidArgument, "");
        // Host data shorter than the blocks need.
        const Bytes few(30);
        EXPECT_VKML_ERROR(Tensor::from_host(*dev, DType::q8_0, {1, 32}, few.data(), few.size()),
                          ErrorKind::InvalidArgument, "");
        Tensor x = Tensor::empty(*dev, DType::f32, {2, 64});
        Tensor q8 = Tensor::empty(*dev, DType::q8_0, {2, 64});
        Tensor q6 = Tensor::empty(*dev, DType::q6_k, {2, 256});
        Tensor y = Tensor::empty(*dev, DType::f32, {2, 64});
        EXPECT_VKML_ERROR(ops::quantize(s, x, q6.reshape({2, 256})), ErrorKind::InvalidArgument, "quantize");
        EXPECT_VKML_ERROR(ops::quantize(s, x, Tensor::empty(*dev, DType::q8_0, {2, 32})), ErrorKind::InvalidArgument, "shape");
        EXPECT_VKML_ERROR(ops::quantize(s, y, x.reshape({1, 128})), ErrorKind::InvalidArgument, "q must be");
        EXPECT_VKML_ERROR(ops::dequantize(s, x, y), ErrorKind::InvalidArgument, "dequantize");
        EXPECT_VKML_ERROR(ops::dequantize(s, q8, Tensor::empty(*dev, DType::i32, {2, 64})), ErrorKind::InvalidArgument, "y must be");
        EXPECT_VKML_ERROR(ops::dequantize(s, q8, Tensor::empty(*dev, DType::f32, {2, 32})), ErrorKind::InvalidArgument, "shape");
    }
}

}  // namespace
}  // namespace vkml::test
