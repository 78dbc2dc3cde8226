// Helpers shared by the tokenizer sources (not public API): the pre-tokenizers, GPT-2's byte
// to character map, BERT's word splitting and the Unicode data it needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vkml/models/tokenizer.hpp"

namespace vkml::models {

// pretokenize.cpp
std::vector<std::string> pretokenize(Tokenizer::PreTokenizer kind, std::string_view text);
const std::string& gpt2_byte_to_utf8(uint8_t b);
int gpt2_utf8_to_byte(uint32_t cp);

// BERT's basic tokenization, as llama.cpp's WordPiece applies it: whitespace separates words;
// NUL, U+FFFD and control/format characters are deleted; punctuation, ASCII symbols and CJK
// ideographs become one-character words; with `lowercase` letters are lowercased and with
// `strip_accents` each character is replaced by the first code point of its NFD decomposition.
std::vector<std::string> bert_words(std::string_view text, bool lowercase, bool strip_accents);

namespace unicode {
// tokenizer_unicode_tables.cpp
uint32_t to_lower(uint32_t c);   // simple lowercase mapping (first code point of str.lower())
uint32_t nfd_base(uint32_t c);   // first code point of the NFD decomposition
bool is_control(uint32_t c);     // general category Cc, Cf, Co or Cs
}  // namespace unicode

}  // namespace vkml::models
