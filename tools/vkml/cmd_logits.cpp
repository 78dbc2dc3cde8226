// `vkml logits`: every position's logits for a token list, as raw float32 (for parity checks).
#include <cstdio>
#include <fstream>

#include "model_cli.hpp"
#include "vkml/error.hpp"

namespace vkml::cli {
namespace {

int run(const Args& args) {
    args.expect_only({"m", "model", "tokens", "o", "quant", "devices"});
    const auto tokens = parse_tokens(args.get_or("tokens", ""));
    if (tokens.empty()) throw Error(ErrorKind::InvalidArgument, "--tokens \"1 2 3 ...\" is required");
    const auto out = args.get("o");
    if (!out) throw Error(ErrorKind::InvalidArgument, "-o FILE is required");
    LoadedModel m = load_model(args, static_cast<int64_t>(tokens.size()));
    const auto logits = m.model->logits(tokens, /*all_logits=*/true);
    std::ofstream f(*out, std::ios::binary);
    f.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * 4));
    if (!f) throw Error(ErrorKind::InvalidArgument, "cannot write '" + *out + "'");
    std::fprintf(stderr, "wrote %zu x %lld float32 logits to %s\n", tokens.size(),
                 static_cast<long long>(m.model->vocab()), out->c_str());
    return 0;
}

const bool registered = register_command({
    "logits",
    "write the logits of every position as float32 (parity checks)",
    "usage: vkml logits -m MODEL.gguf --tokens \"1 2 3 ...\" -o FILE\n\n"
    "Runs the tokens from position 0 and writes n_tokens x n_vocab little-endian float32\n"
    "values, row-major, to FILE.",
    run,
});

}  // namespace
}  // namespace vkml::cli
