// vkml's own shipped models (models/tiny): logits and held-out perplexity agree with the
// PyTorch training code's figures in models/tiny/reference.json.
#include <cmath>

#include "vkml/models/evaluate.hpp"
#include "vkml/models/gguf_weights.hpp"
#include "vkml/models/json.hpp"
#include "vkml/models/language_model.hpp"
#include "vkml/models/safetensors.hpp"
#include "vkml/models/tokenizer.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class TinyModels : public VkmlTest {};

const std::string kDir = VKML_SOURCE_DIR "/models/tiny/";

models::Json reference() { return models::Json::parse(models::read_text_file(kDir + "reference.json"), "reference.json"); }

TEST_F(TinyModels, LogitsMatchPyTorch) {
    const models::Json ref = reference();
    std::vector<int32_t> tokens;
    for (const models::Json& t : ref.at("tokens").as_array()) tokens.push_back(static_cast<int32_t>(t.as_i64()));
    const auto positions = static_cast<size_t>(ref.at("positions").as_i64());
    const auto& all = ref.at("models").as_object();
    ASSERT_EQ(all.size(), 8u) << "FP16, Q8_0, Q6_K and Q4_0 of the llama and the mamba";
    const auto& dev = devices()[0];
    for (const auto& [file, info] : all) {
        SCOPED_TRACE(file);
        models::GgufWeights w(kDir + file);
        // Byte-level tokens: BOS, then the UTF-8 bytes of the prompt.
        const auto tok = models::Tokenizer::from_gguf(w.file());
        EXPECT_EQ(tok.encode(ref.at("prompt").as_string(), true), tokens);
        auto model = models::load_language_model(*dev, w);
        const std::vector<float> got = model->logits(tokens, /*all_logits=*/true);
        std::vector<float> want, mine;
        const auto& rows = info.at("logits").as_array();
        ASSERT_EQ(rows.size(), positions);
        for (size_t p = 0; p < positions; ++p) {
            for (const models::Json& v : rows[p].as_array()) want.push_back(static_cast<float>(v.as_number()));
            mine.insert(mine.end(), got.begin() + static_cast<long>(p * 258), got.begin() + static_cast<long>((p + 1) * 258));
        }
        EXPECT_NMSE_LE(want, mine, 1e-4);
    }
}

TEST_F(TinyModels, HeldOutPerplexityMatchesPyTorch) {
    const models::Json ref = reference();
    const std::string text = models::read_text_file(kDir + ref.at("eval_text").as_string());
    std::vector<int32_t> bytes;
    for (unsigned char c : text) bytes.push_back(c);
    const auto& dev = devices()[0];
    // One llama and one mamba, in different formats (the demo shows all eight).
    for (const std::string file : {"tiny-llama-0.9M-Q4_0.gguf", "tiny-mamba-0.6M-F16.gguf"}) {
        SCOPED_TRACE(file);
        models::GgufWeights w(kDir + file);
        auto model = models::load_language_model(*dev, w, 64);
        const int64_t context = w.require_int(*w.text("general.architecture") + ".context_length");
        const models::Perplexity p = models::windowed_perplexity(*model, bytes, context - 1, 256);
        const double want = ref.at("models").at(file).at("perplexity").as_number();
        EXPECT_EQ(p.scored, static_cast<int64_t>(bytes.size()));
        EXPECT_NEAR(p.value, want, 1e-3 * want);
    }
}

}  // namespace
}  // namespace vkml::test
