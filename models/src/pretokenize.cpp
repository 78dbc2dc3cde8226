// Pre-tokenizers of byte-level BPE: split text into words before merging, as llama.cpp does.
// Patterns are matched by hand over decoded characters (no regex engine): the GPT-2 pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// and DeepSeek-Coder's sequence of patterns, each splitting the pieces the previous one left;
// and BERT's word splitting for WordPiece.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer_internal.hpp"
#include "vkml/models/unicode.hpp"

namespace vkml::models {

using unicode::Char;

namespace {

std::vector<std::string> gpt2_split(std::string_view text) {
    const std::vector<Char> cs = unicode::decode_utf8(text);
    const size_t n = cs.size();
    auto cp = [&](size_t i) -> uint32_t { return i < n ? cs[i].cp : 0xFFFFFFFFu; };
    auto letter = [&](size_t i) { return i < n && unicode::is_letter(cs[i].cp); };
    auto number = [&](size_t i) { return i < n && unicode::is_number(cs[i].cp); };
    auto space = [&](size_t i) { return i < n && unicode::is_whitespace(cs[i].cp); };
    auto other = [&](size_t i) { return i < n && !letter(i) && !number(i) && !space(i); };

    std::vector<std::string> words;
    size_t start = 0;
    auto emit = [&](size_t end) {
        const size_t b = cs[start].offset;
        const size_t e = end < n ? cs[end].offset : text.size();
        words.emplace_back(text.substr(b, e - b));
        start = end;
    };
    size_t pos = 0;
    while (pos < n) {
        const uint32_t c = cp(pos);
        if (c == '\'' && pos + 1 < n) {
            const uint32_t c1 = cp(pos + 1);
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
                emit(pos += 2);
                continue;
            }
            if (pos + 2 < n) {
                const uint32_t c2 = cp(pos + 2);
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
                    emit(pos += 3);
                    continue;
                }
            }
        }
        const size_t p2 = c == ' ' ? pos + 1 : pos;  // the optional leading space
        if (letter(p2)) {
            pos = p2;
            while (letter(pos)) ++pos;
            emit(pos);
            continue;
        }
        if (number(p2)) {
            pos = p2;
            while (number(pos)) ++pos;
            emit(pos);
            continue;
        }
        if (other(p2)) {
            pos = p2;
            while (other(pos)) ++pos;
            emit(pos);
            continue;
        }
        size_t ws = 0;
        while (space(pos + ws)) ++ws;
        if (ws > 1 && pos + ws < n) {  // \s+(?!\S): leave the last space to the next word
            emit(pos += ws - 1);
            continue;
        }
        if (ws > 0) {
            emit(pos += ws);
            continue;
        }
        emit(++pos);
    }
    return words;
}

// A pattern: the length (in characters) of the match starting at i within [0, n), 0 if none.
using Matcher = std::function<size_t(const std::vector<Char>&, size_t i, size_t n)>;

// Splits every piece into matches (leftmost, greedy) and the stretches between them.
std::vector<std::pair<size_t, size_t>> split_pieces(const std::vector<Char>& cs,
                                                     const std::vector<std::pair<size_t, size_t>>& pieces,
                                                     const Matcher& m) {
    std::vector<std::pair<size_t, size_t>> out;
    for (auto [b, e] : pieces) {
        std::vector<Char> sub(cs.begin() + static_cast<ptrdiff_t>(b), cs.begin() + static_cast<ptrdiff_t>(e));
        size_t last = 0, i = 0;
        const size_t n = sub.size();
        while (i < n) {
            const size_t len = m(sub, i, n);
            if (len == 0) {
                ++i;
                continue;
            }
            if (i > last) out.emplace_back(b + last, b + i);
            out.emplace_back(b + i, b + i + len);
            i += len;
            last = i;
        }
        if (last < n) out.emplace_back(b + last, e);
    }
    return out;
}

bool in_ranges(uint32_t c, std::initializer_list<std::pair<uint32_t, uint32_t>> rs) {
    for (auto [lo, hi] : rs)
        if (c >= lo && c <= hi) return true;
    return false;
}

// \s?[class]+
Matcher opt_space_then(std::function<bool(uint32_t)> cls) {
    return [cls](const std::vector<Char>& s, size_t i, size_t n) -> size_t {
        size_t j = i;
        if (unicode::is_whitespace(s[j].cp) && j + 1 < n && cls(s[j + 1].cp)) ++j;
        if (!cls(s[j].cp)) return 0;
        while (j < n && cls(s[j].cp)) ++j;
        return j - i;
    };
}

