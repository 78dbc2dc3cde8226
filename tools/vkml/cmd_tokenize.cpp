// `vkml tokenize`: the token ids of a text, space-separated on one line.
#include <cstdio>

#include "model_cli.hpp"
#include "vkml/error.hpp"
#include "vkml/models/gguf.hpp"
#include "vkml/models/tokenizer.hpp"

namespace vkml::cli {
namespace {

int run(const Args& args) {
    args.expect_only({"m", "model", "p", "no-bos"});
    const auto text = args.get("p");
    if (!text) throw Error(ErrorKind::InvalidArgument, "-p TEXT is required");
    // Only the tokenizer is needed: no device, no weights upload (vocabulary-only files work).
    const std::string path = model_path(args);
    const std::unique_ptr<models::Tokenizer> tok = open_tokenizer(path);
    if (!tok)
        throw Error(ErrorKind::InvalidArgument, path + " has no tokenizer (GGUF tokenizer.ggml.* metadata or a Hugging Face "
                                                       "folder's tokenizer.json)");
    const auto ids = tok->encode(*text, tok->add_bos() && !args.has("no-bos"));
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
    return 0;
}

const bool registered = register_command({
    "tokenize",
    "print the token ids of a text",
    "usage: vkml tokenize -m MODEL -p TEXT [--no-bos]\n\n"
    "MODEL is a .gguf file (a vocabulary-only one works) or a Hugging Face folder with tokenizer.json.\n"
    "Prints the ids space-separated on one line (with the model's BOS when it adds one).",
    run,
});

}  // namespace
}  // namespace vkml::cli
