// Hugging Face folders (config.json + safetensors) load into the same models as GGUF names, and
// quantize-on-load gives the quantized model.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "random_models.hpp"
#include "vkml/models/hf_weights.hpp"
#include "vkml/models/language_model.hpp"
#include "vkml/models/llama.hpp"
#include "vkml/models/mamba.hpp"
#include "vkml/reference/llama.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

using models::InMemoryWeights;
using models::llama_names::layer;

class HfModels : public VkmlTest {};

std::vector<float> floats_of(const InMemoryWeights& w, const std::string& name) {
    return models::weight_to_floats(*w.find(name));
}

models::SafetensorsWriteTensor f32_tensor(const std::string& name, Shape shape, const std::vector<float>& v) {
    std::vector<uint8_t> bytes(v.size() * 4);
    std::memcpy(bytes.data(), v.data(), bytes.size());
    return {name, "F32", std::move(shape), std::move(bytes)};
}

// Rows (head h, 2i + j) of a GGUF Q/K matrix are rows (h, j * d/2 + i) of the Hugging Face one.
std::vector<float> to_hf_rope_layout(const std::vector<float>& v, int64_t heads, int64_t rows, int64_t cols) {
    std::vector<float> out(v.size());
    const int64_t hd = rows / heads, half = hd / 2;
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < half; ++i)
            for (int64_t j = 0; j < 2; ++j)
                std::copy(v.begin() + (h * hd + 2 * i + j) * cols, v.begin() + (h * hd + 2 * i + j + 1) * cols,
                          out.begin() + (h * hd + j * half + i) * cols);
    return out;
}

