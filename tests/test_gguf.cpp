// GGUF reader/writer: real files made by others, write -> read round trips, and corrupt or
// truncated files (every failure must be a BadFile vkml::Error, never a crash).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "vkml/error.hpp"
#include "vkml/models/gguf.hpp"

using namespace vkml;
using namespace vkml::models;

namespace {

std::string shared_data() {
    const char* d = std::getenv("VKML_SHARED_DATA");
    if (!d) ADD_FAILURE() << "VKML_SHARED_DATA is not set (ctest sets it to ../shared/data)";
    return d ? d : "../shared/data";
}

std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    EXPECT_TRUE(f.good()) << path;
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

GgufFile from_bytes(std::vector<uint8_t> b) { return GgufFile(MappedFile::from_memory("mem.gguf", std::move(b))); }

// Parses `bytes`: true when it loads, false on BadFile; any other outcome fails the test.
bool loads_or_bad_file(std::vector<uint8_t> bytes, const std::string& what) {
    try {
        GgufFile f = from_bytes(std::move(bytes));
        for (const auto& t : f.tensors())
            if (t.dtype) (void)f.tensor(t.name);
        return true;
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::BadFile) << what << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find("mem.gguf"), std::string::npos) << e.what();
        return false;
    }
}

}  // namespace

TEST(Gguf, Stories260K) {
    GgufFile f(shared_data() + "/models/stories260K.gguf");
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.tensors().size(), 48u);
    for (const auto& t : f.tensors()) {
        ASSERT_TRUE(t.dtype.has_value()) << t.name;
        EXPECT_EQ(*t.dtype, DType::f32) << t.name;
    }
    EXPECT_EQ(f.get_string("general.architecture"), "llama");
    EXPECT_EQ(f.get_u32("llama.embedding_length"), 64u);
    EXPECT_EQ(f.get_u32("llama.block_count"), 5u);
    EXPECT_EQ(f.get_u32("llama.attention.head_count"), 8u);
    EXPECT_EQ(f.get_u32("llama.attention.head_count_kv"), 4u);
    EXPECT_EQ(f.get_u32("llama.feed_forward_length"), 172u);
    EXPECT_EQ(f.get_u32("llama.context_length"), 2048u);
    EXPECT_NEAR(f.get_f32("llama.attention.layer_norm_rms_epsilon"), 1e-5f, 1e-9f);
    EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
    EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), 512u);
    EXPECT_EQ(f.get_f32_array("tokenizer.ggml.scores").size(), 512u);

    GgufTensorView emb = f.tensor("token_embd.weight");
    EXPECT_EQ(emb.dtype, DType::f32);
    EXPECT_EQ(emb.shape, (Shape{512, 64}));  // vkml order: [vocab, dim]
    EXPECT_EQ(emb.bytes, 512u * 64u * 4u);
    GgufTensorView w1 = f.tensor("blk.0.ffn_gate.weight");
    EXPECT_EQ(w1.shape, (Shape{172, 64}));
    // Weights of a trained model: finite and not all zero.
    const float* p = reinterpret_cast<const float*>(emb.data);
    double sum = 0;
    for (size_t i = 0; i < 512 * 64; ++i) {
        ASSERT_TRUE(std::isfinite(p[i]));
        sum += std::abs(p[i]);
    }
    EXPECT_GT(sum, 1.0);

    {
        try {
            (void)f.get_string("llama.embedding_length");
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::BadFile);
            EXPECT_NE(std::string(e.what()).find("llama.embedding_length"), std::string::npos);
        }
        try {
            (void)f.get_u32("no.such.key");
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("no.such.key"), std::string::npos);
        }
        try {
            (void)f.tensor("no.such.tensor");
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
        }
    }
}