std::vector<std::string> deepseek_coder_split(std::string_view text) {
    const std::vector<Char> cs = unicode::decode_utf8(text);
    std::vector<std::pair<size_t, size_t>> pieces;
    if (!cs.empty()) pieces.emplace_back(0, cs.size());
    const auto letters = [](uint32_t c) {
        return in_ranges(c, {{'A', 'Z'}, {'a', 'z'}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
                             {0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377},
                             {0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C},
                             {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556},
                             {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA},
                             {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A},
                             {0x1E00, 0x1F15}, {0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D},
                             {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B}, {0x1F5D, 0x1F5D},
                             {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
                             {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB},
                             {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102},
                             {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D},
                             {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128}, {0x212A, 0x212D},
                             {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
                             {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4},
                             {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B},
                             {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E}, {0xAB70, 0xABBF},
                             {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A},
                             {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2},
                             {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943}});
    };
    const auto punct = [](uint32_t c) {
        return in_ranges(c, {{'!', '/'}, {':', '~'}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}, {0x2018, 0x201F},
                             {0x3000, 0x3002}});
    };
    const auto cjk = [](uint32_t c) { return in_ranges(c, {{0x4E00, 0x9FA5}, {0x0800, 0x4E00}, {0xAC00, 0xD7FF}}); };
    const std::vector<Matcher> stages = {
        [](const std::vector<Char>& s, size_t i, size_t) -> size_t { return s[i].cp == '\r' || s[i].cp == '\n'; },
        opt_space_then(letters),
        opt_space_then(punct),
        [](const std::vector<Char>& s, size_t i, size_t n) -> size_t {  // \s+$
            for (size_t j = i; j < n; ++j)
                if (!unicode::is_whitespace(s[j].cp)) return 0;
            return n - i;
        },
        [cjk](const std::vector<Char>& s, size_t i, size_t n) -> size_t {
            size_t j = i;
            while (j < n && cjk(s[j].cp)) ++j;
            return j - i;
        },
        [](const std::vector<Char>& s, size_t i, size_t n) -> size_t {
            size_t j = i;
            while (j < n && unicode::is_number(s[j].cp)) ++j;
            return j - i;
        },
    };
    for (const auto& m : stages) pieces = split_pieces(cs, pieces, m);
    std::vector<std::string> words;
    for (auto [b, e] : pieces) {
        const size_t ob = cs[b].offset;
        const size_t oe = e < cs.size() ? cs[e].offset : text.size();
        words.emplace_back(text.substr(ob, oe - ob));
    }
    return words;
}

// BERT's CJK ideograph blocks (the ranges Hugging Face's BertNormalizer and llama.cpp use; the
// 0x2B920 start is theirs, not the Unicode block's 0x2B820).
bool is_cjk_ideograph(uint32_t c) {
    return in_ranges(c, {{0x4E00, 0x9FFF}, {0x3400, 0x4DBF}, {0x20000, 0x2A6DF}, {0x2A700, 0x2B73F},
                         {0x2B740, 0x2B81F}, {0x2B920, 0x2CEAF}, {0xF900, 0xFAFF}, {0x2F800, 0x2FA1F}});
}

bool is_ascii_symbol(uint32_t c) {  // general category S* below 0x7F
    return c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '`' || c == '|' || c == '~';
}

struct ByteMap {
    std::string to_utf8[256];
    int from_cp[512];
    ByteMap() {
        // GPT-2: printable Latin-1 bytes stand for themselves, the rest map to U+0100 onwards.
        for (int& x : from_cp) x = -1;
        int next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const int cp = printable ? b : next++;
            to_utf8[b] = unicode::encode_utf8(static_cast<uint32_t>(cp));
            from_cp[cp] = b;
        }
    }
};
const ByteMap& byte_map() {
    static const ByteMap m;
    return m;
}

}  // namespace

const std::string& gpt2_byte_to_utf8(uint8_t b) { return byte_map().to_utf8[b]; }
int gpt2_utf8_to_byte(uint32_t cp) { return cp < 512 ? byte_map().from_cp[cp] : -1; }

std::vector<std::string> bert_words(std::string_view text, bool lowercase, bool strip_accents) {
    std::vector<std::string> words(1);
    for (const Char& ch : unicode::decode_utf8(text)) {
        const uint32_t c = strip_accents ? unicode::nfd_base(ch.cp) : ch.cp;
        if (unicode::is_whitespace(c)) {
            if (!words.back().empty()) words.emplace_back();
            continue;
        }
        if (c == 0 || c == 0xFFFD || unicode::is_control(c)) continue;
        const std::string s = unicode::encode_utf8(lowercase ? unicode::to_lower(c) : c);
        if (unicode::is_punctuation(c) || is_ascii_symbol(c) || is_cjk_ideograph(c)) {
            if (!words.back().empty()) words.emplace_back();
            words.back() = s;
            words.emplace_back();
        } else {
            words.back() += s;
        }
    }
    if (words.back().empty()) words.pop_back();
    return words;
}

std::vector<std::string> pretokenize(Tokenizer::PreTokenizer kind, std::string_view text) {
    switch (kind) {
        case Tokenizer::PreTokenizer::none: return {std::string(text)};
        case Tokenizer::PreTokenizer::gpt2: return gpt2_split(text);
        case Tokenizer::PreTokenizer::deepseek_coder: return deepseek_coder_split(text);
        case Tokenizer::PreTokenizer::bert: return bert_words(text, true, true);
    }
    return {std::string(text)};
}

}  // namespace vkml::models
