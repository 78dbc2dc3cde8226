// `vkml demo`: vkml doing its real job on the default device, with the models it ships:
// stories260K (a real trained Llama made by others) greedily and with a sampler of the seed
// papers, then vkml's own tiny QAT models at every bit-width, and their held-out perplexity
// computed on the device next to PyTorch's figure.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"
#include "vkml/error.hpp"
#include "vkml/models/evaluate.hpp"
#include "vkml/models/gguf_weights.hpp"
#include "vkml/models/json.hpp"
#include "vkml/models/language_model.hpp"
#include "vkml/models/safetensors.hpp"
#include "vkml/models/sampling.hpp"
#include "vkml/models/tokenizer.hpp"
#include "vkml/vkml.hpp"

#ifndef VKML_MODELS_DIR
#define VKML_MODELS_DIR "models"
#endif

namespace vkml::cli {
namespace {

double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Generation {
    std::string text;
    size_t tokens = 0;
    double tokens_per_s = 0;
};

// Continues `prompt` for up to n tokens with `sampler`, stopping at EOS.
Generation generate(models::LanguageModel& model, const models::Tokenizer& tok, const std::string& prompt, int n,
                    models::Sampler sampler) {
    model.reset();
    std::vector<int32_t> ids = tok.encode(prompt, tok.add_bos());
    const size_t prompt_len = ids.size();
    std::vector<float> logits = model.logits(ids);
    const double t0 = now_ms();
    for (int i = 0; i < n && model.position() < model.max_context(); ++i) {
        const int32_t next = sampler.sample(logits);
        if (next == tok.eos()) break;
        ids.push_back(next);
        if (i + 1 < n && model.position() < model.max_context()) logits = model.logits({next});
    }
    Generation g;
    g.tokens = ids.size() - prompt_len;
    g.tokens_per_s = 1000.0 * static_cast<double>(g.tokens) / (now_ms() - t0);
    g.text = tok.decode(ids);
    return g;
}

void print_generation(const char* label, const Generation& g) {
    std::string text = g.text;
    for (char& c : text)
        if (c == '\n') c = ' ';
    std::printf("  %-26s %6.1f tokens/s  | %s\n", label, g.tokens_per_s, text.c_str());
}

int run(const Args& args) {
    args.expect_only({"models", "quick"});
    const std::string dir = args.get_or("models", VKML_MODELS_DIR);
    const bool quick = args.has("quick");
    const double t_start = now_ms();
    auto dev = Device::open(args.get_or("device", ""));
    const Capabilities& c = dev->caps();
    std::printf("vkml demo on %s (%s, Vulkan %s, driver %s, subgroup %u)\n\n", c.name.c_str(), to_string(c.type),
                c.api_version_string().c_str(), c.driver_name.c_str(), c.subgroup_size);

    // 1. A real trained model made by others.
    {
        models::GgufWeights w(dir + "/stories260K/stories260K.gguf");
        auto model = models::load_language_model(*dev, w);
        const auto tok = models::Tokenizer::from_gguf(w.file());
        std::printf("stories260K (llama2.c, TinyStories; %s)\n", model->describe().c_str());
        const int n = quick ? 40 : 120;
        print_generation("greedy", generate(*model, tok, "Once upon a time", n, models::Sampler({})));
        models::SamplerConfig top_h{.kind = models::SamplerKind::TopH, .seed = 7};
        print_generation("Top-H (alpha 0.4, seed 7)", generate(*model, tok, "Once upon a time", n, models::Sampler(top_h)));
        models::SamplerConfig miro{.kind = models::SamplerKind::Mirostat, .mirostat_tau = 3.0f, .seed = 7};
        print_generation("Mirostat v2 (tau 3)", generate(*model, tok, "Once upon a time", n, models::Sampler(miro)));
    }

    // 2. vkml's own quantisation-aware-trained models, every bit-width.
    const std::string tiny = dir + "/tiny/";
    const models::Json ref = models::Json::parse(models::read_text_file(tiny + "reference.json"), tiny + "reference.json");
    const std::string text = models::read_text_file(tiny + ref.at("eval_text").as_string());
    std::vector<int32_t> bytes(text.begin(), text.end());
    for (int32_t& b : bytes) b &= 0xff;
    if (quick) bytes.resize(std::min<size_t>(bytes.size(), 63 * 16));
    struct Row {
        std::string file, kind;
        int64_t bits;
        double vkml, torch;
    };
    std::vector<Row> rows;
    std::printf("\nvkml's tiny models (King James Bible, byte tokens; QAT at FP16/INT8/INT6/INT4), greedy from \"%s\"\n",
                ref.at("prompt").as_string().c_str());
    for (const auto& [file, info] : ref.at("models").as_object()) {
        models::GgufWeights w(tiny + file);
        auto model = models::load_language_model(*dev, w);
        const auto tok = models::Tokenizer::from_gguf(w.file());
        print_generation(file.c_str(), generate(*model, tok, ref.at("prompt").as_string(), 40, models::Sampler({})));
        const int64_t context = w.require_int(info.at("kind").as_string() + ".context_length");
        const models::Perplexity p = models::windowed_perplexity(*model, bytes, context - 1, tok.bos());
        rows.push_back({file, info.at("kind").as_string(), info.at("bits").as_i64(), p.value,
                        info.at("perplexity").as_number()});
    }
    std::printf("\nheld-out perplexity per byte (%zu bytes of %s; PyTorch: the training code, full text)\n", bytes.size(),
                ref.at("eval_text").as_string().c_str());
    std::printf("  %-8s %-6s %12s %12s\n", "model", "bits", "vkml", "PyTorch");
    for (const Row& r : rows)
        std::printf("  %-8s %-6s %12.4f %12.4f\n", r.kind.c_str(),
                    r.bits == 16 ? "FP16" : ("INT" + std::to_string(r.bits)).c_str(), r.vkml, r.torch);
    if (quick) std::printf("  (--quick scores the first %zu bytes only, so vkml's column differs)\n", bytes.size());
    std::printf("\ndemo finished in %.1f s\n", (now_ms() - t_start) / 1000.0);
    return 0;
}

const bool registered = register_command({
    "demo",
    "run the shipped models on the default device",
    "usage: vkml demo [--device SEL] [--models DIR] [--quick]\n\n"
    "Runs stories260K (a real trained Llama, llama2.c) greedily and with the Top-H and Mirostat\n"
    "samplers, then vkml's own tiny Llama and Mamba models at FP16/INT8/INT6/INT4, and prints\n"
    "their held-out perplexity computed on the device next to PyTorch's. --models points at the\n"
    "folder holding stories260K/ and tiny/ (default: the source tree's models/); --quick scores\n"
    "fewer bytes and generates less.",
    run,
});

}  // namespace
}  // namespace vkml::cli
