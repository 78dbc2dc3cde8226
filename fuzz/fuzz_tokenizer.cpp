// libFuzzer target: text through fixed tokenizers. An SPM vocabulary (stories260K) and, when its
// file is present, a GPT-2 BPE vocabulary are loaded once; each input is encoded (with and without
// special-token parsing), decoded back, and its bytes are also decoded as raw token ids.
// Paths: VKML_FUZZ_SPM_VOCAB / VKML_FUZZ_BPE_VOCAB override the compiled-in defaults.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <sys/stat.h>
#include <vector>

#include "vkml/error.hpp"
#include "vkml/models/gguf.hpp"
#include "vkml/models/tokenizer.hpp"

using namespace vkml::models;

namespace {

std::unique_ptr<Tokenizer> load(const char* env, const char* fallback, bool required) {
    const char* path = std::getenv(env);
    if (!path || !*path) path = fallback;
    struct stat st {};
    if (stat(path, &st) != 0) {
        std::fprintf(stderr, "fuzz_tokenizer: %s not found%s\n", path, required ? "" : " (skipped)");
        if (required) std::abort();
        return nullptr;
    }
    return std::make_unique<Tokenizer>(Tokenizer::from_gguf(GgufFile(std::string(path))));
}

struct Vocabs {
    std::unique_ptr<Tokenizer> spm = load("VKML_FUZZ_SPM_VOCAB", VKML_FUZZ_SPM_DEFAULT, true);
    std::unique_ptr<Tokenizer> bpe = load("VKML_FUZZ_BPE_VOCAB", VKML_FUZZ_BPE_DEFAULT, false);
};

const Vocabs& vocabs() {
    static const Vocabs v;
    return v;
}

void exercise(const Tokenizer& t, std::string_view text, const uint8_t* data, size_t size) {
    const int32_t n = static_cast<int32_t>(t.vocab_size());
    try {
        const std::vector<int32_t> ids = t.encode(text, true, false);
        for (int32_t id : ids)
            if (id < 0 || id >= n) {
                std::fprintf(stderr, "encode returned id %d outside vocab of %d\n", id, n);
                std::abort();
            }
        (void)t.decode(ids);
    } catch (const vkml::Error&) {}
    try {
        (void)t.decode(t.encode(text, false, true), true);
    } catch (const vkml::Error&) {}
    // Raw ids from the bytes: in range, plus a few out of range (-1, n) that must throw or be skipped.
    std::vector<int32_t> raw;
    for (size_t i = 0; i + 1 < size; i += 2) {
        const int32_t v = static_cast<int32_t>(data[i] | (data[i + 1] << 8));
        raw.push_back(v % (n + 2) - 1);
    }
    try {
        (void)t.decode(raw, (size & 1) != 0);
    } catch (const vkml::Error&) {}
    for (int32_t id : raw) {
        try { (void)t.piece(id); } catch (const vkml::Error&) {}
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)vocabs();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const Vocabs& v = vocabs();
    exercise(*v.spm, text, data, size);
    if (v.bpe) exercise(*v.bpe, text, data, size);
    return 0;
}
