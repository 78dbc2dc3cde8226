// Tokenizer::from_hf_json: a Hugging Face tokenizer.json mapped onto the same Tokenizer the GGUF
// vocabularies use. Supported: model BPE (byte-level, or Llama-style with byte_fallback) and
// WordPiece; added_tokens; the normalizers, pre-tokenizers, decoders and post-processors those
// tokenizers are written with (docs/tokenizers.md lists them). Anything else is an Unsupported
// error naming the field, so a tokenizer vkml would get wrong is never used silently.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tokenizer_internal.hpp"
#include "vkml/error.hpp"
#include "vkml/models/json.hpp"
#include "vkml/models/safetensors.hpp"

namespace vkml::models {

namespace {

const std::string kMarker = "\xE2\x96\x81";  // U+2581
// GPT-2's pre-tokenizer pattern as tokenizer.json spells it (ByteLevel's built-in regex).
const std::string kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Field access that names the source file and the JSON path in every error.
struct Reader {
    std::string source;

    [[noreturn]] void bad(const std::string& field, const std::string& what) const {
        throw Error(ErrorKind::BadFile, source + ": " + field + " " + what);
    }
    [[noreturn]] void unsupported(const std::string& field, const std::string& what) const {
        throw Error(ErrorKind::Unsupported, source + ": " + field + " " + what);
    }
    const Json& need(const Json& obj, const std::string& key, const std::string& field) const {
        const Json* v = obj.find(key);
        if (!v) bad(field + "." + key, "is missing");
        return *v;
    }
    const std::string& str(const Json& v, const std::string& field) const {
        if (!v.is_string()) bad(field, "is not a string");
        return v.as_string();
    }
    std::string str_or(const Json& obj, const std::string& key, const std::string& field, const std::string& dflt) const {
        const Json* v = obj.find(key);
        return !v || v->is_null() ? dflt : str(*v, field + "." + key);
    }
    bool flag(const Json& obj, const std::string& key, const std::string& field, bool dflt) const {
        const Json* v = obj.find(key);
        if (!v || v->is_null()) return dflt;
        if (v->type() != Json::Type::boolean) bad(field + "." + key, "is not a boolean");
        return v->as_bool();
    }
    int64_t id(const Json& v, const std::string& field) const {
        if (!v.is_number()) bad(field, "is not a token id");
        int64_t x = -1;
        try {
            x = v.as_i64();
        } catch (const Error&) {
            bad(field, "is not an integer token id");
        }
        if (x < 0 || x >= (int64_t{1} << 31) - 1) bad(field, "= " + std::to_string(x) + " is not a token id");
        return x;
    }
    const std::string& type(const Json& obj, const std::string& field) const {
        if (!obj.is_object()) bad(field, "is not an object");
        return str(need(obj, "type", field), field + ".type");
    }
    // A component or a {"type": "Sequence", KEY: [...]} of them, flattened; null gives none.
    std::vector<std::pair<const Json*, std::string>> flatten(const Json* v, const std::string& field, const char* key) const {
        std::vector<std::pair<const Json*, std::string>> out;
        if (!v || v->is_null()) return out;
        if (type(*v, field) != "Sequence") {
            out.emplace_back(v, field);
            return out;
        }
        const Json& items = need(*v, key, field);
        if (!items.is_array()) bad(field + "." + key, "is not an array");
        for (size_t i = 0; i < items.size(); ++i) {
            auto sub = flatten(&items.as_array()[i], field + "." + key + "[" + std::to_string(i) + "]", key);
            out.insert(out.end(), sub.begin(), sub.end());
        }
        return out;
    }
    // {"String": s} or {"Regex": s} -> (is_regex, s)
    std::pair<bool, std::string> pattern(const Json& obj, const std::string& field) const {
        const Json& p = need(obj, "pattern", field);
        if (const Json* s = p.find("String")) return {false, str(*s, field + ".pattern.String")};
        if (const Json* r = p.find("Regex")) return {true, str(*r, field + ".pattern.Regex")};
        bad(field + ".pattern", "has neither String nor Regex");
    }
};

// A special token named in a config: "text" or {"content": "text"}.
std::string token_name(const Json* v) {
    if (!v) return "";
    if (v->is_string()) return v->as_string();
    if (v->is_object())
        if (const Json* c = v->find("content"); c && c->is_string()) return c->as_string();
    return "";
}

}  // namespace

Tokenizer Tokenizer::from_hf_json(const std::string& path) {
    const Json doc = Json::parse(read_text_file(path), path);
    return from_hf_json(doc, path, std::filesystem::path(path).parent_path().string());
}

Tokenizer Tokenizer::from_hf_json(const Json& doc, const std::string& source, const std::string& dir) {
    const Reader r{source};
    if (!doc.is_object()) r.bad("the document", "is not a JSON object");
    Tokenizer t;
    const Json& model = r.need(doc, "model", "tokenizer");
    const std::string mtype = r.type(model, "model");
    if (mtype == "BPE")
        t.model_ = Model::bpe;
    else if (mtype == "WordPiece")
        t.model_ = Model::wpm;
    else
        r.unsupported("model.type", "'" + mtype + "' is not supported (BPE and WordPiece are)");

    // The vocabulary: model.vocab {text: id} and added_tokens [{id, content, special}].
    const Json& vocab = r.need(model, "vocab", "model");
    if (!vocab.is_object()) r.bad("model.vocab", "is not an object");
    std::vector<std::pair<int64_t, const std::string*>> entries;
    int64_t n = 0;
    for (const auto& [text, v] : vocab.as_object()) {
        const int64_t id = r.id(v, "model.vocab[\"" + text + "\"]");
        entries.emplace_back(id, &text);
        n = std::max(n, id + 1);
    }
    const Json* added = doc.find("added_tokens");
    if (added && !added->is_null() && !added->is_array()) r.bad("added_tokens", "is not an array");
    const size_t n_added = added && added->is_array() ? added->size() : 0;
    for (size_t i = 0; i < n_added; ++i) {
        const std::string field = "added_tokens[" + std::to_string(i) + "]";
        n = std::max(n, r.id(r.need(added->as_array()[i], "id", field), field + ".id") + 1);
    }
    if (n == 0) r.bad("model.vocab", "is empty");
    if (static_cast<size_t>(n) > entries.size() + n_added)  // also bounds the allocation below
        r.bad("model.vocab", "ids go up to " + std::to_string(n - 1) + " for " + std::to_string(entries.size() + n_added) +
                                 " tokens (not dense)");
    t.tokens_.assign(static_cast<size_t>(n), std::string());
    t.types_.assign(static_cast<size_t>(n), TokenType::unused);  // ids no entry names
    std::vector<bool> seen(static_cast<size_t>(n), false);
    for (const auto& [id, text] : entries) {
        if (seen[static_cast<size_t>(id)]) r.bad("model.vocab", "gives id " + std::to_string(id) + " twice");
        seen[static_cast<size_t>(id)] = true;
        t.tokens_[static_cast<size_t>(id)] = *text;
        t.types_[static_cast<size_t>(id)] = TokenType::normal;
    }

    t.space_marker_ = false;
    t.add_space_prefix_ = false;
    t.byte_fallback_ = false;
    t.pre_ = PreTokenizer::none;
    if (t.model_ == Model::bpe) {
        if (const Json* d = model.find("dropout"); d && !d->is_null() && !(d->is_number() && d->as_number() == 0.0))
            r.unsupported("model.dropout", "(BPE dropout) is not supported");
        for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
            if (!r.str_or(model, key, "model", "").empty())
                r.unsupported(std::string("model.") + key, "is not supported for BPE");
        t.byte_fallback_ = r.flag(model, "byte_fallback", "model", false);
        t.ignore_merges_ = r.flag(model, "ignore_merges", "model", false);
        const Json& merges = r.need(model, "merges", "model");
        if (!merges.is_array()) r.bad("model.merges", "is not an array");
        t.merges_.reserve(merges.size());
        for (size_t i = 0; i < merges.size(); ++i) {
            const Json& m = merges.as_array()[i];
            const std::string field = "model.merges[" + std::to_string(i) + "]";
            std::string key;
            if (m.is_string()) {  // "left right"
                key = m.as_string();
                const size_t sp = key.find(' ');
                if (sp == std::string::npos || sp == 0 || sp + 1 == key.size() || key.find(' ', sp + 1) != std::string::npos)
                    r.bad(field, "is not \"left right\"");
            } else if (m.is_array() && m.size() == 2) {  // ["left", "right"]
                key = r.str(m.as_array()[0], field + "[0]") + " " + r.str(m.as_array()[1], field + "[1]");
            } else {
                r.bad(field, "is neither \"left right\" nor [left, right]");
            }
            t.merges_.emplace(std::move(key), static_cast<int32_t>(i));  // first rank wins
        }
    } else {
        // WordPiece: llama.cpp's spelling of the vocabulary (word-initial pieces marked with
        // U+2581, continuations without their prefix, [BRACKETED] tokens as they are), so that
        // one encoder serves both.
        const std::string prefix = r.str_or(model, "continuing_subword_prefix", "model", "##");
        for (auto& text : t.tokens_) {
            if (text.empty()) continue;
            if (!prefix.empty() && text.compare(0, prefix.size(), prefix) == 0 && text.size() > prefix.size())
                text.erase(0, prefix.size());
            else if (!(text.front() == '[' && text.back() == ']'))
                text = kMarker + text;
        }
        if (const Json* m = model.find("max_input_chars_per_word"); m && !m->is_null())
            t.max_word_chars_ = static_cast<size_t>(r.id(*m, "model.max_input_chars_per_word"));
        else
            t.max_word_chars_ = 100;
        t.pre_ = PreTokenizer::bert;
        t.space_marker_ = true;
        t.add_space_prefix_ = true;  // decoding drops the first word's marker
        t.lowercase_ = t.strip_accents_ = false;
    }

    for (size_t i = 0; i < n_added; ++i) {
        const Json& a = added->as_array()[i];
        const std::string field = "added_tokens[" + std::to_string(i) + "]";
        const auto id = static_cast<size_t>(r.id(a.at("id"), field + ".id"));
        t.tokens_[id] = r.str(r.need(a, "content", field), field + ".content");
        t.types_[id] = r.flag(a, "special", field, false) ? TokenType::control : TokenType::user_defined;
    }
    if (t.byte_fallback_)
        for (size_t i = 0; i < t.tokens_.size(); ++i)
            if (t.types_[i] == TokenType::normal && byte_token_value(t.tokens_[i]) >= 0) t.types_[i] = TokenType::byte;
    t.index_.reserve(t.tokens_.size());
    for (size_t i = 0; i < t.tokens_.size(); ++i)
        if (t.types_[i] != TokenType::unused) t.index_.emplace(t.tokens_[i], static_cast<int32_t>(i));

    const std::string unk = r.str_or(model, "unk_token", "model", t.model_ == Model::wpm ? "[UNK]" : "");
    if (!unk.empty()) {
        t.unk_ = t.find(unk);
        if (t.unk_ < 0) r.bad("model.unk_token", "'" + unk + "' is not in the vocabulary");
    }

    // Normalizer.
    bool prepend = false, replace = false;
    for (const auto& [v, field] : r.flatten(doc.find("normalizer"), "normalizer", "normalizers")) {
        const std::string& ty = r.type(*v, field);
        if (ty == "Prepend" && t.model_ == Model::bpe) {
            if (r.str(r.need(*v, "prepend", field), field + ".prepend") != kMarker)
                r.unsupported(field + ".prepend", "other than \"\xE2\x96\x81\" is not supported");
            prepend = true;
        } else if (ty == "Replace" && t.model_ == Model::bpe) {
            const auto [regex, from] = r.pattern(*v, field);
            if (regex || from != " " || r.str(r.need(*v, "content", field), field + ".content") != kMarker)
                r.unsupported(field, "Replace other than ' ' -> '\xE2\x96\x81' is not supported");
            replace = true;
        } else if (ty == "NFC") {
            // Accepted as the identity: exact for text already in NFC (almost all text).
        } else if (ty == "BertNormalizer" && t.model_ == Model::wpm) {
            if (!r.flag(*v, "handle_chinese_chars", field, true))
                r.unsupported(field + ".handle_chinese_chars", "= false is not supported");
            t.lowercase_ = r.flag(*v, "lowercase", field, true);
            t.strip_accents_ = r.flag(*v, "strip_accents", field, t.lowercase_);  // null: as lowercase
        } else {
            r.unsupported(field + ".type", "'" + ty + "' is not supported for a " + mtype + " model");
        }
    }
    if (prepend && !replace) r.unsupported("normalizer", "Prepend without Replace(' ', '\xE2\x96\x81') is not supported");
    t.space_marker_ = t.space_marker_ || replace;
    t.add_space_prefix_ = t.add_space_prefix_ || prepend;

    // Pre-tokenizer.
    for (const auto& [v, field] : r.flatten(doc.find("pre_tokenizer"), "pre_tokenizer", "pretokenizers")) {
        const std::string& ty = r.type(*v, field);
        if (ty == "ByteLevel" && t.model_ == Model::bpe) {
            t.byte_level_ = true;
            t.byte_prefix_space_ = r.flag(*v, "add_prefix_space", field, true);
            if (r.flag(*v, "use_regex", field, true)) {
                if (t.pre_ != PreTokenizer::none) r.unsupported(field, "splits words a second time");
                t.pre_ = PreTokenizer::gpt2;
            }
        } else if (ty == "Split" && t.model_ == Model::bpe) {
            const auto [regex, pat] = r.pattern(*v, field);
            if (!regex || pat != kGpt2Pattern)
                r.unsupported(field + ".pattern", "'" + pat.substr(0, 80) + "' is not a pattern vkml implements (GPT-2's is)");
            if (r.str_or(*v, "behavior", field, "Isolated") != "Isolated" || r.flag(*v, "invert", field, false))
                r.unsupported(field, "with a behavior other than Isolated is not supported");
            if (t.pre_ != PreTokenizer::none) r.unsupported(field, "splits words a second time");
            t.pre_ = PreTokenizer::gpt2;
        } else if (ty == "Metaspace" && t.model_ == Model::bpe) {
            if (r.str_or(*v, "replacement", field, kMarker) != kMarker)
                r.unsupported(field + ".replacement", "other than \"\xE2\x96\x81\" is not supported");
            std::string scheme = r.str_or(*v, "prepend_scheme", field, "");
            if (scheme.empty()) scheme = r.flag(*v, "add_prefix_space", field, true) ? "always" : "never";
            if (scheme != "always" && scheme != "first" && scheme != "never")
                r.unsupported(field + ".prepend_scheme", "'" + scheme + "' is not supported");
            t.space_marker_ = true;
            t.add_space_prefix_ = scheme != "never";
            t.prefix_first_only_ = scheme == "first";
            t.metaspace_split_ = r.flag(*v, "split", field, true);
        } else if (ty == "BertPreTokenizer" && t.model_ == Model::wpm) {
            // bert_words does BERT's whitespace and punctuation split.
        } else {
            r.unsupported(field + ".type", "'" + ty + "' is not supported for a " + mtype + " model");
        }
    }
    if (t.byte_level_ && (t.space_marker_ || t.add_space_prefix_))
        r.unsupported("normalizer", "a U+2581 normalizer with a ByteLevel pre-tokenizer is not supported");
    if (t.model_ == Model::bpe && !t.byte_level_ && t.byte_prefix_space_) t.byte_prefix_space_ = false;

    // Decoder: checked only (decoding follows from the model and pre-tokenizer).
    for (const auto& [v, field] : r.flatten(doc.find("decoder"), "decoder", "decoders")) {
        const std::string& ty = r.type(*v, field);
        bool ok = false;
        if (ty == "ByteLevel") ok = t.byte_level_;
        else if (ty == "ByteFallback" || ty == "Fuse") ok = !t.byte_level_;
        else if (ty == "Metaspace") ok = t.space_marker_;
        else if (ty == "WordPiece") ok = t.model_ == Model::wpm;
        else if (ty == "Replace") {
            const auto [regex, from] = r.pattern(*v, field);
            ok = !regex && from == kMarker && r.str(r.need(*v, "content", field), field + ".content") == " " && t.space_marker_;
        } else if (ty == "Strip") {
            ok = r.str_or(*v, "content", field, " ") == " " && t.add_space_prefix_ && v->find("start") &&
                 r.id(*v->find("start"), field + ".start") == 1 && (!v->find("stop") || r.id(*v->find("stop"), field + ".stop") == 0);
        }
        if (!ok) r.unsupported(field, "of type '" + ty + "' is not supported with this model and pre-tokenizer");
    }

    // Post-processor: which special tokens wrap a single text.
    auto special_id = [&](const std::string& text, const std::string& field) {
        const int32_t id = t.find(text);
        if (id < 0) r.bad(field, "names '" + text + "', which is not in the vocabulary");
        return id;
    };
    for (const auto& [v, field] : r.flatten(doc.find("post_processor"), "post_processor", "processors")) {
        const std::string& ty = r.type(*v, field);
        if (ty == "ByteLevel") continue;
        if (ty == "BertProcessing" || ty == "RobertaProcessing") {
            for (const char* key : {"cls", "sep"}) {
                const Json& pair = r.need(*v, key, field);
                if (!pair.is_array() || pair.size() != 2) r.bad(field + "." + key, "is not [text, id]");
                const int64_t id = r.id(pair.as_array()[1], field + "." + key + "[1]");
                if (id >= n) r.bad(field + "." + key + "[1]", "= " + std::to_string(id) + " is not in the vocabulary");
                (key[0] == 'c' ? t.bos_ : t.sep_) = static_cast<int32_t>(id);
            }
            t.add_bos_ = true;
        } else if (ty == "TemplateProcessing") {
            const Json& single = r.need(*v, "single", field);
            if (!single.is_array()) r.bad(field + ".single", "is not an array");
            bool after = false;
            for (size_t i = 0; i < single.size(); ++i) {
                const Json& item = single.as_array()[i];
                const std::string f = field + ".single[" + std::to_string(i) + "]";
                if (item.find("Sequence")) {
                    after = true;
                } else if (const Json* s = item.find("SpecialToken")) {
                    const int32_t id = special_id(r.str(r.need(*s, "id", f + ".SpecialToken"), f + ".SpecialToken.id"), f);
                    if (after ? t.sep_ >= 0 : t.bos_ >= 0) r.unsupported(f, "(a second special token on one side) is not supported");
                    (after ? t.sep_ : t.bos_) = id;
                } else {
                    r.bad(f, "is neither Sequence nor SpecialToken");
                }
            }
            t.add_bos_ = t.bos_ >= 0;
        } else {
            r.unsupported(field + ".type", "'" + ty + "' is not supported");
        }
    }

    // Beside the file: tokenizer_config.json names BOS/EOS and whether BOS is added; config.json
    // gives eos_token_id.
    if (!dir.empty()) {
        const std::string cfg_path = dir + "/tokenizer_config.json";
        if (std::ifstream(cfg_path)) {
            const Json cfg = Json::parse(read_text_file(cfg_path), cfg_path);
            const Reader c{cfg_path};
            if (const std::string bos = token_name(cfg.find("bos_token")); !bos.empty() && t.find(bos) >= 0) t.bos_ = t.find(bos);
            if (const std::string eos = token_name(cfg.find("eos_token")); !eos.empty() && t.find(eos) >= 0) t.eos_ = t.find(eos);
            t.add_bos_ = c.flag(cfg, "add_bos_token", "tokenizer_config", t.add_bos_) && t.bos_ >= 0;
        }
        const std::string config_path = dir + "/config.json";
        if (t.eos_ < 0 && std::ifstream(config_path)) {
            const Json config = Json::parse(read_text_file(config_path), config_path);
            const Json* e = config.find("eos_token_id");
            if (e && e->is_array() && e->size() > 0) e = &e->as_array()[0];
            if (e && e->is_number()) {
                const int64_t id = Reader{config_path}.id(*e, "eos_token_id");
                if (id < static_cast<int64_t>(t.tokens_.size())) t.eos_ = static_cast<int32_t>(id);
            }
        }
    }
    t.finish_load(source);
    return t;
}

}  // namespace vkml::models
