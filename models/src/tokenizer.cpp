// Tokenizer: GGUF vocabulary loading, special-token splitting, SentencePiece-style, BPE and
// WordPiece encoding, decoding. The pre-tokenizers live in pretokenize.cpp, the tokenizer.json
// loader in tokenizer_hf.cpp.
#include "vkml/models/tokenizer.hpp"

#include <algorithm>
#include <cstdio>
#include <queue>

#include "vkml/error.hpp"
#include "tokenizer_internal.hpp"
#include "vkml/models/unicode.hpp"

namespace vkml::models {

namespace {
const std::string kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        if (s.compare(i, from.size(), from) == 0) {
            out += to;
            i += from.size();
        } else {
            out += s[i++];
        }
    }
    return out;
}

// A symbol of the merge loops: a byte range of the text, linked to its neighbours.
struct Symbol {
    int prev, next;
    size_t offset, len;
};

// One symbol per UTF-8 character (a truncated tail counts as one), linked to its neighbours:
// the starting point of both the SentencePiece and the BPE merge loops.
std::vector<Symbol> utf8_symbols(std::string_view text) {
    std::vector<Symbol> syms;
    for (size_t off = 0; off < text.size();) {
        const size_t len = std::min(unicode::utf8_len(static_cast<uint8_t>(text[off])), text.size() - off);
        const int idx = static_cast<int>(syms.size());
        syms.push_back(Symbol{idx - 1, off + len == text.size() ? -1 : idx + 1, off, len});
        off += len;
    }
    return syms;
}
}  // namespace

