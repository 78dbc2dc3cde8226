// Tokenizers behaving as llama.cpp / Hugging Face tokenizers do. See docs/tokenizers.md.
// From GGUF metadata (tokenizer.ggml.*):
//  - "llama": SentencePiece-style. Spaces become U+2581, a leading space is added when
//    tokenizer.ggml.add_space_prefix (default true), symbols are merged by the best token score,
//    and characters with no token fall back to <0xXX> byte tokens.
//  - "gpt2": byte-level BPE. A pre-tokenizer splits the text into words (tokenizer.ggml.pre:
//    "gpt-2" and most others use the GPT-2 pattern, "deepseek-coder" its own), each word's bytes
//    are mapped to GPT-2's printable code points, then merged by tokenizer.ggml.merges rank.
//  - "bert": WordPiece. BERT normalization (lowercase, accents stripped, punctuation and CJK
//    split off), then each word is matched greedily, longest piece first; word-initial pieces
//    carry a U+2581 prefix (llama.cpp's conversion of "##" vocabularies), a word with no match
//    is [UNK]. With add_bos the ids are wrapped in [CLS] ... [SEP].
// From a Hugging Face tokenizer.json (from_hf_json): BPE (byte-level or Llama-style with byte
// fallback) and WordPiece models, added tokens, and the normalizers / pre-tokenizers / decoders
// those use; anything else is an Unsupported error naming the field.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vkml/models/gguf.hpp"

namespace vkml::models {

class Json;

enum class TokenType : int32_t {
    undefined = 0, normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6,
};

class Tokenizer {
public:
    enum class Model { spm, bpe, wpm };
    enum class PreTokenizer { none, gpt2, deepseek_coder, bert };

    // Reads tokenizer.ggml.{model,pre,tokens,scores,token_type,merges,...}. A missing or
    // inconsistent vocabulary is BadFile; a model other than llama/gpt2/bert is Unsupported.
    static Tokenizer from_gguf(const GgufFile& file);

    // Reads a Hugging Face tokenizer.json. BOS/EOS come from its post_processor and, when they
    // exist beside it, tokenizer_config.json (bos_token, eos_token, add_bos_token) and
    // config.json (eos_token_id). Malformed JSON or a wrong field type is BadFile; a model,
    // normalizer, pre-tokenizer, decoder or post-processor vkml does not implement is
    // Unsupported, naming the field.
    static Tokenizer from_hf_json(const std::string& path);
    // The same from a parsed document; `dir` (may be empty) is searched for the side files.
    static Tokenizer from_hf_json(const Json& doc, const std::string& source, const std::string& dir = "");

    // Text -> ids. With parse_special, texts of control and user-defined tokens in `text`
    // become those tokens; otherwise they are ordinary text. add_bos adds the BOS (for
    // WordPiece: [CLS] before and [SEP] after).
    std::vector<int32_t> encode(std::string_view text, bool add_bos = false, bool parse_special = false) const;
    // Ids -> text. Control tokens are dropped unless keep_special; an id out of range is an
    // InvalidArgument error.
    std::string decode(const std::vector<int32_t>& ids, bool keep_special = false) const;
    // The bytes one token stands for (no leading-space stripping).
    std::string piece(int32_t id, bool keep_special = true) const;

    Model model() const { return model_; }
    PreTokenizer pre_tokenizer() const { return pre_; }
    size_t vocab_size() const { return tokens_.size(); }
    const std::string& token_text(int32_t id) const { return tokens_.at(static_cast<size_t>(id)); }
    TokenType token_type(int32_t id) const { return types_.at(static_cast<size_t>(id)); }
    int32_t find(std::string_view text) const;  // -1 when absent
    int32_t bos() const { return bos_; }        // -1 when absent ([CLS] for WordPiece)
    int32_t eos() const { return eos_; }
    int32_t sep() const { return sep_; }        // appended after the text by add_bos; -1: none
    int32_t unk() const { return unk_; }
    bool add_bos() const { return add_bos_; }

private:
    static int byte_token_value(const std::string& text);
    void finish_load(const std::string& source);
    void encode_spm(std::string_view text, bool space_prefix, std::vector<int32_t>& out) const;
    void encode_bpe(std::string_view text, bool space_prefix, std::vector<int32_t>& out) const;
    void encode_wpm(std::string_view text, std::vector<int32_t>& out) const;
    void bpe_word(std::string_view word, std::vector<int32_t>& out) const;
    // `key` is scratch space for "left right", reused so that a lookup allocates nothing.
    int32_t merge_rank(std::string_view left, std::string_view right, std::string& key) const;
    void push_unknown(std::string_view piece, std::vector<int32_t>& out) const;
    void append_piece(int32_t id, bool keep_special, std::string& out) const;

    // String-keyed maps that a std::string_view can look up without building a std::string.
    struct TextHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using TextMap = std::unordered_map<std::string, int32_t, TextHash, std::equal_to<>>;

    Model model_ = Model::spm;
    PreTokenizer pre_ = PreTokenizer::gpt2;
    std::vector<std::string> tokens_;
    std::vector<float> scores_;
    std::vector<TokenType> types_;
    TextMap index_;
    TextMap merges_;  // "left right" -> rank
    std::vector<int32_t> specials_;                    // control/user-defined, longest text first
    int32_t bos_ = -1, eos_ = -1, unk_ = -1, sep_ = -1;
    bool add_bos_ = false;
    bool add_space_prefix_ = true;  // a space (U+2581) before the text and after each special token
    bool prefix_first_only_ = false;  // ...but only before the very first text fragment
    bool space_marker_ = true;      // spaces are U+2581 in token texts (SPM, WordPiece, Llama-style BPE)
    bool byte_level_ = false;       // BPE over GPT-2's byte characters
    bool byte_prefix_space_ = false;  // byte-level add_prefix_space: a space before the text
    bool byte_fallback_ = true;     // unknown characters become <0xXX> tokens when those exist
    bool metaspace_split_ = false;  // Llama-style BPE: each U+2581 starts a new word
    bool ignore_merges_ = false;    // BPE: a word that is a token is that token
    bool lowercase_ = true, strip_accents_ = true;  // WordPiece normalization
    size_t max_token_len_ = 0;      // WordPiece: longest token text in bytes
    size_t max_word_chars_ = 0;     // WordPiece: longer words are [UNK] (0: no limit)
    int32_t byte_tokens_[256];      // SPM <0xXX> or BPE single-byte tokens; -1 when absent
};

}  // namespace vkml::models
