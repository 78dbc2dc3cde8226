// `vkml perplexity`: perplexity of a model over a text file, computed on the device.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "model_cli.hpp"
#include "vkml/error.hpp"
#include "vkml/models/evaluate.hpp"

namespace vkml::cli {
namespace {

int run(const Args& args) {
    args.expect_only({"m", "model", "f", "ctx", "quant", "devices"});
    const auto path = args.get("f");
    if (!path) throw Error(ErrorKind::InvalidArgument, "-f TEXT_FILE is required");
    std::ifstream f(*path, std::ios::binary);
    if (!f) throw Error(ErrorKind::InvalidArgument, "cannot read '" + *path + "'");
    std::stringstream ss;
    ss << f.rdbuf();
    const long long ctx = args.get_int("ctx", 256);
    if (ctx < 2) throw Error(ErrorKind::InvalidArgument, "--ctx must be >= 2");
    LoadedModel m = load_model(args, ctx);
    if (!m.tokenizer) throw Error(ErrorKind::InvalidArgument, "cannot tokenize the text for " + m.weights->path() + ": " + m.tokenizer_error);
    const std::vector<int32_t> ids = m.tokenizer->encode(ss.str(), false);
    const int32_t bos = m.tokenizer->add_bos() ? m.tokenizer->bos() : -1;
    // Windows of ctx tokens including the BOS: every position predicts the next token.
    const models::Perplexity p = models::windowed_perplexity(*m.model, ids, bos >= 0 ? ctx - 1 : ctx, bos);
    std::printf("%s: %lld tokens scored in %lld windows of %lld, perplexity %.4f\n", path->c_str(),
                static_cast<long long>(p.scored), static_cast<long long>(p.windows), ctx, p.value);
    return 0;
}

const bool registered = register_command({
    "perplexity",
    "perplexity of a model over a text file",
    "usage: vkml perplexity -m MODEL.gguf -f TEXT_FILE [--ctx 256]\n\n"
    "Tokenizes the file, runs it in chunks of --ctx tokens (each from an empty state, after the\n"
    "model's BOS when it uses one) and prints exp(mean negative log-likelihood) of every token\n"
    "predicted from the ones before it in its chunk. Log-softmax runs on the device.",
    run,
});

}  // namespace
}  // namespace vkml::cli
