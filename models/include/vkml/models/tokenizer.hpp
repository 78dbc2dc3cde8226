// Tokenizer built from GGUF metadata (tokenizer.ggml.*), behaving as llama.cpp does:
//  - "llama": SentencePiece-style. Spaces become U+2581, a leading space is added when
//    tokenizer.ggml.add_space_prefix (default true), symbols are merged by the best token score,
//    and characters with no token fall back to <0xXX> byte tokens.
//  - "gpt2": byte-level BPE. A pre-tokenizer splits the text into words (tokenizer.ggml.pre:
//    "gpt-2" and most others use the GPT-2 pattern, "deepseek-coder" its own), each word's bytes
//    are mapped to GPT-2's printable code points, then merged by tokenizer.ggml.merges rank.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vkml/models/gguf.hpp"

namespace vkml::models {

enum class TokenType : int32_t {
    undefined = 0, normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6,
};

class Tokenizer {
public:
    enum class Model { spm, bpe };
    enum class PreTokenizer { none, gpt2, deepseek_coder };

    // Reads tokenizer.ggml.{model,pre,tokens,scores,token_type,merges,...}. A missing or
    // inconsistent vocabulary is BadFile; a model other than llama/gpt2 is Unsupported.
    static Tokenizer from_gguf(const GgufFile& file);

    // Text -> ids. With parse_special, texts of control and user-defined tokens in `text`
    // become those tokens; otherwise they are ordinary text.
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
    int32_t bos() const { return bos_; }        // -1 when absent
    int32_t eos() const { return eos_; }
    int32_t unk() const { return unk_; }
    bool add_bos() const { return add_bos_; }

private:
    static int byte_token_value(const std::string& text);
    void encode_spm(std::string_view text, bool space_prefix, std::vector<int32_t>& out) const;
    void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
    void bpe_word(const std::string& word, std::vector<int32_t>& out) const;
    int32_t merge_rank(const std::string& left, const std::string& right) const;

    Model model_ = Model::spm;
    PreTokenizer pre_ = PreTokenizer::gpt2;
    std::vector<std::string> tokens_;
    std::vector<float> scores_;
    std::vector<TokenType> types_;
    std::unordered_map<std::string, int32_t> index_;
    std::unordered_map<std::string, int32_t> merges_;  // "left right" -> rank
    std::vector<int32_t> specials_;                    // control/user-defined, longest text first
    int32_t bos_ = -1, eos_ = -1, unk_ = -1;
    bool add_bos_ = false;
    bool add_space_prefix_ = true;
    int32_t byte_tokens_[256];  // SPM <0xXX> or BPE single-byte tokens; -1 when absent
};

}  // namespace vkml::models
