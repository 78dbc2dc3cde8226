// A real trained model made by others: stories260K (llama2.c, TinyStories) must decode greedily
// to exactly the text llama2.c prints.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "vkml/models/gguf_weights.hpp"
#include "vkml/models/llama.hpp"
#include "vkml/models/tokenizer.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Stories : public VkmlTest {};

std::string shared_data(const std::string& rel) {
    const char* dir = std::getenv("VKML_SHARED_DATA");
    return std::string(dir ? dir : "../shared/data") + "/" + rel;
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

TEST_F(Stories, GreedyDecodingMatchesLlama2c) {
    const std::string expected = read_text(shared_data("reference/stories260K_greedy200.txt"));
    ASSERT_FALSE(expected.empty()) << "missing " << shared_data("reference/stories260K_greedy200.txt");
    models::GgufWeights w(shared_data("models/stories260K.gguf"));
    const auto tokenizer = models::Tokenizer::from_gguf(w.file());
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        models::Llama model(*dev, w);
        const models::LlamaConfig& c = model.config();
        EXPECT_EQ(c.dim, 64);
        EXPECT_EQ(c.layers, 5);
        EXPECT_EQ(c.heads, 8);
        EXPECT_EQ(c.kv_heads, 4);
        EXPECT_EQ(c.vocab, 512);
        auto session = model.new_session();
        std::vector<int32_t> generated;
        int32_t token = 1;  // BOS
        for (int pos = 0; pos < 200; ++pos) {  // llama2.c: 200 steps, one token each
            const auto logits = model.logits(session, {token});
            token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
            if (token == 1) break;  // llama2.c stops at the next BOS
            generated.push_back(token);
        }
        std::string text = tokenizer.decode(generated);
        if (!text.empty() && text[0] == ' ') text.erase(0, 1);  // llama2.c drops the space after BOS
        while (!text.empty() && text.back() == '\n') text.pop_back();
        std::string want = expected;
        while (!want.empty() && want.back() == '\n') want.pop_back();
        EXPECT_EQ(text, want);
    }
}

}  // namespace
}  // namespace vkml::test