std::string temp_dir(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() / ("vkml-test-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir.string();
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST_F(HfModels, LlamaFolderMatchesTheGgufLayout) {
    const int64_t vocab = 50, dim = 32, heads = 4, kv = 2, ffn = 48, layers = 2, kvd = kv * dim / heads;
    const InMemoryWeights g = random_llama(vocab, dim, layers, heads, kv, ffn, false, 700);
    const std::string dir = temp_dir("hf-llama");
    write_text(dir + "/config.json",
               R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 32, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 48,
                   "max_position_embeddings": 64, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
                   "vocab_size": 50})");
    std::vector<models::SafetensorsWriteTensor> t;
    t.push_back(f32_tensor("model.embed_tokens.weight", {vocab, dim}, floats_of(g, "token_embd.weight")));
    t.push_back(f32_tensor("model.norm.weight", {dim}, floats_of(g, "output_norm.weight")));
    t.push_back(f32_tensor("lm_head.weight", {vocab, dim}, floats_of(g, "output.weight")));
    for (int64_t i = 0; i < layers; ++i) {
        const std::string h = "model.layers." + std::to_string(i) + ".";
        t.push_back(f32_tensor(h + "input_layernorm.weight", {dim}, floats_of(g, layer(i, "attn_norm.weight"))));
        t.push_back(f32_tensor(h + "self_attn.q_proj.weight", {dim, dim},
                               to_hf_rope_layout(floats_of(g, layer(i, "attn_q.weight")), heads, dim, dim)));
        t.push_back(f32_tensor(h + "self_attn.k_proj.weight", {kvd, dim},
                               to_hf_rope_layout(floats_of(g, layer(i, "attn_k.weight")), kv, kvd, dim)));
        t.push_back(f32_tensor(h + "self_attn.v_proj.weight", {kvd, dim}, floats_of(g, layer(i, "attn_v.weight"))));
        t.push_back(f32_tensor(h + "self_attn.o_proj.weight", {dim, dim}, floats_of(g, layer(i, "attn_output.weight"))));
        t.push_back(f32_tensor(h + "post_attention_layernorm.weight", {dim}, floats_of(g, layer(i, "ffn_norm.weight"))));
        t.push_back(f32_tensor(h + "mlp.gate_proj.weight", {ffn, dim}, floats_of(g, layer(i, "ffn_gate.weight"))));
        t.push_back(f32_tensor(h + "mlp.up_proj.weight", {ffn, dim}, floats_of(g, layer(i, "ffn_up.weight"))));
        t.push_back(f32_tensor(h + "mlp.down_proj.weight", {dim, ffn}, floats_of(g, layer(i, "ffn_down.weight"))));
    }
    models::write_safetensors(dir + "/model.safetensors", t);

    const auto hf = models::open_weights(dir);
    const std::vector<int32_t> tokens = {4, 8, 15, 16, 23, 42};
    const auto ref = reference::llama_forward(reference::LlamaF32::load(g, models::LlamaConfig::from_gguf(g)), tokens);
    for (const auto& dev : devices()) {
        auto model = models::load_language_model(*dev, *hf);
        EXPECT_NMSE_LE(ref, model->logits(tokens, true), 1e-4);
        // Quantize on load: the GPU runs Q8_0 kernels, compared with the dequantized reference.
        const models::QuantizedWeights q(*hf, DType::q8_0);
        EXPECT_EQ(q.find("blk.0.attn_q.weight")->dtype, DType::q8_0);
        EXPECT_EQ(q.find("blk.0.attn_norm.weight")->dtype, DType::f32);
        auto qmodel = models::load_language_model(*dev, q);
        const auto qref = reference::llama_forward(reference::LlamaF32::load(q, models::LlamaConfig::from_gguf(q)), tokens);
        EXPECT_NMSE_LE(qref, qmodel->logits(tokens, true), 5e-4);
    }
    std::filesystem::remove_all(dir);
}

TEST_F(HfModels, MambaFolderMatchesTheGgufLayout) {
    const int64_t vocab = 40, dim = 16, layers = 2, state = 8, rank = 2, inner = 2 * dim;
    const InMemoryWeights g = random_mamba(vocab, dim, layers, state, rank, true, 800);
    const std::string dir = temp_dir("hf-mamba");
    write_text(dir + "/config.json",
               R"({"architectures": ["MambaForCausalLM"], "hidden_size": 16, "num_hidden_layers": 2,
                   "state_size": 8, "conv_kernel": 4, "intermediate_size": 32, "time_step_rank": 2,
                   "layer_norm_epsilon": 1e-05, "vocab_size": 40})");
    std::vector<models::SafetensorsWriteTensor> t;
    t.push_back(f32_tensor("backbone.embeddings.weight", {vocab, dim}, floats_of(g, "token_embd.weight")));
    t.push_back(f32_tensor("backbone.norm_f.weight", {dim}, floats_of(g, "output_norm.weight")));
    for (int64_t i = 0; i < layers; ++i) {
        const std::string h = "backbone.layers." + std::to_string(i) + ".";
        auto a = floats_of(g, layer(i, "ssm_a"));
        for (float& v : a) v = std::log(-v);  // A_log
        t.push_back(f32_tensor(h + "norm.weight", {dim}, floats_of(g, layer(i, "attn_norm.weight"))));
        t.push_back(f32_tensor(h + "mixer.in_proj.weight", {2 * inner, dim}, floats_of(g, layer(i, "ssm_in.weight"))));
        t.push_back(f32_tensor(h + "mixer.conv1d.weight", {inner, 1, 4}, floats_of(g, layer(i, "ssm_conv1d.weight"))));
        t.push_back(f32_tensor(h + "mixer.conv1d.bias", {inner}, floats_of(g, layer(i, "ssm_conv1d.bias"))));
        t.push_back(f32_tensor(h + "mixer.x_proj.weight", {rank + 2 * state, inner}, floats_of(g, layer(i, "ssm_x.weight"))));
        t.push_back(f32_tensor(h + "mixer.dt_proj.weight", {inner, rank}, floats_of(g, layer(i, "ssm_dt.weight"))));
        t.push_back(f32_tensor(h + "mixer.dt_proj.bias", {inner}, floats_of(g, layer(i, "ssm_dt.bias"))));
        t.push_back(f32_tensor(h + "mixer.A_log", {inner, state}, a));
        t.push_back(f32_tensor(h + "mixer.D", {inner}, floats_of(g, layer(i, "ssm_d"))));
        t.push_back(f32_tensor(h + "mixer.out_proj.weight", {dim, inner}, floats_of(g, layer(i, "ssm_out.weight"))));
    }
    models::write_safetensors(dir + "/model.safetensors", t);
    const auto hf = models::open_weights(dir);
    const models::MambaConfig c = models::MambaConfig::from_gguf(*hf);
    EXPECT_EQ(c.inner, inner);
    EXPECT_TRUE(c.tied_output);
    const std::vector<int32_t> tokens = {1, 2, 3, 39, 0, 11};
    for (const auto& dev : devices()) {
        auto from_hf = models::load_language_model(*dev, *hf);
        auto from_gguf = models::load_language_model(*dev, g);
        EXPECT_NMSE_LE(from_gguf->logits(tokens, true), from_hf->logits(tokens, true), 1e-10);
    }
    std::filesystem::remove_all(dir);
}

TEST_F(HfModels, BadFoldersAreClearErrors) {
    const std::string dir = temp_dir("hf-bad");
    write_text(dir + "/config.json", R"({"architectures": ["GPT2LMHeadModel"]})");
    models::write_safetensors(dir + "/model.safetensors", {f32_tensor("x", {1}, {0.0f})});
    EXPECT_VKML_ERROR(models::open_weights(dir), ErrorKind::Unsupported, "not a Llama or Mamba");
    std::filesystem::remove_all(dir);
    EXPECT_VKML_ERROR(models::open_weights(dir), ErrorKind::BadFile, dir);
}

}  // namespace
}  // namespace vkml::test
