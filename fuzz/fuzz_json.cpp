// libFuzzer target: Json::parse (config.json, tokenizer.json, safetensors headers). A parsed value
// must serialize with dump() into text that parses again to the same dump.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "vkml/error.hpp"
#include "vkml/models/json.hpp"

using vkml::models::Json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Json j;
    try {
        j = Json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    } catch (const vkml::Error&) {
        return 0;
    }
    const std::string once = j.dump();
    std::string twice;
    try {
        twice = Json::parse(once, "fuzz-dump").dump();
    } catch (const vkml::Error& e) {
        std::fprintf(stderr, "dump() produced text that does not parse: %s\n%s\n", e.what(), once.c_str());
        std::abort();
    }
    if (once != twice) {
        std::fprintf(stderr, "dump() is not stable:\n%s\n%s\n", once.c_str(), twice.c_str());
        std::abort();
    }
    return 0;
}