namespace {
int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

// "<0xAB>" -> 0xAB, or -1 when the text is not a byte token.
int Tokenizer::byte_token_value(const std::string& text) {
    if (text.size() != 6 || text.compare(0, 3, "<0x") != 0 || text[5] != '>') return -1;
    const int hi = hex_digit(text[3]), lo = hex_digit(text[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

Tokenizer Tokenizer::from_gguf(const GgufFile& f) {
    Tokenizer t;
    const std::string model = f.get_string("tokenizer.ggml.model");
    if (model == "llama")
        t.model_ = Model::spm;
    else if (model == "gpt2")
        t.model_ = Model::bpe;
    else if (model == "bert")
        t.model_ = Model::wpm;
    else
        throw Error(ErrorKind::Unsupported, f.path() + ": tokenizer model '" + model +
                                                "' is not supported (llama, gpt2 and bert are)");
    t.space_marker_ = t.model_ != Model::bpe;
    t.byte_level_ = t.model_ == Model::bpe;
    t.tokens_ = f.get_string_array("tokenizer.ggml.tokens");
    const size_t n = t.tokens_.size();
    if (n == 0 || n > (1u << 31) - 1) throw Error(ErrorKind::BadFile, f.path() + ": tokenizer.ggml.tokens is empty or too large");
    if (f.has("tokenizer.ggml.scores")) {
        t.scores_ = f.get_f32_array("tokenizer.ggml.scores");
        if (t.scores_.size() != n) throw Error(ErrorKind::BadFile, f.path() + ": tokenizer.ggml.scores has " + std::to_string(t.scores_.size()) + " entries for " + std::to_string(n) + " tokens");
    } else {
        t.scores_.assign(n, 0.0f);
    }
    t.types_.assign(n, TokenType::normal);
    if (f.has("tokenizer.ggml.token_type")) {
        const std::vector<int32_t> ty = f.get_i32_array("tokenizer.ggml.token_type");
        if (ty.size() != n) throw Error(ErrorKind::BadFile, f.path() + ": tokenizer.ggml.token_type has " + std::to_string(ty.size()) + " entries for " + std::to_string(n) + " tokens");
        for (size_t i = 0; i < n; ++i) t.types_[i] = (ty[i] >= 0 && ty[i] <= 6) ? static_cast<TokenType>(ty[i]) : TokenType::undefined;
    }
    // A SentencePiece byte token decodes through its "<0xAB>" text: reject any other spelling
    // here rather than fail (or decode a wrong byte) later. Found by fuzz_tokenizer_gguf.
    if (t.model_ == Model::spm)
        for (size_t i = 0; i < n; ++i)
            if (t.types_[i] == TokenType::byte && byte_token_value(t.tokens_[i]) < 0)
                throw Error(ErrorKind::BadFile, f.path() + ": byte token " + std::to_string(i) + " is '" + t.tokens_[i] +
                                                    "', not <0xHH>");
    for (size_t i = 0; i < n; ++i) t.index_.emplace(t.tokens_[i], static_cast<int32_t>(i));  // first id wins

    auto id_key = [&](const char* key, int32_t& out) {
        if (auto v = f.int_or_none(key)) {
            if (*v < 0 || *v >= static_cast<int64_t>(n))
                throw Error(ErrorKind::BadFile, f.path() + ": " + key + " = " + std::to_string(*v) + " is not a token id");
            out = static_cast<int32_t>(*v);
        }
    };
    id_key("tokenizer.ggml.bos_token_id", t.bos_);
    id_key("tokenizer.ggml.eos_token_id", t.eos_);
    id_key("tokenizer.ggml.unknown_token_id", t.unk_);
    if (t.model_ == Model::wpm) {  // as llama.cpp: [CLS] text [SEP], the CLS playing BOS
        id_key("tokenizer.ggml.cls_token_id", t.bos_);
        id_key("tokenizer.ggml.seperator_token_id", t.sep_);  // sic: llama.cpp's key
        if (t.unk_ < 0) t.unk_ = t.find("[UNK]");
        if (t.bos_ < 0) t.bos_ = t.find("[CLS]");
        if (t.sep_ < 0) t.sep_ = t.find("[SEP]");
    }
    if (t.model_ == Model::spm) {
        if (t.bos_ < 0 && n > 1) t.bos_ = 1;
        if (t.eos_ < 0 && n > 2) t.eos_ = 2;
        if (t.unk_ < 0) t.unk_ = 0;
    }
    t.add_bos_ = f.has("tokenizer.ggml.add_bos_token") ? f.get_bool("tokenizer.ggml.add_bos_token") : t.model_ != Model::bpe;
    t.add_space_prefix_ = f.has("tokenizer.ggml.add_space_prefix") ? f.get_bool("tokenizer.ggml.add_space_prefix") : true;
    t.byte_fallback_ = t.model_ == Model::spm;

    if (t.model_ == Model::bpe) {
        std::string pre = f.string_or_none("tokenizer.ggml.pre").value_or("default");
        t.pre_ = pre == "deepseek-coder" ? PreTokenizer::deepseek_coder : PreTokenizer::gpt2;
        const std::vector<std::string> merges = f.get_string_array("tokenizer.ggml.merges");
        t.merges_.reserve(merges.size());
        for (size_t r = 0; r < merges.size(); ++r) {
            const size_t sp = merges[r].find(' ', 1);
            if (sp == std::string::npos)
                throw Error(ErrorKind::BadFile, f.path() + ": tokenizer.ggml.merges[" + std::to_string(r) + "] has no space");
            t.merges_.emplace(merges[r], static_cast<int32_t>(r));
        }
    } else {
        t.pre_ = t.model_ == Model::wpm ? PreTokenizer::bert : PreTokenizer::none;
    }
    t.finish_load(f.path());
    return t;
}

// What both loaders derive from the vocabulary: the text -> id index, byte tokens, the special
// tokens in matching order.
void Tokenizer::finish_load(const std::string& source) {
    const size_t n = tokens_.size();
    if (index_.empty()) {
        index_.reserve(n);
        for (size_t i = 0; i < n; ++i) index_.emplace(tokens_[i], static_cast<int32_t>(i));  // first id wins
    }
    if (scores_.size() != n) scores_.assign(n, 0.0f);
    for (int b = 0; b < 256; ++b) {
        byte_tokens_[b] = -1;
        if (byte_level_) {
            byte_tokens_[b] = find(gpt2_byte_to_utf8(static_cast<uint8_t>(b)));
        } else if (byte_fallback_) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "<0x%02X>", b);
            byte_tokens_[b] = find(buf);
        }
    }
    max_token_len_ = 0;
    for (const std::string& s : tokens_) max_token_len_ = std::max(max_token_len_, s.size());
    if (model_ == Model::wpm && unk_ < 0)
        throw Error(ErrorKind::BadFile, source + ": a WordPiece vocabulary needs an unknown token ([UNK])");

    specials_.clear();
    for (size_t i = 0; i < n; ++i)
        if ((types_[i] == TokenType::control || types_[i] == TokenType::user_defined) && !tokens_[i].empty())
            specials_.push_back(static_cast<int32_t>(i));
    std::stable_sort(specials_.begin(), specials_.end(), [&](int32_t a, int32_t b) {
        return tokens_[static_cast<size_t>(a)].size() > tokens_[static_cast<size_t>(b)].size();
    });
}

int32_t Tokenizer::find(std::string_view text) const {
    auto it = index_.find(text);
    return it == index_.end() ? -1 : it->second;
}

int32_t Tokenizer::merge_rank(std::string_view left, std::string_view right, std::string& key) const {
    key.assign(left).append(1, ' ').append(right);
    auto it = merges_.find(std::string_view(key));
    return it == merges_.end() ? -1 : it->second;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
    std::vector<int32_t> out;
    if (add_bos && bos_ >= 0) out.push_back(bos_);
    // As llama.cpp: user-defined tokens (e.g. runs of spaces added to a vocabulary) always
    // match as whole tokens; control tokens only with parse_special. Longest token first, each
    // splitting every remaining text fragment at all its occurrences.
    struct Fragment {
        int32_t token;  // -1: text
        size_t offset, len;
    };
    std::vector<Fragment> frags;
    if (!text.empty()) frags.push_back(Fragment{-1, 0, text.size()});
    for (int32_t id : specials_) {
        if (!parse_special && types_[static_cast<size_t>(id)] != TokenType::user_defined) continue;
        const std::string& s = tokens_[static_cast<size_t>(id)];
        std::vector<Fragment> next;
        for (const Fragment& f : frags) {
            if (f.token >= 0 || f.len < s.size()) {
                next.push_back(f);
                continue;
            }
            const std::string_view body = text.substr(f.offset, f.len);
            size_t at = 0;
            for (size_t p; (p = body.find(s, at)) != std::string_view::npos; at = p + s.size()) {
                if (p > at) next.push_back(Fragment{-1, f.offset + at, p - at});
                next.push_back(Fragment{id, f.offset + p, s.size()});
            }
            if (at < f.len) next.push_back(Fragment{-1, f.offset + at, f.len - at});
        }
        frags = std::move(next);
    }
    bool prev_special = true;  // SentencePiece-style: a space prefix at the start and after a token
    for (const Fragment& f : frags) {
        if (f.token >= 0) {
            out.push_back(f.token);
            prev_special = !prefix_first_only_;
            continue;
        }
        const std::string_view part = text.substr(f.offset, f.len);
        const bool prefix = prev_special && (!prefix_first_only_ || f.offset == 0);
        if (model_ == Model::spm)
            encode_spm(part, prefix, out);
        else if (model_ == Model::bpe)
            encode_bpe(part, prefix, out);
        else
            encode_wpm(part, out);
        prev_special = false;
    }
    if (add_bos && sep_ >= 0) out.push_back(sep_);
    return out;
}

void Tokenizer::encode_spm(std::string_view raw, bool space_prefix, std::vector<int32_t>& out) const {
    // As llama.cpp: a space before the first fragment (add_space_prefix), then ' ' -> U+2581.
    std::string text = (add_space_prefix_ && space_prefix) ? " " : "";
    text += raw;
    text = replace_all(text, " ", kSpace);

    std::vector<Symbol> syms = utf8_symbols(text);
    struct Bigram {
        int left, right;
        float score;
        size_t size;
    };
    // Best score first; on equal scores the leftmost pair.
    auto worse = [](const Bigram& a, const Bigram& b) { return a.score < b.score || (a.score == b.score && a.left > b.left); };
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> queue(worse);
    auto try_add = [&](int l, int r) {
        if (l < 0 || r < 0) return;
        const Symbol& a = syms[static_cast<size_t>(l)];
        const Symbol& b = syms[static_cast<size_t>(r)];
        const int32_t id = find(std::string_view(text).substr(a.offset, a.len + b.len));
        if (id < 0) return;
        queue.push(Bigram{l, r, scores_[static_cast<size_t>(id)], a.len + b.len});
    };
    for (size_t k = 1; k < syms.size(); ++k) try_add(static_cast<int>(k) - 1, static_cast<int>(k));
    while (!queue.empty()) {
        const Bigram g = queue.top();
        queue.pop();
        Symbol& l = syms[static_cast<size_t>(g.left)];
        Symbol& r = syms[static_cast<size_t>(g.right)];
        if (l.len == 0 || r.len == 0 || l.len + r.len != g.size) continue;  // stale
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = g.left;
        try_add(l.prev, g.left);
        try_add(g.left, l.next);
    }
    for (int k = syms.empty() ? -1 : 0; k != -1; k = syms[static_cast<size_t>(k)].next) {
        const Symbol& s = syms[static_cast<size_t>(k)];
        const std::string_view piece = std::string_view(text).substr(s.offset, s.len);
        const int32_t id = find(piece);
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        push_unknown(piece, out);
    }
}

// A piece with no token: its bytes as byte tokens, or [UNK] for a byte that has none.
void Tokenizer::push_unknown(std::string_view piece, std::vector<int32_t>& out) const {
    for (char c : piece) {
        const int32_t b = byte_tokens_[static_cast<uint8_t>(c)];
        if (b >= 0)
            out.push_back(b);
        else if (unk_ >= 0)
            out.push_back(unk_);
    }
}

void Tokenizer::encode_bpe(std::string_view text, bool space_prefix, std::vector<int32_t>& out) const {
    if (byte_level_) {
        std::string prefixed;
        if (byte_prefix_space_ && space_prefix && !text.empty() && text[0] != ' ') {
            prefixed = " " + std::string(text);
            text = prefixed;
        }
        std::string mapped;
        for (const std::string& word : pretokenize(pre_, text)) {
            mapped.clear();
            for (char c : word) mapped += gpt2_byte_to_utf8(static_cast<uint8_t>(c));
            bpe_word(mapped, out);
        }
        return;
    }
    // Llama-style BPE (tokenizer.json): the SentencePiece text, then merges by rank.
    std::string norm = (add_space_prefix_ && space_prefix) ? " " : "";
    norm += text;
    if (space_marker_) norm = replace_all(norm, " ", kSpace);
    if (!metaspace_split_) {
        bpe_word(norm, out);
        return;
    }
    const std::string_view all(norm);
    size_t start = 0;  // Metaspace split: each U+2581 begins a word
    for (size_t p = 0; (p = all.find(kSpace, p + 1)) != std::string_view::npos;) {
        bpe_word(all.substr(start, p - start), out);
        start = p;
    }
    bpe_word(all.substr(start), out);
}

void Tokenizer::encode_wpm(std::string_view text, std::vector<int32_t>& out) const {
    // As llama.cpp: per word, the longest token matching at the start (with the word-initial
    // U+2581), then the longest from where it ended, and so on; any dead end makes the whole word
    // one [UNK].
    for (const std::string& word : bert_words(text, lowercase_, strip_accents_)) {
        if (word.empty()) continue;
        if (max_word_chars_ > 0 && unicode::decode_utf8(word).size() > max_word_chars_) {
            out.push_back(unk_);
            continue;
        }
        const std::string w = kSpace + word;
        const size_t first = out.size();
        for (size_t i = 0; i < w.size();) {
            size_t j = std::min(w.size(), i + max_token_len_);
            int32_t id = -1;
            for (; j > i; --j)
                if ((id = find(std::string_view(w).substr(i, j - i))) >= 0) break;
            if (id < 0) {
                out.resize(first);
                break;
            }
            out.push_back(id);
            i = j;
        }
        if (out.size() == first) out.push_back(unk_);
    }
}

void Tokenizer::bpe_word(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    if (ignore_merges_)
        if (const int32_t id = find(word); id >= 0) {
            out.push_back(id);
            return;
        }
    std::vector<Symbol> syms = utf8_symbols(word);
    struct Bigram {
        int left, right;
        int32_t rank;
        size_t size;  // bytes of the merged pair: symbols only grow, so a changed sum means stale
    };
    // Lowest merge rank first; on equal ranks the leftmost pair.
    auto worse = [](const Bigram& a, const Bigram& b) { return a.rank > b.rank || (a.rank == b.rank && a.left > b.left); };
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> queue(worse);
    auto sym_text = [&](const Symbol& s) { return word.substr(s.offset, s.len); };
    std::string key;
    auto try_add = [&](int l, int r) {
        if (l < 0 || r < 0) return;
        const Symbol& a = syms[static_cast<size_t>(l)];
        const Symbol& b = syms[static_cast<size_t>(r)];
        const int32_t rank = merge_rank(sym_text(a), sym_text(b), key);
        if (rank < 0) return;
        queue.push(Bigram{l, r, rank, a.len + b.len});
    };
    for (size_t k = 1; k < syms.size(); ++k) try_add(static_cast<int>(k) - 1, static_cast<int>(k));
    while (!queue.empty()) {
        const Bigram g = queue.top();
        queue.pop();
        Symbol& l = syms[static_cast<size_t>(g.left)];
        Symbol& r = syms[static_cast<size_t>(g.right)];
        if (l.len == 0 || r.len == 0 || l.len + r.len != g.size) continue;  // stale
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = g.left;
        try_add(l.prev, g.left);
        try_add(g.left, l.next);
    }
    for (int k = syms.empty() ? -1 : 0; k != -1; k = syms[static_cast<size_t>(k)].next) {
        const std::string_view piece = sym_text(syms[static_cast<size_t>(k)]);
        const int32_t id = find(piece);
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        // No token for the merged symbol: its characters one by one (each a GPT-2 byte char),
        // a character with no token as its bytes (byte fallback) or [UNK].
        for (const auto& ch : unicode::decode_utf8(piece)) {
            const std::string_view c = piece.substr(ch.offset, ch.len);
            if (const int32_t id = find(c); id >= 0)
                out.push_back(id);
            else if (byte_fallback_ && !byte_level_)
                push_unknown(c, out);
            else if (unk_ >= 0)
                out.push_back(unk_);
        }
    }
}

std::string Tokenizer::piece(int32_t id, bool keep_special) const {
    std::string out;
    append_piece(id, keep_special, out);
    return out;
}

void Tokenizer::append_piece(int32_t id, bool keep_special, std::string& out) const {
    if (id < 0 || static_cast<size_t>(id) >= tokens_.size())
        throw Error(ErrorKind::InvalidArgument, "Tokenizer::decode: id " + std::to_string(id) + " is not in [0, " +
                                                    std::to_string(tokens_.size()) + ")");
    const std::string& text = tokens_[static_cast<size_t>(id)];
    const TokenType type = types_[static_cast<size_t>(id)];
    if (type == TokenType::control || type == TokenType::unused) {
        if (keep_special) out += text;
        return;
    }
    if (!byte_level_) {
        if (type == TokenType::byte && text.size() == 6 && text.compare(0, 3, "<0x") == 0) {
            out += static_cast<char>(byte_token_value(text));
        } else if (!space_marker_) {
            out += text;
        } else {
            for (size_t i = 0; i < text.size();) {  // U+2581 -> ' '
                if (text.compare(i, kSpace.size(), kSpace) == 0) {
                    out += ' ';
                    i += kSpace.size();
                } else {
                    out += text[i++];
                }
            }
        }
        return;
    }
    if (type == TokenType::user_defined) {
        out += text;
        return;
    }
    for (size_t i = 0; i < text.size();) {
        const unicode::Char ch = unicode::next_utf8(text, i);
        const int b = gpt2_utf8_to_byte(ch.cp);
        if (b >= 0)
            out += static_cast<char>(b);
        else
            out.append(text, i, ch.len);
        i += ch.len;
    }
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool keep_special) const {
    std::string out;
    // Undo the space SentencePiece-style encoding puts at the start and after each special
    // token: the first piece of each such text run loses one leading space.
    bool after_special = true;
    for (int32_t id : ids) {
        const size_t at = out.size();
        append_piece(id, keep_special, out);
        const TokenType type = types_[static_cast<size_t>(id)];
        const bool special = type == TokenType::control || type == TokenType::user_defined;
        const bool empty = out.size() == at;
        if (space_marker_ && add_space_prefix_ && after_special && !special && !empty && out[at] == ' ')
            out.erase(at, 1);
        if (!empty || special) after_special = special;
    }
    if (model_ == Model::wpm) {
        // WordPiece words are separate tokens, so decoding spaces out punctuation: clean up as
        // Hugging Face's WordPiece decoder (cleanup = true) does.
        static const std::pair<const char*, const char*> kCleanup[] = {
            {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
            {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
        };
        for (const auto& [from, to] : kCleanup) out = replace_all(out, from, to);
    }
    return out;
}

}  // namespace vkml::models
