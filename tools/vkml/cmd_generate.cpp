// `vkml generate`: text continuation with any of vkml's samplers.
#include <chrono>
#include <cstdio>
#include <memory>

#include "model_cli.hpp"
#include "vkml/error.hpp"
#include "vkml/models/sampling.hpp"
#include "vkml/ops/select.hpp"
#include "vkml/stream.hpp"

namespace vkml::cli {
namespace {

double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

models::SamplerConfig sampler_config(const Args& args) {
    models::SamplerConfig c;
    c.kind = models::sampler_kind_from_name(args.get_or("sampler", "greedy"));
    c.temperature = static_cast<float>(args.get_float("temp", c.temperature));
    c.top_k = static_cast<int>(args.get_int("top-k", c.top_k));
    c.top_p = static_cast<float>(args.get_float("top-p", c.top_p));
    c.min_p = static_cast<float>(args.get_float("min-p", c.min_p));
    c.typical_mass = static_cast<float>(args.get_float("typical", c.typical_mass));
    c.mirostat_tau = static_cast<float>(args.get_float("tau", c.mirostat_tau));
    c.mirostat_eta = static_cast<float>(args.get_float("eta", c.mirostat_eta));
    c.top_h_alpha = static_cast<float>(args.get_float("top-h-alpha", c.top_h_alpha));
    c.seed = static_cast<uint64_t>(args.get_int("seed", 0));
    return c;
}

// Samples the next token from the logits of the last forward. Greedy runs argmax on the GPU and
// top-k / Top-H take their candidates from the GPU's top-k, so only k values cross to the host;
// the other samplers need the whole distribution.
class NextToken {
public:
    NextToken(int64_t vocab, const models::SamplerConfig& c) : sampler_(c) {
        if (c.kind == models::SamplerKind::TopK) k_ = std::min<int64_t>(c.top_k, vocab);
        if (c.kind == models::SamplerKind::TopH) k_ = std::min<int64_t>(c.top_h_candidates, vocab);
        if (c.kind == models::SamplerKind::Greedy) k_ = 1;
    }
    // `s` recorded the forward pass that produced `logits`. With layers split over devices the
    // logits sit on the last device: the selection then runs on a stream of that device.
    int32_t operator()(Stream& s, const Tensor& logits) {
        if (k_ == 0) {
            s.finish();
            return sampler_.sample(logits.to_floats());
        }
        Device& dev = logits.device();
        Stream* run = &s;
        if (&dev != &s.device()) {
            s.finish();
            if (!own_) own_ = std::make_unique<Stream>(dev);
            run = own_.get();
        }
        if (!ids_ || &ids_.device() != &dev) {
            values_ = Tensor::empty(dev, DType::f32, {1, k_});
            ids_ = Tensor::empty(dev, DType::u32, {1, k_});
        }
        if (k_ == 1) {
            ops::argmax(*run, logits, ids_.reshape({1}));
            run->finish();
            return static_cast<int32_t>(ids_.to_vector<uint32_t>()[0]);
        }
        ops::top_k(*run, logits, static_cast<int>(k_), values_, ids_);
        run->finish();
        const auto v = values_.to_floats();
        const auto ids = ids_.to_vector<uint32_t>();
        return static_cast<int32_t>(ids[static_cast<size_t>(sampler_.sample(v))]);
    }

private:
    models::Sampler sampler_;
    int64_t k_ = 0;
    Tensor values_, ids_;
    std::unique_ptr<Stream> own_;
};

int run(const Args& args) {
    args.expect_only({"m", "model", "p", "tokens", "n", "sampler", "temp", "top-k", "top-p", "min-p", "typical", "tau", "eta",
                      "top-h-alpha", "seed", "power", "alpha", "block", "mh-steps", "cut", "ctx", "quant", "devices"});
    const long long n_new = args.get_int("n", 64);
    if (n_new < 0) throw Error(ErrorKind::InvalidArgument, "-n must be >= 0");
    LoadedModel m = load_model(args, args.get_int("ctx", 0));
    const std::vector<int32_t> prompt = prompt_tokens(args, m);
    if (static_cast<int64_t>(prompt.size()) + n_new > m.model->max_context())
        throw Error(ErrorKind::InvalidArgument, "prompt (" + std::to_string(prompt.size()) + ") + -n " + std::to_string(n_new) +
                                                    " tokens exceed the context of " + std::to_string(m.model->max_context()));
    auto text_of = [&](const std::vector<int32_t>& ids) {
        if (!m.tokenizer) {
            std::string s;
            for (int32_t id : ids) s += std::to_string(id) + " ";
            return s;
        }
        return m.tokenizer->decode(ids);
    };
    const int32_t eos = m.tokenizer ? m.tokenizer->eos() : -1;
    std::vector<int32_t> generated;
    double prompt_ms = 0, gen_ms = 0;

    if (args.has("power")) {
        // Power sampling re-scores suffixes: the model is driven through a next-logits callback that
        // reuses the cached prefix where the architecture can truncate.
        models::PowerSamplingConfig pc;
        pc.alpha = static_cast<float>(args.get_float("alpha", pc.alpha));
        pc.block = static_cast<int>(args.get_int("block", pc.block));
        pc.mh_steps = static_cast<int>(args.get_int("mh-steps", pc.mh_steps));
        const std::string cut = args.get_or("cut", "uniform");
        if (cut != "uniform" && cut != "entropy") throw Error(ErrorKind::InvalidArgument, "--cut is uniform or entropy");
        pc.cut = cut == "entropy" ? models::CutMode::EntropyJump : models::CutMode::Uniform;
        pc.seed = static_cast<uint64_t>(args.get_int("seed", 0));
        std::vector<int32_t> fed;
        models::NextLogits next = [&](const std::vector<int32_t>& ctx) {
            size_t common = 0;
            while (common < fed.size() && common < ctx.size() && fed[common] == ctx[common]) ++common;
            if (common == ctx.size() && common > 0) common = ctx.size() - 1;  // re-run the last token for its logits
            if (!m.model->truncate(static_cast<int64_t>(common))) {
                m.model->reset();
                common = 0;
            }
            fed.assign(ctx.begin(), ctx.begin() + static_cast<long>(common));
            const std::vector<int32_t> rest(ctx.begin() + static_cast<long>(common), ctx.end());
            fed.insert(fed.end(), rest.begin(), rest.end());
            return m.model->logits(rest);
        };
        const double t0 = now_ms();
        models::PowerSamplingStats stats;
        generated = models::power_sample(next, prompt, static_cast<int>(n_new), pc, &stats);
        gen_ms = now_ms() - t0;
        std::printf("%s%s\n", text_of(prompt).c_str(), text_of(generated).c_str());
        std::printf("\npower sampling (alpha %.1f, %s cuts): %d/%d proposals accepted, %.2f tokens/s\n", pc.alpha,
                    cut.c_str(), stats.accepted, stats.proposals, 1000.0 * static_cast<double>(generated.size()) / gen_ms);
        return 0;
    }

    const models::SamplerConfig sc = sampler_config(args);
    NextToken next(m.model->vocab(), sc);
    Stream s(*m.device);
    double t0 = now_ms();
    Tensor logits = m.model->forward(s, prompt);
    int32_t token = next(s, logits);
    prompt_ms = now_ms() - t0;
    std::string shown = text_of(prompt);
    std::printf("%s", shown.c_str());
    std::fflush(stdout);
    t0 = now_ms();
    std::vector<int32_t> all = prompt;
    for (long long i = 0; i < n_new; ++i) {
        if (token == eos) break;
        generated.push_back(token);
        all.push_back(token);
        const std::string text = text_of(all);
        if (text.size() > shown.size() && text.compare(0, shown.size(), shown) == 0) std::printf("%s", text.c_str() + shown.size());
        shown = text;
        std::fflush(stdout);
        if (i + 1 == n_new) break;
        logits = m.model->forward(s, {token});
        token = next(s, logits);
    }
    gen_ms = now_ms() - t0;
    std::printf("\n\n%s on %s, sampler %s (seed %llu)\n", m.model->describe().c_str(), m.device->caps().name.c_str(),
                models::sampler_name(sc.kind), static_cast<unsigned long long>(sc.seed));
    std::printf("prompt: %zu tokens, %.1f tokens/s; generation: %zu tokens, %.1f tokens/s\n", prompt.size(),
                1000.0 * static_cast<double>(prompt.size()) / prompt_ms, generated.size(),
                gen_ms > 0 ? 1000.0 * static_cast<double>(generated.size()) / gen_ms : 0.0);
    return 0;
}

const bool registered = register_command({
    "generate",
    "continue a prompt with a model (any sampler)",
    "usage: vkml generate -m MODEL.gguf (-p TEXT | --tokens \"1 2 3\") [-n 64] [--sampler NAME] [--seed S]\n\n"
    "samplers (--sampler): greedy (default), temperature, top-k, top-p, min-p, typical, mirostat, top-h\n"
    "  --temp T (1.0)  --top-k K (40)  --top-p P (0.95)  --min-p P (0.05)  --typical M (0.9)\n"
    "  --tau T (5) --eta E (0.1) for mirostat   --top-h-alpha A (0.4)   --seed S (0): reproducible\n"
    "power sampling (p^alpha by Metropolis-Hastings over suffixes):\n"
    "  --power [--alpha 4] [--block 16] [--mh-steps 8] [--cut uniform|entropy]\n"
    "  --ctx N        bound the KV cache (default: the model's context)\n"
    "  --quant TYPE   quantize the matrices on load: q8_0, q6_k or q4_0\n"
    "  --devices 0,1  split the model's layers over several devices (instead of --device)\n"
    "MODEL is a .gguf file or a Hugging Face folder (config.json + safetensors; -p needs its tokenizer.json,\n"
    "else give --tokens).\n\n"
    "Prints the text, then prompt and generation tokens/s.",
    run,
});

}  // namespace
}  // namespace vkml::cli
