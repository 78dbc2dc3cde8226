// JSON parser, safetensors reader/writer and Hugging Face folders: round trips, strictness,
// and corrupt or truncated files (always a BadFile error, never a crash).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "vkml/error.hpp"
#include "vkml/models/json.hpp"
#include "vkml/models/safetensors.hpp"

using namespace vkml;
using namespace vkml::models;
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}
std::vector<uint8_t> f16_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 2);
    for (size_t i = 0; i < v.size(); ++i) {
        const uint16_t h = float_to_half(v[i]);
        std::memcpy(b.data() + 2 * i, &h, 2);
    }
    return b;
}
std::vector<uint8_t> bf16_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 2);
    for (size_t i = 0; i < v.size(); ++i) {
        uint32_t bits;
        std::memcpy(&bits, &v[i], 4);
        const uint16_t h = static_cast<uint16_t>(bits >> 16);  // exact for these values
        std::memcpy(b.data() + 2 * i, &h, 2);
    }
    return b;
}
std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
std::string temp_dir(const std::string& name) {
    const std::string d = ::testing::TempDir() + "/vkml_st_" + name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}
void write_text(const std::string& path, const std::string& s) { std::ofstream(path, std::ios::binary) << s; }

// Header-only file from a raw JSON string, with `buffer` data bytes.
std::vector<uint8_t> raw_file(const std::string& json, size_t buffer) {
    std::vector<uint8_t> b(8 + json.size() + buffer, 0);
    const uint64_t n = json.size();
    std::memcpy(b.data(), &n, 8);
    std::memcpy(b.data() + 8, json.data(), json.size());
    return b;
}
void expect_bad(std::vector<uint8_t> bytes, const std::string& substr) {
    try {
        SafetensorsFile f(MappedFile::from_memory("mem.safetensors", std::move(bytes)));
        ADD_FAILURE() << "loaded; expected an error with '" << substr << "'";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::BadFile) << e.what();
        EXPECT_NE(std::string(e.what()).find(substr), std::string::npos) << "want '" << substr << "' in " << e.what();
        EXPECT_NE(std::string(e.what()).find("mem.safetensors"), std::string::npos) << e.what();
    }
}

const std::vector<float> kA = {1, -2, 3.5f, 0.25f, -0.125f, 8};

std::vector<SafetensorsWriteTensor> sample_tensors() {
    return {
        {"model.embed.weight", "F32", {2, 3}, f32_bytes(kA)},
        {"model.h16", "F16", {6}, f16_bytes(kA)},
        {"model.bf", "BF16", {3, 1, 2}, bf16_bytes(kA)},
        {"empty", "F32", {0, 4}, {}},
    };
}

}  // namespace

TEST(Json, ParsesValues) {
    const Json j = Json::parse(R"( {"a": [1, -2.5e3, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"],
                                   "big": 18446744073709551615, "neg": -9223372036854775808, "o": {}} )");
    ASSERT_TRUE(j.is_object());
    const Json::Array& a = j.at("a").as_array();
    ASSERT_EQ(a.size(), 6u);
    EXPECT_EQ(a[0].as_i64(), 1);
    EXPECT_EQ(a[1].as_number(), -2500.0);
    EXPECT_TRUE(a[2].as_bool());
    EXPECT_FALSE(a[3].as_bool());
    EXPECT_TRUE(a[4].is_null());
    EXPECT_EQ(a[5].as_string(), "x\"\\/\b\f\n\r\t\xC3\xA9\xF0\x9F\x98\x80");
    EXPECT_EQ(j.at("big").as_u64(), 18446744073709551615ull);  // exact, not through double
    EXPECT_EQ(j.at("neg").as_i64(), INT64_MIN);
    EXPECT_EQ(j.at("o").size(), 0u);
    EXPECT_THROW((void)a[1].as_u64(), Error);
    EXPECT_THROW((void)a[0].as_string(), Error);
    EXPECT_THROW((void)j.at("missing"), Error);
    // Serialization round trip.
    EXPECT_EQ(Json::parse(j.dump()).dump(), j.dump());
}

