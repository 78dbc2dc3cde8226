// Unicode helpers for the tokenizers: UTF-8 decoding that never fails, and the character
// classes the pre-tokenizer patterns use (\p{L}, \p{N}, \p{P}, \s).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vkml::models::unicode {

bool is_letter(uint32_t c);
bool is_number(uint32_t c);
bool is_punctuation(uint32_t c);
bool is_whitespace(uint32_t c);  // the Unicode White_Space property

// One decoded character: its code point and where its bytes lie in the source. An invalid
// byte decodes to U+FFFD covering that one byte, so splitting by characters loses nothing.
struct Char {
    uint32_t cp;
    uint32_t offset;
    uint32_t len;
};
std::vector<Char> decode_utf8(std::string_view s);
// The character starting at byte i < s.size(); an invalid or truncated sequence is one byte, U+FFFD.
Char next_utf8(std::string_view s, size_t i);
size_t utf8_len(uint8_t first_byte);  // 1..4 from the lead byte (1 for a stray byte)
std::string encode_utf8(uint32_t cp);

}  // namespace vkml::models::unicode