TEST(Gguf, LlamaTinyRandom) {
    GgufFile f(shared_data() + "/models/llama-2-tiny-random.gguf");
    EXPECT_GT(f.tensors().size(), 0u);
    EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), 32000u);
    bool any_f16 = false;
    for (const auto& t : f.tensors()) {
        ASSERT_TRUE(t.dtype) << t.name << " " << ggml_type_name(t.ggml_type);
        GgufTensorView v = f.tensor(t.name);
        EXPECT_EQ(v.bytes, dtype_bytes(v.dtype, static_cast<uint64_t>(shape_numel(v.shape))));
        any_f16 |= v.dtype == DType::f16;
    }
    EXPECT_TRUE(any_f16);
}

TEST(Gguf, MmprojQ8_0) {
    GgufFile f(shared_data() + "/models/mmproj-tinygemma3.gguf");
    size_t q8 = 0, four_d = 0;
    for (const auto& t : f.tensors()) {
        if (t.shape.size() == 4) ++four_d;
        if (t.dtype == DType::q8_0) {
            ++q8;
            GgufTensorView v = f.tensor(t.name);
            EXPECT_EQ(v.shape.back() % 32, 0) << t.name;
            EXPECT_EQ(v.bytes, static_cast<uint64_t>(shape_numel(v.shape)) / 32 * 34) << t.name;
            // Every block scale is a finite f16.
            for (uint64_t b = 0; b < v.bytes; b += 34) {
                uint16_t h;
                std::memcpy(&h, v.data + b, 2);
                ASSERT_TRUE(std::isfinite(half_to_float(h))) << t.name;
            }
        }
    }
    EXPECT_EQ(q8, 24u);
    EXPECT_GT(four_d, 0u);
}

TEST(Gguf, VocabularyOnlyFiles) {
    for (const char* name : {"llama-spm", "gpt-2", "deepseek-coder", "mpt", "bert-bge"}) {
        GgufFile f(shared_data() + "/tokenizer/ggml-vocab-" + std::string(name) + ".gguf");
        EXPECT_TRUE(f.tensors().empty()) << name;
        EXPECT_GT(f.get_string_array("tokenizer.ggml.tokens").size(), 1000u) << name;
    }
}

namespace {

GgufWriter sample_writer(uint32_t alignment) {
    GgufWriter w;
    if (alignment != 32) w.set_u32("general.alignment", alignment);
    w.set_string("general.architecture", "llama");
    w.set("u8", [] { GgufValue v; v.type = GgufType::u8; v.u = 200; return v; }());
    w.set("i8", [] { GgufValue v; v.type = GgufType::i8; v.i = -100; return v; }());
    w.set("u16", [] { GgufValue v; v.type = GgufType::u16; v.u = 60000; return v; }());
    w.set("i16", [] { GgufValue v; v.type = GgufType::i16; v.i = -30000; return v; }());
    w.set_u32("u32", 4000000000u);
    w.set_i32("i32", -2000000000);
    w.set("u64", GgufValue::make_u64(1ull << 60));
    w.set("i64", [] { GgufValue v; v.type = GgufType::i64; v.i = -(1ll << 60); return v; }());
    w.set_f32("f32", 0.125f);
    w.set("f64", [] { GgufValue v; v.type = GgufType::f64; v.f = 1e-300; return v; }());
    w.set_bool("bool", true);
    w.set_string("empty", "");
    w.set("strings", GgufValue::make_string_array({"a", "", "\xe2\x96\x81hello"}));
    w.set("floats", GgufValue::make_f32_array({1.5f, -2.0f}));
    w.set("ints", GgufValue::make_i32_array({1, -2, 3}));
    w.set("empty_array", GgufValue::make_array(GgufType::u8, {}));
    w.set("nested", GgufValue::make_array(GgufType::array, {GgufValue::make_i32_array({1, 2}),
                                                           GgufValue::make_string_array({"x"})}));
    return w;
}

}  // namespace

