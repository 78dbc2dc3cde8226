// Tokenizers from GGUF vocabularies: llama.cpp's own test vectors (every .inp text must give
// exactly the ids on its .out line: no BOS, no special-token parsing), the real model files'
// vocabularies, and text -> ids -> text round trips.
#include <filesystem>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "vkml/error.hpp"
#include "vkml/models/gguf.hpp"
#include "vkml/models/tokenizer.hpp"

using namespace vkml;
using namespace vkml::models;

namespace {

std::string shared_data() {
    const char* d = std::getenv("VKML_SHARED_DATA");
    if (!d) ADD_FAILURE() << "VKML_SHARED_DATA is not set (ctest sets it to ../shared/data)";
    return d ? d : "../shared/data";
}

std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    EXPECT_TRUE(f.good()) << path;
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

struct Case {
    std::string text;
    std::vector<int32_t> ids;
};

std::vector<Case> load_cases(const std::string& vocab) {
    const std::string base = shared_data() + "/tokenizer/ggml-vocab-" + vocab + ".gguf";
    const std::string inp = read_text(base + ".inp");
    const std::string out = read_text(base + ".out");
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> texts;
    size_t start = 0;
    for (size_t p; (p = inp.find(sep, start)) != std::string::npos; start = p + sep.size())
        texts.push_back(inp.substr(start, p - start));
    // The piece after the last separator is empty by construction: not a case.
    std::vector<Case> cases;
    std::istringstream lines(out);
    std::string line;
    for (const auto& t : texts) {
        EXPECT_TRUE(std::getline(lines, line)) << vocab << ": fewer .out lines than .inp texts";
        Case c{t, {}};
        std::istringstream ids(line);
        for (int32_t id; ids >> id;) c.ids.push_back(id);
        cases.push_back(std::move(c));
    }
    return cases;
}

std::string ids_string(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) s += " " + std::to_string(id);
    return s;
}

// Runs every case; returns the number that match. Each mismatch not in `known_failures` fails
// the test.
size_t check_cases(const Tokenizer& tok, const std::string& vocab, const std::vector<size_t>& known_failures = {}) {
    const std::vector<Case> cases = load_cases(vocab);
    EXPECT_GT(cases.size(), 30u);
    size_t pass = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
        const std::vector<int32_t> got = tok.encode(cases[i].text, /*add_bos=*/false, /*parse_special=*/false);
        const bool known = std::find(known_failures.begin(), known_failures.end(), i) != known_failures.end();
        if (got == cases[i].ids) {
            ++pass;
            EXPECT_FALSE(known) << vocab << " case " << i << " is listed as a known failure but passes";
        } else if (!known) {
            ADD_FAILURE() << vocab << " case " << i << " '" << cases[i].text << "'\n  want" << ids_string(cases[i].ids)
                          << "\n  got " << ids_string(got);
        }
        // Whatever the ids, decoding them gives the text back (these vocabularies have byte
        // fallback or byte-level tokens, so nothing is lost). WordPiece normalizes: not for it.
        if (tok.model() != Tokenizer::Model::wpm) {
            EXPECT_EQ(tok.decode(got), cases[i].text) << vocab << " case " << i;
        }
    }
    std::printf("[ vocab    ] %-15s %zu / %zu cases match llama.cpp\n", vocab.c_str(), pass, cases.size());
    return pass;
}

Tokenizer gguf_tokenizer(const std::string& vocab) {
    return Tokenizer::from_gguf(GgufFile(shared_data() + "/tokenizer/ggml-vocab-" + vocab + ".gguf"));
}

size_t check_vocab(const std::string& vocab) { return check_cases(gguf_tokenizer(vocab), vocab); }

}  // namespace

TEST(Tokenizer, LlamaSpm) { check_vocab("llama-spm"); }
TEST(Tokenizer, Gpt2) { check_vocab("gpt-2"); }
TEST(Tokenizer, Mpt) { check_vocab("mpt"); }
TEST(Tokenizer, DeepseekCoder) { check_vocab("deepseek-coder"); }

TEST(Tokenizer, BertBge) {
    const Tokenizer tok = gguf_tokenizer("bert-bge");
    EXPECT_EQ(tok.model(), Tokenizer::Model::wpm);
    check_cases(tok, "bert-bge");
    // With add_bos: [CLS] ... [SEP], as llama.cpp adds them; decoding drops them and the
    // word-initial markers, and gives the normalized (lowercased, accent-stripped) text.
    const std::vector<int32_t> ids = tok.encode("Hello, World! Führer", /*add_bos=*/true);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids.front(), 101);
    EXPECT_EQ(ids.back(), 102);
    EXPECT_EQ(tok.decode(ids), "hello , world ! fuhrer");
    EXPECT_EQ(tok.decode(tok.encode("[CLS] a [SEP]", false, /*parse_special=*/true), true), "[CLS]a[SEP]");
    // No piece fits: the whole word is [UNK], not a partial match.
    EXPECT_EQ(tok.encode("\xF0\x9F\xA6\x99"), (std::vector<int32_t>{100}));
}

