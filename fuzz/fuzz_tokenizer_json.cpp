// libFuzzer target: Tokenizer::from_hf_json on arbitrary tokenizer.json text (model vocabularies
// and merges, added tokens, normalizers, pre-tokenizers incl. Split regexes, post-processors,
// decoders), then a fixed text through the resulting tokenizer. Every id it returns must be in
// the vocabulary.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "vkml/error.hpp"
#include "vkml/models/json.hpp"
#include "vkml/models/tokenizer.hpp"

using namespace vkml::models;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const Json doc = Json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
        const Tokenizer t = Tokenizer::from_hf_json(doc, "fuzz");  // no directory: no side files
        const int32_t n = static_cast<int32_t>(t.vocab_size());
        for (bool special : {false, true}) {
            const std::vector<int32_t> ids =
                t.encode("Hello world! <s> [CLS] ab  a\tb 123 \xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80 \n x's", true, special);
            for (int32_t id : ids)
                if (id < 0 || id >= n) {
                    std::fprintf(stderr, "encode returned id %d outside vocab of %d\n", id, n);
                    std::abort();
                }
            (void)t.decode(ids, special);
        }
        for (int32_t id = -1; id <= n && id < 64; ++id) {
            try { (void)t.piece(id); } catch (const vkml::Error&) {}
        }
    } catch (const vkml::Error&) {
    }
    return 0;
}