TEST(Gguf, WriteReadRoundTrip) {
    for (uint32_t alignment : {32u, 64u, 1u}) {
        GgufWriter w = sample_writer(alignment);
        std::mt19937 rng(alignment);
        struct T { std::string name; DType dt; Shape shape; std::vector<uint8_t> bytes; };
        std::vector<T> ts = {
            {"f32", DType::f32, {3, 5}, {}},   {"f16", DType::f16, {7}, {}},
            {"q8_0", DType::q8_0, {2, 64}, {}}, {"q6_k", DType::q6_k, {1, 256}, {}},
            {"q4_0", DType::q4_0, {2, 3, 32}, {}}, {"4d", DType::f32, {1, 2, 3, 1}, {}},
        };
        for (auto& t : ts) {
            t.bytes.resize(dtype_bytes(t.dt, static_cast<uint64_t>(shape_numel(t.shape))));
            for (auto& b : t.bytes) b = static_cast<uint8_t>(rng());
            w.add_tensor(t.name, t.dt, t.shape, t.bytes.data(), t.bytes.size());
        }
        const std::string path = ::testing::TempDir() + "/roundtrip.gguf";
        w.write(path);
        GgufFile f(path);
        EXPECT_EQ(f.version(), 3u);
        EXPECT_EQ(f.alignment(), alignment);
        ASSERT_EQ(f.metadata().size(), 18u + (alignment != 32));
        EXPECT_EQ(f.get_u32("u32"), 4000000000u);
        EXPECT_EQ(f.get_i64("i32"), -2000000000);
        EXPECT_EQ(f.get_i64("u64"), 1ll << 60);
        EXPECT_EQ(f.get_i64("i64"), -(1ll << 60));
        EXPECT_EQ(f.get_f32("f32"), 0.125f);
        EXPECT_EQ(f.find("f64")->f, 1e-300);
        EXPECT_TRUE(f.get_bool("bool"));
        EXPECT_EQ(f.get_string("empty"), "");
        EXPECT_EQ(f.get_string_array("strings"), (std::vector<std::string>{"a", "", "\xe2\x96\x81hello"}));
        EXPECT_EQ(f.get_f32_array("floats"), (std::vector<float>{1.5f, -2.0f}));
        EXPECT_EQ(f.get_i32_array("ints"), (std::vector<int32_t>{1, -2, 3}));
        EXPECT_TRUE(f.find("empty_array")->items.empty());
        const GgufValue* nested = f.find("nested");
        ASSERT_TRUE(nested);
        EXPECT_EQ(nested->items.size(), 2u);
        EXPECT_EQ(nested->items[1].items[0].s, "x");
        EXPECT_THROW((void)f.get_u32("i32"), Error);  // negative does not fit u32
        EXPECT_THROW((void)f.get_f32("u32"), Error);
        // Writing what was read gives the same bytes.
        GgufWriter copy;
        for (const auto& [k, v] : f.metadata()) copy.set(k, v);
        for (const auto& t : f.tensors()) {
            GgufTensorView v = f.tensor(t.name);
            copy.add_tensor(t.name, v.dtype, v.shape, v.data, v.bytes);
        }
        EXPECT_EQ(copy.to_bytes(), w.to_bytes());
        for (const auto& t : ts) {
            GgufTensorView v = f.tensor(t.name);
            EXPECT_EQ(v.dtype, t.dt);
            EXPECT_EQ(v.shape, t.shape);
            ASSERT_EQ(v.bytes, t.bytes.size());
            EXPECT_EQ(std::memcmp(v.data, t.bytes.data(), v.bytes), 0) << t.name;
            EXPECT_EQ(f.find_tensor(t.name)->offset % alignment, 0u);
        }
    }
}

TEST(Gguf, WriterRejectsBadTensors) {
    GgufWriter w;
    std::vector<uint8_t> buf(1000);
    EXPECT_THROW(w.add_tensor("a", DType::q8_0, {2, 33}, buf.data(), 68), Error);  // not whole blocks
    EXPECT_THROW(w.add_tensor("a", DType::f32, {2, 3}, buf.data(), 20), Error);    // wrong size
    EXPECT_THROW(w.add_tensor("a", DType::i32, {2}, buf.data(), 8), Error);        // no GGUF type
    w.add_tensor("a", DType::f32, {2}, buf.data(), 8);
    EXPECT_THROW(w.add_tensor("a", DType::f32, {2}, buf.data(), 8), Error);  // duplicate
}

