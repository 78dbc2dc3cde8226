// `vkml perplexity`: perplexity of a model over a text file, computed on the device.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "model_cli.hpp"
#include "vkml/error.hpp"
#include "vkml/ops/softmax.hpp"

namespace vkml::cli {
namespace {

int run(const Args& args) {
    args.expect_only({"m", "model", "f", "ctx", "quant"});
    const auto path = args.get("f");
    if (!path) throw Error(ErrorKind::InvalidArgument, "-f TEXT_FILE is required");
    std::ifstream f(*path, std::ios::binary);
    if (!f) throw Error(ErrorKind::InvalidArgument, "cannot read '" + *path + "'");
    std::stringstream ss;
    ss << f.rdbuf();
    const long long ctx = args.get_int("ctx", 256);
    if (ctx < 2) throw Error(ErrorKind::InvalidArgument, "--ctx must be >= 2");
    LoadedModel m = load_model(args, ctx);
    if (!m.tokenizer) throw Error(ErrorKind::InvalidArgument, m.weights->path() + " has no tokenizer vkml reads");
    const std::vector<int32_t> ids = m.tokenizer->encode(ss.str(), false);
    const int32_t bos = m.tokenizer->add_bos() ? m.tokenizer->bos() : -1;
    // Chunks of ctx tokens (ctx - 1 text tokens after a BOS when the model uses one); every
    // position but the first of a chunk is scored.
    const size_t per_chunk = static_cast<size_t>(bos >= 0 ? ctx - 1 : ctx);
    double nll = 0;
    size_t scored = 0;
    Stream s(*m.device);
    for (size_t start = 0; start + 1 < ids.size(); start += per_chunk) {
        const size_t end = std::min(ids.size(), start + per_chunk);
        std::vector<int32_t> chunk;
        chunk.reserve(end - start + 1);
        if (bos >= 0) chunk.push_back(bos);
        for (size_t i = start; i < end; ++i) chunk.push_back(ids[i]);
        m.model->reset();
        const Tensor logits = m.model->forward(s, chunk, true);
        const Tensor lp = Tensor::empty(*m.device, DType::f32, logits.shape());
        ops::log_softmax(s, logits, lp);
        s.finish();
        const auto v = lp.to_floats();
        const size_t vocab = static_cast<size_t>(m.model->vocab());
        // Position t predicts token t + 1; without a BOS the chunk's first token is not scored.
        for (size_t t = 0; t + 1 < chunk.size(); ++t) {
            nll -= v[t * vocab + static_cast<size_t>(chunk[t + 1])];
            ++scored;
        }
    }
    if (scored == 0) throw Error(ErrorKind::InvalidArgument, "the text has fewer than two tokens");
    std::printf("%s: %zu tokens scored in chunks of %lld, perplexity %.4f\n", path->c_str(), scored, ctx,
                std::exp(nll / static_cast<double>(scored)));
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
