// libFuzzer target: Tokenizer::from_gguf on arbitrary GGUF bytes (vocabulary, scores, token types,
// merges, special ids), then a fixed text through the resulting tokenizer.
#include <cstddef>
#include <cstdint>

#include "common.hpp"
#include "vkml/error.hpp"
#include "vkml/models/gguf.hpp"
#include "vkml/models/tokenizer.hpp"

using namespace vkml::models;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const GgufFile f(vkml::fuzz::memory_file(data, size));
        const Tokenizer t = Tokenizer::from_gguf(f);
        const std::vector<int32_t> ids =
            t.encode("Hello world! <s> 123 \xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80 \n\t  x", true, true);
        (void)t.decode(ids, true);
        (void)t.decode(ids, false);
        for (int32_t id = -1; id <= static_cast<int32_t>(t.vocab_size()) && id < 64; ++id) {
            try { (void)t.piece(id); } catch (const vkml::Error&) {}
        }
    } catch (const vkml::Error&) {
    }
    return 0;
}