TEST(Gguf, UnsupportedTypeNamesTensor) {
    GgufWriter w;
    std::vector<uint8_t> q4k(144, 1), bf16(8, 0);
    w.add_tensor_raw("blk.0.q4k", 12, {256}, q4k.data(), q4k.size());
    w.add_tensor_raw("blk.0.bf16", 30, {4}, bf16.data(), bf16.size());
    GgufFile f = from_bytes(w.to_bytes());
    ASSERT_EQ(f.tensors().size(), 2u);
    EXPECT_FALSE(f.tensors()[0].dtype.has_value());
    EXPECT_EQ(f.tensors()[0].bytes, 144u);
    try {
        (void)f.tensor("blk.0.q4k");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
        EXPECT_NE(std::string(e.what()).find("blk.0.q4k"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("q4_K"), std::string::npos) << e.what();
    }
    EXPECT_EQ(f.tensor_data(f.tensors()[1])[0], 0);
}

TEST(Gguf, TruncatedAtEveryHeaderOffset) {
    const std::vector<uint8_t> full = read_all(shared_data() + "/models/stories260K.gguf");
    GgufFile ok = from_bytes(full);
    uint64_t end = 0;
    for (const auto& t : ok.tensors()) end = std::max(end, ok.data_offset() + t.offset + t.bytes);
    // Every offset through the header, then a stride through the data.
    std::vector<size_t> cuts;
    for (size_t n = 0; n < ok.data_offset() + 64; ++n) cuts.push_back(n);
    for (size_t n = ok.data_offset(); n < full.size(); n += 4099) cuts.push_back(n);
    cuts.push_back(end - 1);
    for (size_t n : cuts) {
        std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
        EXPECT_FALSE(loads_or_bad_file(std::move(cut), "cut at " + std::to_string(n))) << "cut at " << n;
    }
    EXPECT_TRUE(loads_or_bad_file(std::vector<uint8_t>(full.begin(), full.begin() + static_cast<ptrdiff_t>(end)), "end"));
}

TEST(Gguf, TruncatedLargeVocabulary) {
    // A 32k-token header cut at many offsets.
    const std::vector<uint8_t> full = read_all(shared_data() + "/models/llama-2-tiny-random.gguf");
    GgufFile ok = from_bytes(full);
    for (size_t n = 0; n < ok.data_offset(); n += 977) {
        std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
        EXPECT_FALSE(loads_or_bad_file(std::move(cut), "cut at " + std::to_string(n)));
    }
}

namespace {
void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }
void put_u32(std::vector<uint8_t>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }

void expect_bad(std::vector<uint8_t> b, const std::string& field) {
    try {
        GgufFile f = from_bytes(std::move(b));
        ADD_FAILURE() << "corrupt " << field << " loaded";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::BadFile) << e.what();
        EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << "expected '" << field << "' in: " << e.what();
    }
}
}  // namespace

