#include "model_cli.hpp"

#include <chrono>
#include <cstdlib>

#include "vkml/error.hpp"
#include "vkml/models/hf_weights.hpp"

namespace vkml::cli {

std::string model_path(const Args& args) {
    auto m = args.get("m");
    if (!m) m = args.get("model");
    if (!m || m->empty()) throw Error(ErrorKind::InvalidArgument, "no model given: use -m MODEL.gguf");
    return *m;
}

LoadedModel load_model(const Args& args, int64_t max_context) {
    const auto t0 = std::chrono::steady_clock::now();
    LoadedModel lm;
    lm.device = Device::open(args.get_or("device", ""));
    lm.file = models::open_weights(model_path(args));
    lm.weights = lm.file.get();
    if (const auto quant = args.get("quant")) {
        DType t;
        if (*quant == "q8_0") t = DType::q8_0;
        else if (*quant == "q6_k") t = DType::q6_k;
        else if (*quant == "q4_0") t = DType::q4_0;
        else throw Error(ErrorKind::InvalidArgument, "--quant must be q8_0, q6_k or q4_0, got '" + *quant + "'");
        lm.quantized = std::make_unique<models::QuantizedWeights>(*lm.file, t);
        lm.weights = lm.quantized.get();
    }
    lm.model = models::load_language_model(*lm.device, *lm.weights, max_context);
    if (const auto* gguf = dynamic_cast<const models::GgufWeights*>(lm.file.get());
        gguf && gguf->file().has("tokenizer.ggml.tokens"))
        lm.tokenizer = std::make_unique<models::Tokenizer>(models::Tokenizer::from_gguf(gguf->file()));
    lm.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return lm;
}

std::vector<int32_t> prompt_tokens(const Args& args, const LoadedModel& m) {
    if (args.has("tokens")) return parse_tokens(args.get_or("tokens", ""));
    const auto text = args.get("p");
    if (!text) throw Error(ErrorKind::InvalidArgument, "give a prompt with -p TEXT or --tokens \"1 2 3\"");
    if (!m.tokenizer) throw Error(ErrorKind::InvalidArgument, m.weights->path() + " has no tokenizer: use --tokens");
    std::vector<int32_t> ids = m.tokenizer->encode(*text, m.tokenizer->add_bos());
    if (ids.empty()) throw Error(ErrorKind::InvalidArgument, "the prompt encodes to no tokens");
    return ids;
}

std::vector<int32_t> parse_tokens(const std::string& text) {
    std::vector<int32_t> ids;
    std::string cur;
    auto flush = [&] {
        if (cur.empty()) return;
        char* end = nullptr;
        const long v = std::strtol(cur.c_str(), &end, 10);
        if (*end != '\0' || v < 0 || v > INT32_MAX)
            throw Error(ErrorKind::InvalidArgument, "'" + cur + "' is not a token id");
        ids.push_back(static_cast<int32_t>(v));
        cur.clear();
    };
    for (char c : text) {
        if (c == ' ' || c == ',' || c == '\n' || c == '\t') flush();
        else cur += c;
    }
    flush();
    return ids;
}

}  // namespace vkml::cli