TEST(Json, IsStrict) {
    for (const char* bad : {"", " ", "{", "[1,]", "{\"a\":1,}", "{'a':1}", "01", "1.", ".5", "-", "1e", "+1",
                            "tru", "nul", "[1 2]", "{\"a\" 1}", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"",
                            "\"\\udc00\"", "\"a\tb\"", "{\"a\":1,\"a\":2}", "1 2", "// c\n1", "NaN", "Infinity",
                            "\"\xff\"", "[\"\xc3\"]"}) {
        try {
            (void)Json::parse(bad, "t.json");
            ADD_FAILURE() << "accepted: " << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::BadFile);
            EXPECT_NE(std::string(e.what()).find("t.json"), std::string::npos);
        }
    }
    // Deep nesting is an error, not a stack overflow.
    EXPECT_THROW((void)Json::parse(std::string(100000, '[')), Error);
    EXPECT_NO_THROW((void)Json::parse(std::string(200, '[') + std::string(200, ']')));
}

TEST(Safetensors, WriteReadRoundTrip) {
    const std::string dir = temp_dir("rt");
    write_safetensors(dir + "/a.safetensors", sample_tensors(), {{"format", "pt"}});
    SafetensorsFile f(dir + "/a.safetensors");
    ASSERT_EQ(f.tensors().size(), 4u);
    EXPECT_EQ(f.metadata().at("format"), "pt");
    GgufTensorView v = f.tensor("model.embed.weight");
    EXPECT_EQ(v.dtype, DType::f32);
    EXPECT_EQ(v.shape, (Shape{2, 3}));
    EXPECT_EQ(std::memcmp(v.data, kA.data(), 24), 0);
    EXPECT_EQ(f.tensor("model.h16").dtype, DType::f16);
    EXPECT_EQ(f.floats("model.h16"), kA);
    EXPECT_EQ(f.floats("model.bf"), kA);  // BF16 -> f32
    EXPECT_EQ(f.find("model.bf")->shape, (Shape{3, 1, 2}));
    EXPECT_TRUE(f.floats("empty").empty());
    try {
        (void)f.tensor("model.bf");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
        EXPECT_NE(std::string(e.what()).find("model.bf"), std::string::npos);
    }
    EXPECT_THROW((void)f.tensor("nope"), Error);
}

TEST(Safetensors, TruncatedAtEveryOffset) {
    const std::string dir = temp_dir("trunc");
    write_safetensors(dir + "/a.safetensors", sample_tensors(), {{"format", "pt"}});
    const std::vector<uint8_t> full = read_all(dir + "/a.safetensors");
    for (size_t n = 0; n < full.size(); ++n) {
        try {
            SafetensorsFile f(MappedFile::from_memory("mem.safetensors",
                                                      std::vector<uint8_t>(full.begin(), full.begin() + static_cast<ptrdiff_t>(n))));
            ADD_FAILURE() << "cut at " << n << " loaded";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::BadFile) << e.what();
        }
    }
}

TEST(Safetensors, CorruptHeaders) {
    expect_bad({1, 2, 3}, "header length");
    {
        auto b = raw_file("{}", 0);
        const uint64_t huge = ~0ull;
        std::memcpy(b.data(), &huge, 8);
        expect_bad(b, "header length");
    }
    expect_bad(raw_file("[]", 0), "not a JSON object");
    expect_bad(raw_file("{\"t\": 1}", 0), "'t'");
    expect_bad(raw_file(R"({"t": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}})", 4), "unknown dtype");
    expect_bad(raw_file(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 8), "does not match");
    expect_bad(raw_file(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 2), "exceed");
    expect_bad(raw_file(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 8), "end < begin");
    expect_bad(raw_file(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 8), "2 entries");
    expect_bad(raw_file(R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 8), "'t'");
    expect_bad(raw_file(R"({"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 8), "'t'");
    expect_bad(raw_file(R"({"t": {"dtype": "F32", "shape": [4294967296, 4294967296, 4], "data_offsets": [0, 4]}})", 8),
               "overflows");
    expect_bad(raw_file(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 18446744073709551616]}})", 8), "'t'");
    expect_bad(raw_file(R"({"t": {"shape": [1], "data_offsets": [0, 4]}})", 8), "dtype");
    expect_bad(raw_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                            "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12), "overlap");
    expect_bad(raw_file(R"({"__metadata__": {"k": 1}})", 0), "__metadata__");
    expect_bad(raw_file(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},})", 4), "JSON");
}

