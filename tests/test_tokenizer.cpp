// Tokenizers from GGUF vocabularies: llama.cpp's own test vectors (every .inp text must give
// exactly the ids on its .out line: no BOS, no special-token parsing), the real model files'
// vocabularies, and text -> ids -> text round trips.
#include <filesystem>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "vkml/error.hpp"
#include "vkml/models/gguf.hpp"
#include "vkml/models/json.hpp"
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
    EXPECT_EQ(tok.decode(ids), "hello, world! fuhrer");  // punctuation spacing cleaned up as HF does
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

// ---- Hugging Face tokenizer.json: files written from the GGUF vocabularies must reproduce the
// same llama.cpp vectors through Tokenizer::from_hf_json.
namespace {

std::string temp_dir(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() / ("vkml_test_tokenizer_" + name);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir.string();
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

Json obj(std::initializer_list<std::pair<std::string, Json>> members) { return Json::object(Json::Object(members)); }
Json arr(std::initializer_list<Json> items) { return Json::array(Json::Array(items)); }
Json str_pattern(const char* s) { return obj({{"String", s}}); }

// vocab and added_tokens of a GGUF tokenizer; `rename` gives the tokenizer.json spelling of a text.
void add_vocab(Json& model, Json& doc, const Tokenizer& g, const std::function<std::string(const std::string&)>& rename) {
    Json added = Json::array();
    Json::Object members;
    members.reserve(g.vocab_size());
    for (int32_t id = 0; id < static_cast<int32_t>(g.vocab_size()); ++id) {
        const TokenType ty = g.token_type(id);
        const bool special = ty == TokenType::control || ty == TokenType::user_defined;
        members.emplace_back(special ? g.token_text(id) : rename(g.token_text(id)), Json(static_cast<int64_t>(id)));
        if (special)
            added.push_back(obj({{"id", static_cast<int64_t>(id)}, {"content", g.token_text(id)}, {"single_word", false},
                                 {"lstrip", false}, {"rstrip", false}, {"normalized", false},
                                 {"special", ty == TokenType::control}}));
    }
    model.set("vocab", Json::object(std::move(members)));
    doc.set("added_tokens", added);
}

std::string write_json(const std::string& dir, const Json& doc) {
    write_file(dir + "/tokenizer.json", doc.dump());
    return dir + "/tokenizer.json";
}

// GPT-2 as a byte-level BPE tokenizer.json; with `split`, the GPT-2 regex as a Split
// pre-tokenizer before a ByteLevel that does not split again.
Json gpt2_json(bool split) {
    GgufFile f(shared_data() + "/tokenizer/ggml-vocab-gpt-2.gguf");
    const Tokenizer g = Tokenizer::from_gguf(f);
    Json doc = obj({{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"normalizer", nullptr}});
    Json model = obj({{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
                      {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}});
    add_vocab(model, doc, g, [](const std::string& t) { return t; });
    Json merges = Json::array();
    for (const std::string& m : f.get_string_array("tokenizer.ggml.merges")) merges.push_back(m);
    model.set("merges", merges);
    doc.set("model", model);
    const Json byte_level = obj({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", !split}});
    if (split) {
        const char* gpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
        doc.set("pre_tokenizer", obj({{"type", "Sequence"}, {"pretokenizers", arr({obj({{"type", "Split"}, {"pattern", obj({{"Regex", gpt2}})},
                                                                                         {"behavior", "Isolated"}, {"invert", false}}),
                                                                                    byte_level})}}));
    } else {
        doc.set("pre_tokenizer", byte_level);
    }
    doc.set("post_processor", byte_level);
    doc.set("decoder", byte_level);
    return doc;
}

// llama-spm as a Llama-style BPE with byte fallback, merges made from the SentencePiece scores
// the way Hugging Face's converter does (every split of a token into two tokens, ranked by the
// token's score).
Json llama_json(bool metaspace) {
    GgufFile f(shared_data() + "/tokenizer/ggml-vocab-llama-spm.gguf");
    const Tokenizer g = Tokenizer::from_gguf(f);
    const std::vector<float> scores = f.get_f32_array("tokenizer.ggml.scores");
    Json doc = obj({{"version", "1.0"}});
    Json model = obj({{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"fuse_unk", true}, {"byte_fallback", true}});
    add_vocab(model, doc, g, [](const std::string& t) { return t; });
    struct Merge {
        float score;
        int32_t l, r;
    };
    std::vector<Merge> ms;
    for (int32_t id = 0; id < static_cast<int32_t>(g.vocab_size()); ++id) {
        if (g.token_type(id) != TokenType::normal) continue;
        const std::string& t = g.token_text(id);
        for (size_t i = 1; i < t.size(); ++i) {
            if ((static_cast<uint8_t>(t[i]) & 0xC0) == 0x80) continue;  // inside a character
            const int32_t l = g.find(t.substr(0, i)), r = g.find(t.substr(i));
            if (l >= 0 && r >= 0 && g.token_type(l) == TokenType::normal && g.token_type(r) == TokenType::normal)
                ms.push_back(Merge{scores[static_cast<size_t>(id)], l, r});
        }
    }
    std::stable_sort(ms.begin(), ms.end(), [](const Merge& a, const Merge& b) {
        return a.score != b.score ? a.score > b.score : (a.l != b.l ? a.l < b.l : a.r < b.r);
    });
    Json merges = Json::array();
    for (const Merge& m : ms) merges.push_back(arr({g.token_text(m.l), g.token_text(m.r)}));  // the [a, b] form
    model.set("merges", merges);
    doc.set("model", model);
    const char* marker = "\xE2\x96\x81";
    if (metaspace) {
        doc.set("normalizer", nullptr);
        doc.set("pre_tokenizer", obj({{"type", "Metaspace"}, {"replacement", marker}, {"prepend_scheme", "first"}, {"split", false}}));
        doc.set("decoder", obj({{"type", "Metaspace"}, {"replacement", marker}, {"prepend_scheme", "first"}, {"split", false}}));
    } else {
        doc.set("normalizer", obj({{"type", "Sequence"}, {"normalizers", arr({obj({{"type", "Prepend"}, {"prepend", marker}}),
                                                                              obj({{"type", "Replace"}, {"pattern", str_pattern(" ")}, {"content", marker}})})}}));
        doc.set("pre_tokenizer", nullptr);
        doc.set("decoder", obj({{"type", "Sequence"},
                                {"decoders", arr({obj({{"type", "Replace"}, {"pattern", str_pattern(marker)}, {"content", " "}}),
                                                  obj({{"type", "ByteFallback"}}), obj({{"type", "Fuse"}}),
                                                  obj({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}})})}}));
    }
    doc.set("post_processor", obj({{"type", "TemplateProcessing"},
                                   {"single", arr({obj({{"SpecialToken", obj({{"id", "<s>"}, {"type_id", 0}})}}),
                                                   obj({{"Sequence", obj({{"id", "A"}, {"type_id", 0}})}})})}}));
    return doc;
}

// bert-bge as a WordPiece tokenizer.json: the "##" spelling llama.cpp converted from.
Json bert_json() {
    const Tokenizer g = gguf_tokenizer("bert-bge");
    Json doc = obj({{"version", "1.0"}});
    Json model = obj({{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"}, {"max_input_chars_per_word", 100}});
    const std::string marker = "\xE2\x96\x81";
    add_vocab(model, doc, g, [&](const std::string& t) {
        if (t.compare(0, marker.size(), marker) == 0) return t.substr(marker.size());
        if (!t.empty() && t.front() == '[' && t.back() == ']') return t;
        return "##" + t;
    });
    doc.set("model", model);
    doc.set("normalizer", obj({{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                               {"strip_accents", nullptr}, {"lowercase", true}}));
    doc.set("pre_tokenizer", obj({{"type", "BertPreTokenizer"}}));
    doc.set("post_processor", obj({{"type", "BertProcessing"}, {"sep", arr({"[SEP]", 102})}, {"cls", arr({"[CLS]", 101})}}));
    doc.set("decoder", obj({{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}));
    return doc;
}

}  // namespace

TEST(TokenizerHf, Gpt2ByteLevel) {
    const std::string dir = temp_dir("gpt2");
    write_file(dir + "/tokenizer_config.json", R"({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "add_bos_token": false})");
    const Tokenizer tok = Tokenizer::from_hf_json(write_json(dir, gpt2_json(false)));
    EXPECT_EQ(tok.model(), Tokenizer::Model::bpe);
    EXPECT_EQ(tok.eos(), 50256);
    EXPECT_FALSE(tok.add_bos());
    check_cases(tok, "gpt-2");
    EXPECT_EQ(tok.encode("a<|endoftext|>b", false, true)[1], 50256);
    std::filesystem::remove_all(dir);
}

TEST(TokenizerHf, Gpt2SplitThenByteLevel) {
    const Tokenizer tok = Tokenizer::from_hf_json(gpt2_json(true), "gpt2 split");
    check_cases(tok, "gpt-2");
}

TEST(TokenizerHf, LlamaStyleBpeWithByteFallback) {
    const Json doc = llama_json(false);
    const Tokenizer tok = Tokenizer::from_hf_json(doc, "llama");
    EXPECT_EQ(tok.bos(), 1);
    EXPECT_TRUE(tok.add_bos());
    check_cases(tok, "llama-spm");
    const std::vector<int32_t> ids = tok.encode("Hello world", true);
    EXPECT_EQ(ids, (std::vector<int32_t>{1, 15043, 3186}));
    EXPECT_EQ(tok.decode(ids), "Hello world");
    // Metaspace (prepend_scheme first, no split) instead of the Prepend + Replace normalizer.
    check_cases(Tokenizer::from_hf_json(llama_json(true), "llama metaspace"), "llama-spm");
}

TEST(TokenizerHf, BertWordPiece) {
    const Tokenizer tok = Tokenizer::from_hf_json(bert_json(), "bert");
    EXPECT_EQ(tok.model(), Tokenizer::Model::wpm);
    check_cases(tok, "bert-bge");
    const std::vector<int32_t> ids = tok.encode("Hello, World!", true);
    EXPECT_EQ(ids, (std::vector<int32_t>{101, 7592, 1010, 2088, 999, 102}));
    EXPECT_EQ(tok.decode(ids), "hello, world!");
    EXPECT_EQ(tok.decode(tok.encode("Don't stop, y'all.")), "don't stop, y'all.");
    // Hugging Face's max_input_chars_per_word: a longer word is [UNK].
    EXPECT_EQ(tok.encode(std::string(101, 'a')), (std::vector<int32_t>{100}));
}

TEST(TokenizerHf, MetaspaceSplitMergesWithinWords) {
    // "a b" -> "▁a▁b". Without split the best merge "a ▁" crosses the word boundary; with split
    // each "▁word" merges on its own.
    auto doc = [](bool split) {
        return Json::parse(std::string(R"({"model": {"type": "BPE", "vocab": {"\u2581": 0, "a": 1, "b": 2, "\u2581a": 3, "\u2581b": 4, "a\u2581": 5},
                                       "merges": ["a \u2581", "\u2581 a", "\u2581 b"]},
                             "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": )") +
                           (split ? "true" : "false") + "}}");
    };
    EXPECT_EQ(Tokenizer::from_hf_json(doc(false), "no split").encode("a b"), (std::vector<int32_t>{0, 5, 2}));
    const Tokenizer tok = Tokenizer::from_hf_json(doc(true), "split");
    EXPECT_EQ(tok.encode("a b"), (std::vector<int32_t>{3, 4}));
    EXPECT_EQ(tok.decode({3, 4}), "a b");
}

TEST(TokenizerHf, MalformedAndUnsupportedFilesAreClearErrors) {
    const std::string base = R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}, "pre_tokenizer": {"type": "ByteLevel"}})";
    EXPECT_NO_THROW((void)Tokenizer::from_hf_json(Json::parse(base), "ok"));
    struct Bad {
        std::string json;
        ErrorKind kind;
        std::string says;
    };
    const std::vector<Bad> bad = {
        {R"({"model": )", ErrorKind::BadFile, "JSON"},
        {R"([1, 2])", ErrorKind::BadFile, "not a JSON object"},
        {R"({"added_tokens": []})", ErrorKind::BadFile, "tokenizer.model"},
        {R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})", ErrorKind::Unsupported, "model.type 'Unigram'"},
        {R"({"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}})", ErrorKind::BadFile, "model.vocab[\"a\"]"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}})", ErrorKind::BadFile, "twice"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [5]}})", ErrorKind::BadFile, "model.merges[0]"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}})", ErrorKind::BadFile, "model.merges[0]"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}}})", ErrorKind::BadFile, "model.merges"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}})", ErrorKind::BadFile, "model.unk_token"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "dropout": 0.1}})", ErrorKind::Unsupported, "model.dropout"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "normalizer": {"type": "NFKC"}})", ErrorKind::Unsupported,
         "normalizer.type 'NFKC'"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\d+"}, "behavior": "Isolated"}]}})",
         ErrorKind::Unsupported, "pre_tokenizer.pretokenizers[0].pattern"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Digits"}})", ErrorKind::Unsupported,
         "pre_tokenizer.type 'Digits'"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "decoder": {"type": "CTC"}})", ErrorKind::Unsupported, "decoder"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}]}})",
         ErrorKind::BadFile, "post_processor.single[0]"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "added_tokens": [{"id": "x", "content": "<s>"}]})", ErrorKind::BadFile,
         "added_tokens[0].id"},
        {R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})", ErrorKind::BadFile, "model.unk_token"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 2000000000}, "merges": []}})", ErrorKind::BadFile, "not dense"},
        {R"({"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}, "post_processor": {"type": "BertProcessing", "cls": ["[CLS]", 7], "sep": ["[SEP]", 0]}})",
         ErrorKind::BadFile, "post_processor.cls[1]"},
    };
    const std::string dir = temp_dir("bad");
    for (const Bad& b : bad) {
        SCOPED_TRACE(b.json);
        const std::string path = dir + "/tokenizer.json";
        write_file(path, b.json);
        try {
            (void)Tokenizer::from_hf_json(path);
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), b.kind) << e.what();
            EXPECT_NE(std::string(e.what()).find(b.says), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW((void)Tokenizer::from_hf_json(dir + "/missing.json"), Error);
    std::filesystem::remove_all(dir);
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