TEST(Gguf, CorruptFields) {
    GgufWriter w;
    w.set_string("k", "value");
    w.set("arr", GgufValue::make_i32_array({1, 2, 3}));
    std::vector<float> data(8, 1.0f);
    w.add_tensor("t", DType::f32, {2, 4}, data.data(), 32);
    const std::vector<uint8_t> good = w.to_bytes();
    ASSERT_NO_THROW(from_bytes(good));
    // Layout: magic 0, version 4, n_tensors 8, n_kv 16, key0 len 24, "k" 32, type 33, strlen 37,
    // "value" 45, key1 len 50, "arr" 58, type 61, elem type 65, count 69, ints 77..89,
    // tensor name len 89, "t" 97, n_dims 98, ne0 102, ne1 110, type 118, offset 122, end 130.
    auto b = good; b[0] = 'X'; expect_bad(b, "magic");
    b = good; put_u32(b, 4, 1); expect_bad(b, "version");
    b = good; put_u32(b, 4, 4); expect_bad(b, "version");
    b = good; put_u64(b, 8, ~0ull); expect_bad(b, "tensor_count");
    b = good; put_u64(b, 16, 1ull << 40); expect_bad(b, "metadata_kv_count");
    b = good; put_u64(b, 24, ~0ull); expect_bad(b, "metadata[0] key");
    b = good; put_u32(b, 33, 13); expect_bad(b, "'k'");
    b = good; put_u64(b, 37, 1ull << 62); expect_bad(b, "'k'");
    b = good; put_u32(b, 65, 99); expect_bad(b, "'arr'");
    b = good; put_u64(b, 69, ~0ull / 2); expect_bad(b, "'arr'");
    b = good; put_u32(b, 98, 5); expect_bad(b, "n_dimensions");
    b = good; put_u32(b, 98, 0); expect_bad(b, "n_dimensions");
    b = good; put_u64(b, 102, ~0ull); expect_bad(b, "dimension 0");
    b = good; put_u64(b, 102, 1ull << 40); put_u64(b, 110, 1ull << 40); expect_bad(b, "'t'");
    b = good; put_u32(b, 118, kGgmlQ8_0); expect_bad(b, "'t'");  // 4 is not a multiple of 32
    b = good; put_u64(b, 122, 4); expect_bad(b, "offset");
    b = good; put_u64(b, 122, 1 << 20); expect_bad(b, "'t'");
    b = good; put_u64(b, 122, ~0ull & ~31ull); expect_bad(b, "'t'");
    // Duplicate key: rename "arr" to "k\0\0" would change lengths, so write one directly.
    {
        GgufWriter d;
        d.set_string("k", "a");
        d.set_string("j", "b");
        std::vector<uint8_t> dup = d.to_bytes();
        dup[54] = 'k';  // second key "j" -> "k" (its chars start at 24 + 8 + 1 + 4 + 8 + 1 + 8)
        expect_bad(dup, "duplicate key");
    }
    {
        GgufWriter d;
        d.set_u32("general.alignment", 3);
        EXPECT_THROW((void)d.to_bytes(), Error);
        // general.alignment of the wrong type, or not a power of two, in a file.
        // Header: 24 bytes, key length 8, "general.alignment" 17, type at 49, value at 53.
        GgufWriter h;
        h.set_u32("general.alignment", 2);
        const std::vector<uint8_t> hb = h.to_bytes();
        std::vector<uint8_t> bad = hb;
        put_u32(bad, 49, static_cast<uint32_t>(GgufType::i32));
        expect_bad(bad, "general.alignment");
        bad = hb;
        put_u32(bad, 53, 3);
        expect_bad(bad, "general.alignment");
        bad = hb;
        put_u32(bad, 53, 0);
        expect_bad(bad, "general.alignment");
    }
}

TEST(Gguf, RandomMutationsNeverCrash) {
    // A small file with every value type, mutated at random: each copy loads or is BadFile.
    GgufWriter w = sample_writer(32);
    std::vector<float> data(64, 0.5f);
    w.add_tensor("t", DType::f32, {8, 8}, data.data(), 256);
    const std::vector<uint8_t> good = w.to_bytes();
    std::mt19937 rng(7);
    int loaded = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        std::vector<uint8_t> b = good;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k) {
            const size_t at = rng() % b.size();
            switch (rng() % 3) {
                case 0: b[at] = static_cast<uint8_t>(rng()); break;
                case 1: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
                default: b[at] = 0xff; break;
            }
        }
        loaded += loads_or_bad_file(std::move(b), "mutation " + std::to_string(iter));
    }
    EXPECT_GT(loaded, 0);
}

TEST(Gguf, MissingFile) {
    try {
        GgufFile f("/nonexistent/x.gguf");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::BadFile);
        EXPECT_NE(std::string(e.what()).find("/nonexistent/x.gguf"), std::string::npos);
    }
}
