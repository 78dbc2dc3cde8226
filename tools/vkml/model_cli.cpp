#include "model_cli.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "vkml/error.hpp"
#include "vkml/models/hf_weights.hpp"

namespace vkml::cli {

namespace {

// "\rlabel [#####.....] 3/8" on stderr, redrawn in place; silent when stderr is not a terminal.
class ProgressBar {
public:
    explicit ProgressBar(std::string label) : label_(std::move(label)), tty_(isatty(2) == 1) {}
    ~ProgressBar() { done(); }
    void set_label(std::string label) {
        label_ = std::move(label);
        draw();
    }
    void update(int64_t done, int64_t total) {
        done_ = done;
        total_ = total;
        draw();
    }
    void done() {
        if (tty_ && drawn_) std::fprintf(stderr, "\r\033[K");
        drawn_ = false;
    }

private:
    void draw() {
        if (!tty_ || total_ <= 0) return;
        constexpr int kWidth = 30;
        const int filled = static_cast<int>(kWidth * done_ / total_);
        std::fprintf(stderr, "\r\033[K%s [%s%s] %lld/%lld", label_.c_str(), std::string(filled, '#').c_str(),
                     std::string(kWidth - filled, '.').c_str(), static_cast<long long>(done_),
                     static_cast<long long>(total_));
        std::fflush(stderr);
        drawn_ = true;
    }
    std::string label_;
    bool tty_;
    bool drawn_ = false;
    int64_t done_ = 0, total_ = 0;
};

}  // namespace

std::string model_path(const Args& args) {
    auto m = args.get("m");
    if (!m) m = args.get("model");
    if (!m || m->empty()) throw Error(ErrorKind::InvalidArgument, "no model given: use -m MODEL.gguf");
    return *m;
}

LoadedModel load_model(const Args& args, int64_t max_context) {
    const auto t0 = std::chrono::steady_clock::now();
    LoadedModel lm;
    // --devices 0,1 splits the layers over several devices (the first one is the main device).
    std::vector<std::shared_ptr<Device>> more;
    if (const auto list = args.get("devices")) {
        std::string cur;
        std::vector<std::string> names;
        for (char ch : *list + ",") {
            if (ch == ',') {
                if (!cur.empty()) names.push_back(cur);
                cur.clear();
            } else {
                cur += ch;
            }
        }
        if (names.empty()) throw Error(ErrorKind::InvalidArgument, "--devices expects a list such as 0,1");
        lm.device = Device::open(names[0]);
        for (size_t i = 1; i < names.size(); ++i) more.push_back(Device::open(names[i]));
    } else {
        lm.device = Device::open(args.get_or("device", ""));
    }
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
    // A progress bar on stderr while weights upload and pipelines build (only on a terminal).
    ProgressBar bar("loading " + model_path(args));
    int64_t layers = 0;
    lm.model = models::load_language_model(*lm.device, *lm.weights, max_context, [&](int64_t done, int64_t total) {
        layers = total;
        bar.update(done, total + 1);
    }, more);
    bar.set_label("building pipelines");
    lm.model->logits({0});  // one decode step compiles (or loads from the cache) its pipelines
    lm.model->reset();
    bar.update(layers + 1, layers + 1);
    bar.done();
    // A tokenizer vkml cannot read does not stop the model: --tokens still works, and the error
    // is given when text has to be tokenized.
    try {
        const auto* gguf = dynamic_cast<const models::GgufWeights*>(lm.file.get());
        lm.tokenizer = open_tokenizer(model_path(args), gguf ? &gguf->file() : nullptr);
        if (!lm.tokenizer) lm.tokenizer_error = "it has no tokenizer (GGUF tokenizer.ggml.* or tokenizer.json)";
    } catch (const Error& e) {
        lm.tokenizer_error = e.what();
        if (lm.tokenizer_error.compare(0, 6, "vkml: ") == 0) lm.tokenizer_error.erase(0, 6);
    }
    lm.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return lm;
}

std::unique_ptr<models::Tokenizer> open_tokenizer(const std::string& path, const models::GgufFile* gguf) {
    if (std::filesystem::is_directory(path)) {
        const std::string json = path + "/tokenizer.json";
        if (!std::filesystem::exists(json)) return nullptr;
        return std::make_unique<models::Tokenizer>(models::Tokenizer::from_hf_json(json));
    }
    std::unique_ptr<models::GgufFile> opened;
    if (!gguf) {
        opened = std::make_unique<models::GgufFile>(path);
        gguf = opened.get();
    }
    if (!gguf->has("tokenizer.ggml.tokens")) return nullptr;
    return std::make_unique<models::Tokenizer>(models::Tokenizer::from_gguf(*gguf));
}

std::vector<int32_t> prompt_tokens(const Args& args, const LoadedModel& m) {
    if (args.has("tokens")) return parse_tokens(args.get_or("tokens", ""));
    const auto text = args.get("p");
    if (!text) throw Error(ErrorKind::InvalidArgument, "give a prompt with -p TEXT or --tokens \"1 2 3\"");
    if (!m.tokenizer)
        throw Error(ErrorKind::InvalidArgument, "cannot tokenize the prompt of " + m.weights->path() + ": " + m.tokenizer_error +
                                                    "; give token ids with --tokens \"1 2 3\"");
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