TEST(Tokenizer, Stories260K) {
    GgufFile f(shared_data() + "/models/stories260K.gguf");
    Tokenizer tok = Tokenizer::from_gguf(f);
    EXPECT_EQ(tok.model(), Tokenizer::Model::spm);
    EXPECT_EQ(tok.vocab_size(), 512u);
    EXPECT_EQ(tok.bos(), 1);
    EXPECT_EQ(tok.eos(), 2);
    for (const std::string text : {"Once upon a time, there was a little girl named Lily.",
                                   "  two  spaces\nand a newline", "Ünïcödé → 字 🙂", "", " "}) {
        const std::vector<int32_t> ids = tok.encode(text, /*add_bos=*/true);
        ASSERT_FALSE(ids.empty());
        EXPECT_EQ(ids[0], 1);
        EXPECT_EQ(tok.decode(ids), text);
    }
    // A common word is one token or a few, not bytes.
    EXPECT_LE(tok.encode("Once upon a time").size(), 8u);
}

TEST(Tokenizer, LlamaTinyRandom) {
    GgufFile f(shared_data() + "/models/llama-2-tiny-random.gguf");
    Tokenizer tok = Tokenizer::from_gguf(f);
    EXPECT_EQ(tok.vocab_size(), 32000u);
    const std::string text = "Hello world! The quick brown fox, 1234 times: 日本語.";
    const std::vector<int32_t> ids = tok.encode(text);
    EXPECT_EQ(tok.decode(ids), text);
    // The Llama 2 vocabulary: "Hello" -> 15043, " world" -> 3186 (as llama.cpp gives).
    EXPECT_EQ(tok.encode("Hello world"), (std::vector<int32_t>{15043, 3186}));
}

TEST(Tokenizer, SpecialTokens) {
    GgufFile f(shared_data() + "/tokenizer/ggml-vocab-llama-spm.gguf");
    Tokenizer tok = Tokenizer::from_gguf(f);
    const std::vector<int32_t> plain = tok.encode("<s>Hi</s>");
    EXPECT_GT(plain.size(), 3u);  // the markers as text
    const std::vector<int32_t> special = tok.encode("<s>Hi</s>", false, /*parse_special=*/true);
    ASSERT_GE(special.size(), 3u);
    EXPECT_EQ(special.front(), 1);
    EXPECT_EQ(special.back(), 2);
    EXPECT_EQ(tok.decode(special), "Hi");
    EXPECT_EQ(tok.decode(special, /*keep_special=*/true), "<s>Hi</s>");
    EXPECT_THROW((void)tok.decode({32000}), Error);
    EXPECT_THROW((void)tok.decode({-1}), Error);

    GgufFile g(shared_data() + "/tokenizer/ggml-vocab-gpt-2.gguf");
    Tokenizer bpe = Tokenizer::from_gguf(g);
    const std::vector<int32_t> eot = bpe.encode("a<|endoftext|>b", false, true);
    ASSERT_EQ(eot.size(), 3u);
    EXPECT_EQ(eot[1], 50256);
}

TEST(Tokenizer, BpeRoundTripOfArbitraryBytes) {
    GgufFile g(shared_data() + "/tokenizer/ggml-vocab-gpt-2.gguf");
    Tokenizer bpe = Tokenizer::from_gguf(g);
    std::string bytes;
    for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
    EXPECT_EQ(bpe.decode(bpe.encode(bytes)), bytes);
    GgufFile s(shared_data() + "/tokenizer/ggml-vocab-llama-spm.gguf");
    Tokenizer spm = Tokenizer::from_gguf(s);
    EXPECT_EQ(spm.decode(spm.encode(bytes)), bytes);
}

namespace vkml::test {
namespace {

// Inputs the fuzzers found crashing, kept as regression tests: each must load or fail with a
// vkml::Error, and whatever loads must encode and decode without throwing anything else.
TEST(TokenizerRegressions, FuzzFindingsAreCleanErrors) {
    const std::filesystem::path dir = std::filesystem::path(VKML_SOURCE_DIR) / "fuzz/regressions/tokenizer_gguf";
    ASSERT_TRUE(std::filesystem::exists(dir)) << dir;
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        SCOPED_TRACE(entry.path().string());
        ++files;
        try {
            const models::GgufFile f(entry.path().string());
            const models::Tokenizer t = models::Tokenizer::from_gguf(f);
            const auto ids = t.encode("Hello, fuzz <0x41> \xe2\x96\x81 world", true);
            (void)t.decode(ids);
            for (size_t id = 0; id < t.vocab_size(); ++id) (void)t.decode({static_cast<int32_t>(id)}, true);
        } catch (const Error& e) {
            EXPECT_TRUE(e.kind() == ErrorKind::BadFile || e.kind() == ErrorKind::Unsupported) << e.what();
        }
    }
    EXPECT_GE(files, 1);
}

}  // namespace
}  // namespace vkml::test
