#include "vkml/models/unicode.hpp"

namespace vkml::models::unicode {

bool is_whitespace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

size_t utf8_len(uint8_t b) {
    if (b < 0x80) return 1;
    if ((b & 0xE0) == 0xC0) return 2;
    if ((b & 0xF0) == 0xE0) return 3;
    if ((b & 0xF8) == 0xF0) return 4;
    return 1;
}

Char next_utf8(std::string_view s, size_t i) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    size_t n = utf8_len(b0);
    uint32_t cp = 0xFFFD;
    bool ok = n <= s.size() - i;
    if (ok && n == 1) {
        ok = b0 < 0x80;
        cp = b0;
    } else if (ok) {
        cp = b0 & (0x7Fu >> n);
        for (size_t k = 1; k < n && ok; ++k) {
            const auto b = static_cast<uint8_t>(s[i + k]);
            ok = (b & 0xC0) == 0x80;
            cp = (cp << 6) | (b & 0x3F);
        }
        static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        ok = ok && cp >= kMin[n] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (!ok) {
        cp = 0xFFFD;
        n = 1;
    }
    return Char{cp, static_cast<uint32_t>(i), static_cast<uint32_t>(n)};
}

std::vector<Char> decode_utf8(std::string_view s) {
    std::vector<Char> out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); i += out.back().len) out.push_back(next_utf8(s, i));
    return out;
}

std::string encode_utf8(uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        s += static_cast<char>(0xF0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

}  // namespace vkml::models::unicode
