#include "vkml/models/evaluate.hpp"

#include <cmath>

#include "vkml/error.hpp"
#include "vkml/ops/softmax.hpp"

namespace vkml::models {

Perplexity windowed_perplexity(LanguageModel& model, const std::vector<int32_t>& tokens, int64_t window, int32_t bos) {
    if (window < 1) throw Error(ErrorKind::InvalidArgument, "perplexity: window must be >= 1");
    if (window + (bos >= 0 ? 1 : 0) > model.max_context())
        throw Error(ErrorKind::InvalidArgument, "perplexity: a window of " + std::to_string(window) +
                                                    " tokens exceeds the model's context of " + std::to_string(model.max_context()));
    Perplexity r;
    Stream s(model.device());
    const size_t vocab = static_cast<size_t>(model.vocab());
    const size_t step = static_cast<size_t>(window);
    for (size_t start = 0; start < tokens.size(); start += step) {
        const size_t end = std::min(tokens.size(), start + step);
        std::vector<int32_t> chunk;
        chunk.reserve(end - start + 1);
        if (bos >= 0) chunk.push_back(bos);
        for (size_t i = start; i < end; ++i) chunk.push_back(tokens[i]);
        if (chunk.size() < 2) continue;
        model.reset();
        const Tensor logits = model.forward(s, chunk, /*all_logits=*/true);
        const Tensor lp = Tensor::empty(model.device(), DType::f32, logits.shape());
        ops::log_softmax(s, logits, lp);
        s.finish();
        const std::vector<float> v = lp.to_floats();
        for (size_t t = 0; t + 1 < chunk.size(); ++t) {
            r.nll -= v[t * vocab + static_cast<size_t>(chunk[t + 1])];
            ++r.scored;
        }
        ++r.windows;
    }
    if (r.scored == 0) throw Error(ErrorKind::InvalidArgument, "perplexity: fewer than two tokens to score");
    r.value = std::exp(r.nll / static_cast<double>(r.scored));
    return r;
}

}  // namespace vkml::models