TEST(Safetensors, RandomMutationsNeverCrash) {
    const std::string dir = temp_dir("mut");
    write_safetensors(dir + "/a.safetensors", sample_tensors(), {{"format", "pt"}});
    const std::vector<uint8_t> good = read_all(dir + "/a.safetensors");
    std::mt19937 rng(3);
    for (int iter = 0; iter < 3000; ++iter) {
        std::vector<uint8_t> b = good;
        for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
        try {
            SafetensorsFile f(MappedFile::from_memory("mem.safetensors", std::move(b)));
            for (const auto& t : f.tensors())
                if (t.dtype == "F32" || t.dtype == "F16" || t.dtype == "BF16") (void)f.floats(t.name);
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::BadFile) << e.what();
        }
    }
}

TEST(HfFolder, SingleFile) {
    const std::string dir = temp_dir("hf1");
    write_text(dir + "/config.json", R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "rms_norm_eps": 1e-05})");
    write_safetensors(dir + "/model.safetensors", sample_tensors());
    HfModelFolder m(dir);
    EXPECT_EQ(m.config().at("hidden_size").as_i64(), 64);
    EXPECT_EQ(m.config().at("architectures").as_array()[0].as_string(), "LlamaForCausalLM");
    EXPECT_FALSE(m.has_tokenizer_json());
    EXPECT_EQ(m.tensor_names().size(), 4u);
    EXPECT_EQ(m.floats("model.bf"), kA);
    EXPECT_EQ(m.tensor("model.embed.weight").shape, (Shape{2, 3}));
}

TEST(HfFolder, Sharded) {
    const std::string dir = temp_dir("hf2");
    write_text(dir + "/config.json", R"({"hidden_size": 8})");
    auto ts = sample_tensors();
    write_safetensors(dir + "/model-00001-of-00002.safetensors", {ts[0], ts[1]});
    write_safetensors(dir + "/model-00002-of-00002.safetensors", {ts[2]});
    write_text(dir + "/model.safetensors.index.json",
               R"({"metadata": {"total_size": 48}, "weight_map": {"model.embed.weight": "model-00001-of-00002.safetensors",
                  "model.h16": "model-00001-of-00002.safetensors", "model.bf": "model-00002-of-00002.safetensors"}})");
    HfModelFolder m(dir);
    EXPECT_EQ(m.tensor_names(), (std::vector<std::string>{"model.bf", "model.embed.weight", "model.h16"}));
    EXPECT_EQ(m.floats("model.h16"), kA);
    EXPECT_EQ(m.floats("model.bf"), kA);
    EXPECT_THROW((void)m.tensor("nope"), Error);

    // A shard outside the folder, or a tensor missing from its shard, is corrupt.
    write_text(dir + "/model.safetensors.index.json", R"({"weight_map": {"x": "../model-00001-of-00002.safetensors"}})");
    EXPECT_THROW(HfModelFolder{dir}, Error);
    write_text(dir + "/model.safetensors.index.json", R"({"weight_map": {"x": "model-00001-of-00002.safetensors"}})");
    try {
        HfModelFolder bad(dir);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::BadFile);
        EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos) << e.what();
    }
    write_text(dir + "/model.safetensors.index.json", R"({"weight_map": {"x": "missing.safetensors"}})");
    EXPECT_THROW(HfModelFolder{dir}, Error);
    fs::remove(dir + "/config.json");
    try {
        HfModelFolder bad(dir);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
    }
}
