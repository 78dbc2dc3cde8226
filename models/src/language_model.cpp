#include "vkml/models/language_model.hpp"

#include "vkml/error.hpp"
#include "vkml/models/llama.hpp"
#include "vkml/models/mamba.hpp"
#include "vkml/models/mamba2.hpp"

namespace vkml::models {

std::vector<float> LanguageModel::logits(const std::vector<int32_t>& tokens, bool all_logits) {
    Stream s(device());
    Tensor out = forward(s, tokens, all_logits);
    s.finish();
    return out.to_floats();
}

namespace {

class LlamaLm : public LanguageModel {
public:
    LlamaLm(Device& d, const WeightSource& w, int64_t ctx, const LoadProgress& p,
            const std::vector<std::shared_ptr<Device>>& more)
        : LanguageModel(d),
          model_(d, w, LlamaOptions{.max_context = ctx, .progress = p, .more_devices = more}),
          session_(model_.new_session()) {}
    std::string describe() const override { return model_.config().describe(); }
    int64_t vocab() const override { return model_.config().vocab; }
    int64_t max_context() const override { return session_.max_context; }
    int64_t position() const override { return session_.pos; }
    void reset() override { session_.pos = 0; }  // the KV cache rows are simply overwritten
    bool truncate(int64_t pos) override {
        if (pos < 0 || pos > session_.pos) return false;
        session_.pos = pos;
        return true;
    }
    Tensor forward(Stream& s, const std::vector<int32_t>& tokens, bool all) override {
        return model_.forward(s, session_, tokens, all);
    }

private:
    Llama model_;
    Llama::Session session_;
};

// Mamba and Mamba2: a fixed-size recurrent state, so no context bound and no truncation.
template <class Model>
class RecurrentLm : public LanguageModel {
public:
    RecurrentLm(Device& d, const WeightSource& w, const LoadProgress& p, const std::vector<std::shared_ptr<Device>>& more)
        : LanguageModel(d), model_(d, w, RecurrentOptions{p, more}), session_(model_.new_session()) {}
    std::string describe() const override { return model_.config().describe(); }
    int64_t vocab() const override { return model_.config().vocab; }
    int64_t max_context() const override { return INT64_MAX; }
    int64_t position() const override { return session_.pos; }
    void reset() override { session_ = model_.new_session(); }
    bool truncate(int64_t pos) override { return pos == session_.pos; }
    Tensor forward(Stream& s, const std::vector<int32_t>& tokens, bool all) override {
        return model_.forward(s, session_, tokens, all);
    }

private:
    Model model_;
    typename Model::Session session_;
};

}  // namespace

std::unique_ptr<LanguageModel> load_language_model(Device& device, const WeightSource& weights, int64_t max_context,
                                                   const LoadProgress& progress,
                                                   const std::vector<std::shared_ptr<Device>>& more_devices) {
    const std::string arch = weights.text("general.architecture").value_or("");
    if (arch == "llama") return std::make_unique<LlamaLm>(device, weights, max_context, progress, more_devices);
    if (arch == "mamba") return std::make_unique<RecurrentLm<Mamba>>(device, weights, progress, more_devices);
    if (arch == "mamba2") return std::make_unique<RecurrentLm<Mamba2>>(device, weights, progress, more_devices);
    throw Error(ErrorKind::Unsupported, weights.path() + ": architecture '" + (arch.empty() ? "(none)" : arch) +
                                            "' is not supported (vkml runs llama, mamba and mamba2)");
}

}  // namespace vkml::models
