// The Mamba-2 model on the GPU against the CPU reference forward, on small random models held in
// memory, written as GGUF files and as Hugging Face folders.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "vkml/models/gguf.hpp"
#include "vkml/models/gguf_weights.hpp"
#include "vkml/models/hf_weights.hpp"
#include "vkml/models/language_model.hpp"
#include "vkml/models/llama.hpp"
#include "vkml/models/mamba2.hpp"
#include "vkml/reference/mamba2.hpp"
#include "random_models.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

using models::InMemoryWeights;
using models::llama_names::layer;

struct Sizes {
    int64_t vocab = 37, dim = 32, layers = 2, heads = 3, head_dim = 8, state = 16, groups = 1, conv = 4;
    int64_t inner() const { return heads * head_dim; }
    int64_t gn() const { return groups * state; }
};

struct NamedTensor {
    std::string name;
    Shape shape;
    std::vector<float> values;
};

// A random model with llama.cpp's GGUF names and shapes (ssm_a/ssm_d [H, 1], ssm_norm [G, E/G]).
std::vector<NamedTensor> random_tensors(const Sizes& z, bool tied, uint32_t seed) {
    std::vector<NamedTensor> t;
    uint32_t s = seed;
    auto put = [&](const std::string& name, Shape shape, float lo, float hi) {
        t.push_back({name, shape, random_floats(shape_numel(shape), ++s, lo, hi)});
    };
    const int64_t E = z.inner(), CD = E + 2 * z.gn();
    const float sd = 1.0f / std::sqrt(static_cast<float>(z.dim));
    put("token_embd.weight", {z.vocab, z.dim}, -1, 1);
    put("output_norm.weight", {z.dim}, 0.8f, 1.2f);
    if (!tied) put("output.weight", {z.vocab, z.dim}, -0.2f, 0.2f);
    for (int64_t i = 0; i < z.layers; ++i) {
        put(layer(i, "attn_norm.weight"), {z.dim}, 0.8f, 1.2f);
        put(layer(i, "ssm_in.weight"), {2 * E + 2 * z.gn() + z.heads, z.dim}, -2 * sd, 2 * sd);
        put(layer(i, "ssm_conv1d.weight"), {CD, z.conv}, -0.5f, 0.5f);
        put(layer(i, "ssm_conv1d.bias"), {CD}, -0.1f, 0.1f);
        put(layer(i, "ssm_dt.bias"), {z.heads}, -3.0f, -1.0f);
        put(layer(i, "ssm_a"), {z.heads, 1}, -4.0f, -0.5f);  // = -exp(A_log), as GGUF stores it
        put(layer(i, "ssm_d"), {z.heads, 1}, 0.5f, 1.5f);
        put(layer(i, "ssm_norm.weight"), {z.groups, E / z.groups}, 0.8f, 1.2f);
        put(layer(i, "ssm_out.weight"), {z.dim, E}, -sd, sd);
    }
    return t;
}

std::vector<std::pair<std::string, double>> metadata(const Sizes& z) {
    return {{"mamba2.embedding_length", z.dim},  {"mamba2.block_count", z.layers},
            {"mamba2.ssm.inner_size", z.inner()}, {"mamba2.ssm.state_size", z.state},
            {"mamba2.ssm.conv_kernel", z.conv},   {"mamba2.ssm.time_step_rank", z.heads},
            {"mamba2.ssm.group_count", z.groups}, {"mamba2.attention.layer_norm_rms_epsilon", 1e-5}};
}

InMemoryWeights in_memory(const Sizes& z, const std::vector<NamedTensor>& tensors) {
    InMemoryWeights w("random-mamba2");
    w.set("general.architecture", "mamba2");
    for (const auto& [k, v] : metadata(z)) w.set(k, v);
    for (const NamedTensor& t : tensors) w.add_floats(t.name, t.shape, t.values);
    return w;
}

InMemoryWeights random_mamba2(const Sizes& z, bool tied, uint32_t seed) {
    return in_memory(z, random_tensors(z, tied, seed));
}

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("vkml-test-" + name + "-" + std::to_string(::getpid()))).string();
}

class Mamba2Test : public VkmlTest {};

TEST_F(Mamba2Test, PrefillMatchesTheCpuReference) {
    // Groups 1 and 3 (the gated norm per group, B/C shared by heads), tied and separate heads,
    // and a prompt longer than one SSD chunk.
    Sizes g3;
    g3.groups = 3;
    g3.state = 8;
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        for (const auto& [sizes, tied, len] : {std::tuple{Sizes{}, false, 9}, std::tuple{g3, true, 70}}) {
            const InMemoryWeights w = random_mamba2(sizes, tied, tied ? 10 : 20);
            models::Mamba2 model(*dev, w);
            EXPECT_EQ(model.config().head_dim, 8);
            EXPECT_EQ(model.config().tied_output, tied);
            std::vector<int32_t> tokens;
            for (int i = 0; i < len; ++i) tokens.push_back((i * 13 + 5) % 37);
            auto session = model.new_session();
            EXPECT_NMSE_LE(reference::mamba2_forward(w, tokens), model.logits(session, tokens, true), 1e-4);
        }
    }
}

TEST_F(Mamba2Test, QuantizedWeightsMatchTheDequantizedReference) {
    const auto& dev = devices()[0];
    const InMemoryWeights w = random_mamba2(Sizes{}, false, 30);
    const std::vector<int32_t> tokens = {3, 1, 4, 1, 5, 9, 2, 6};
    for (DType type : {DType::q8_0, DType::q4_0}) {
        SCOPED_TRACE(dtype_name(type));
        const models::QuantizedWeights q(w, type);
        ASSERT_EQ(q.find("blk.0.ssm_in.weight")->dtype, type);
        models::Mamba2 model(*dev, q);
        auto session = model.new_session();
        EXPECT_NMSE_LE(reference::mamba2_forward(q, tokens), model.logits(session, tokens, true), 5e-4);
    }
}

TEST_F(Mamba2Test, InterleavedWeightsGiveTheDenseLogits) {
    // dim 512: on CPU devices the five row ranges of in_proj and out_proj are uploaded
    // interleaved for the CPU kernel (the 8-row dt range pads to a whole group).
    const auto& dev = devices()[0];
    if (dev->caps().type != DeviceType::Cpu) GTEST_SKIP() << "interleaving is for CPU devices";
    Sizes z;
    z.dim = 512;
    z.layers = 1;
    z.heads = 8;
    z.head_dim = 64;
    const InMemoryWeights f32 = random_mamba2(z, false, 50);
    const std::vector<int32_t> tokens = {3, 1, 4, 1, 5, 9};
    for (DType type : {DType::q8_0, DType::q4_0, DType::q6_k}) {
        SCOPED_TRACE(dtype_name(type));
        const models::QuantizedWeights w(f32, type);
        const auto got = expect_interleaving_is_exact([&] {
            models::Mamba2 model(*dev, w);
            return prompt_then_step(model, tokens, 2);
        });
        EXPECT_NMSE_LE(reference::mamba2_forward(w, tokens), std::vector<float>(got.begin(), got.end() - z.vocab), 5e-4);
    }
}

TEST_F(Mamba2Test, PrefillThenStepsEqualOneLongPrefill) {
    const auto& dev = devices()[0];
    const InMemoryWeights w = random_mamba2(Sizes{}, false, 40);
    models::Mamba2 model(*dev, w);
    const int64_t V = model.config().vocab;
    const std::vector<int32_t> tokens = {2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5};
    auto full = model.new_session();
    const auto all = model.logits(full, tokens, true);
    auto row = [&](size_t t) { return std::vector<float>(all.begin() + static_cast<long>(t) * V, all.begin() + static_cast<long>(t + 1) * V); };
    auto inc = model.new_session();
    EXPECT_NMSE_LE(row(4), model.logits(inc, std::vector<int32_t>(tokens.begin(), tokens.begin() + 5)), 1e-6);
    // A second session decoding in between: each step's recording is replayed only for the
    // session it was made for.
    auto other = model.new_session();
    std::vector<float> other_last;
    for (size_t t = 5; t < tokens.size(); ++t) {
        SCOPED_TRACE("position " + std::to_string(t));
        EXPECT_NMSE_LE(row(t), model.logits(inc, {tokens[t]}), 1e-6);
        other_last = model.logits(other, {tokens[t - 5]});
    }
    EXPECT_EQ(inc.pos, 12);
    EXPECT_NMSE_LE(row(6), other_last, 1e-6);
}

TEST_F(Mamba2Test, BatchedSequencesMatchSeparateRuns) {
    const auto& dev = devices()[0];
    const InMemoryWeights w = random_mamba2(Sizes{}, true, 50);
    models::Mamba2 model(*dev, w);
    const int64_t V = model.config().vocab;
    // Three sequences after different prefixes decode one token each as one batch (gathered
    // states), then two of unequal lengths (each on its own rows; 4 rows keep the [n, 3] dt
    // rows at a 16-byte offset).
    const std::vector<std::vector<int32_t>> prefixes = {{1, 2, 3}, {9}, {4, 4, 4, 4, 4, 4}};
    const std::vector<std::vector<int32_t>> steps = {{5}, {6}, {7}}, more = {{8, 9, 10, 11}, {12, 13}};
    std::vector<float> sep, sep_more;
    for (size_t i = 0; i < 3; ++i) {
        auto s = model.new_session();
        model.logits(s, prefixes[i]);
        const auto l = model.logits(s, steps[i], true);
        sep.insert(sep.end(), l.begin(), l.end());
        if (i < 2) {
            const auto m = model.logits(s, more[i], true);
            sep_more.insert(sep_more.end(), m.begin(), m.end());
        }
    }
    std::vector<models::Mamba2::Session> sessions;
    for (const auto& p : prefixes) {
        sessions.push_back(model.new_session());
        model.logits(sessions.back(), p);
    }
    Stream s(*dev);
    Tensor batched = model.forward_batch(s, {&sessions[0], &sessions[1], &sessions[2]}, steps);
    s.finish();
    EXPECT_EQ(batched.shape(), (Shape{3, V}));
    EXPECT_NMSE_LE(sep, batched.to_floats(), 1e-10);
    Tensor unequal = model.forward_batch(s, {&sessions[0], &sessions[1]}, more);
    s.finish();
    EXPECT_NMSE_LE(sep_more, unequal.to_floats(), 1e-10);
    EXPECT_EQ(sessions[0].pos, 8);
    EXPECT_EQ(sessions[2].pos, 7);
    EXPECT_VKML_ERROR(model.forward_batch(s, {&sessions[0], &sessions[0]}, steps), ErrorKind::InvalidArgument,
                      "3 token lists");
    EXPECT_VKML_ERROR(model.forward_batch(s, {&sessions[0], &sessions[0]}, {{1}, {2}}), ErrorKind::InvalidArgument,
                      "appears twice");
    // Unequal lengths whose dt rows (3 floats) would start at byte 12: refused before anything
    // is recorded, and the sessions are unchanged.
    if (dev->caps().min_storage_offset_alignment > 4) {
        EXPECT_VKML_ERROR(model.forward_batch(s, {&sessions[0], &sessions[1]}, {{1}, {2, 3}}),
                          ErrorKind::InvalidArgument, "sequence 1 starts at row 1, and rows of 3 floats");
        EXPECT_EQ(sessions[0].pos, 8);
    }
}

TEST_F(Mamba2Test, GgufFileAndHuggingFaceFolderLoad) {
    const Sizes z;
    const int64_t E = z.inner(), CD = E + 2 * z.gn();
    const std::vector<NamedTensor> tensors = random_tensors(z, false, 60);
    const InMemoryWeights w = in_memory(z, tensors);
    const std::vector<int32_t> tokens = {1, 2, 3, 36, 0, 11, 17};
    const auto ref = reference::mamba2_forward(w, tokens);

    // GGUF as llama.cpp writes it.
    models::GgufWriter gw;
    gw.set_string("general.architecture", "mamba2");
    for (const auto& [k, v] : metadata(z))
        if (k.find("epsilon") != std::string::npos) gw.set_f32(k, static_cast<float>(v));
        else gw.set_u32(k, static_cast<uint32_t>(v));
    for (const NamedTensor& t : tensors) gw.add_tensor(t.name, DType::f32, t.shape, t.values.data(), t.values.size() * 4);
    const std::string gguf = temp_path("mamba2.gguf");
    gw.write(gguf);

    // A Hugging Face folder: A_log, [H] vectors, conv1d [CD, 1, K], norm [E], dt_bias.
    const std::string dir = temp_path("hf-mamba2");
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/config.json") << R"({"architectures": ["Mamba2ForCausalLM"], "model_type": "mamba2",
        "hidden_size": 32, "num_hidden_layers": 2, "state_size": 16, "expand": 0.75, "n_groups": 1,
        "num_heads": 3, "head_dim": 8, "conv_kernel": 4, "layer_norm_epsilon": 1e-05, "vocab_size": 37,
        "tie_word_embeddings": false})";
    std::vector<models::SafetensorsWriteTensor> st;
    auto add = [&](const std::string& name, Shape shape, std::vector<float> v) {
        std::vector<uint8_t> bytes(v.size() * 4);
        std::memcpy(bytes.data(), v.data(), bytes.size());
        st.push_back({name, "F32", std::move(shape), std::move(bytes)});
    };
    auto get = [&](const std::string& name) { return models::weight_to_floats(*w.find(name)); };
    add("backbone.embeddings.weight", {z.vocab, z.dim}, get("token_embd.weight"));
    add("backbone.norm_f.weight", {z.dim}, get("output_norm.weight"));
    add("lm_head.weight", {z.vocab, z.dim}, get("output.weight"));
    for (int64_t i = 0; i < z.layers; ++i) {
        const std::string h = "backbone.layers." + std::to_string(i) + ".";
        auto a = get(layer(i, "ssm_a"));
        for (float& v : a) v = std::log(-v);
        add(h + "norm.weight", {z.dim}, get(layer(i, "attn_norm.weight")));
        add(h + "mixer.in_proj.weight", {2 * E + 2 * z.gn() + z.heads, z.dim}, get(layer(i, "ssm_in.weight")));
        add(h + "mixer.conv1d.weight", {CD, 1, z.conv}, get(layer(i, "ssm_conv1d.weight")));
        add(h + "mixer.conv1d.bias", {CD}, get(layer(i, "ssm_conv1d.bias")));
        add(h + "mixer.dt_bias", {z.heads}, get(layer(i, "ssm_dt.bias")));
        add(h + "mixer.A_log", {z.heads}, a);
        add(h + "mixer.D", {z.heads}, get(layer(i, "ssm_d")));
        add(h + "mixer.norm.weight", {E}, get(layer(i, "ssm_norm.weight")));
        add(h + "mixer.out_proj.weight", {z.dim, E}, get(layer(i, "ssm_out.weight")));
    }
    models::write_safetensors(dir + "/model.safetensors", st);

    const auto& dev = devices()[0];
    for (const std::string& path : {gguf, dir}) {
        SCOPED_TRACE(path);
        const auto weights = models::open_weights(path);
        auto model = models::load_language_model(*dev, *weights);
        EXPECT_NE(model->describe().find("mamba2: vocab 37, dim 32, 2 layers, inner 24 (3 heads of 8)"), std::string::npos)
            << model->describe();
        EXPECT_NMSE_LE(ref, model->logits(tokens, true), 1e-4);
    }
    std::filesystem::remove(gguf);
    std::filesystem::remove_all(dir);
}

TEST_F(Mamba2Test, LayersSplitOverTwoDevicesMatchOneDevice) {
    // Through load_language_model, as `vkml generate --devices 0,1` loads it.
    const auto& dev0 = devices()[0];
    auto dev1 = Device::open_index(devices().size() > 1 ? devices()[1]->index() : dev0->index());
    Sizes z;
    z.layers = 3;
    const InMemoryWeights w = random_mamba2(z, false, 80);
    auto one = models::load_language_model(*dev0, w);
    auto two = models::load_language_model(*dev0, w, 0, {}, {dev1});
    const std::vector<int32_t> prompt = {1, 9, 17, 33, 36}, next = {4};
    EXPECT_NMSE_LE(one->logits(prompt, true), two->logits(prompt, true), 1e-10);
    EXPECT_NMSE_LE(one->logits(next), two->logits(next), 1e-10);
    EXPECT_EQ(two->position(), 6);
    EXPECT_VKML_ERROR(models::Mamba2(*dev0, w, models::RecurrentOptions{.more_devices = {dev1, dev1, dev1}}),
                      ErrorKind::InvalidArgument, "4 devices for 3 layers");
}

TEST_F(Mamba2Test, BadFilesAreClearErrors) {
    const auto& dev = devices()[0];
    const Sizes z;
    InMemoryWeights arch = random_mamba2(z, false, 70);
    arch.set("general.architecture", "mamba");
    EXPECT_VKML_ERROR(models::Mamba2(*dev, arch), ErrorKind::Unsupported, "not mamba2");
    auto without = [&](const std::string& drop) {
        std::vector<NamedTensor> t = random_tensors(z, false, 71);
        std::erase_if(t, [&](const NamedTensor& x) { return x.name == drop; });
        return in_memory(z, t);
    };
    EXPECT_VKML_ERROR(models::Mamba2(*dev, without("blk.1.ssm_norm.weight")), ErrorKind::BadFile,
                      "'blk.1.ssm_norm.weight' is missing");
    EXPECT_VKML_ERROR(models::Mamba2(*dev, without("blk.0.ssm_dt.bias")), ErrorKind::BadFile, "blk.0.ssm_dt.bias");
    InMemoryWeights bad_a = random_mamba2(z, false, 72);
    bad_a.add_floats("blk.0.ssm_a", {1, 3}, {-1, -1, -1});
    EXPECT_VKML_ERROR(models::Mamba2(*dev, bad_a), ErrorKind::BadFile, "'blk.0.ssm_a' has shape [1, 3], expected [3] or [3, 1]");
    InMemoryWeights bad_in = random_mamba2(z, false, 73);
    bad_in.add_floats("blk.1.ssm_in.weight", {2 * 24 + 32, 32}, std::vector<float>(80 * 32, 0.0f));  // no dt rows
    EXPECT_VKML_ERROR(models::Mamba2(*dev, bad_in), ErrorKind::BadFile, "blk.1.ssm_in.weight");
    InMemoryWeights bad_heads = random_mamba2(z, false, 74);
    bad_heads.set("mamba2.ssm.time_step_rank", 5.0);
    EXPECT_VKML_ERROR(models::Mamba2(*dev, bad_heads), ErrorKind::BadFile, "do not divide");
    InMemoryWeights no_groups = random_mamba2(z, false, 75);
    no_groups.set("mamba2.ssm.group_count", 2.0);
    EXPECT_VKML_ERROR(models::Mamba2(*dev, no_groups), ErrorKind::BadFile, "do not divide");
    models::Mamba2 model(*dev, random_mamba2(z, false, 76));
    auto s = model.new_session();
    EXPECT_VKML_ERROR(model.logits(s, {37}), ErrorKind::InvalidArgument, "outside the vocabulary of 37");
    EXPECT_VKML_ERROR(model.logits(s, {}), ErrorKind::InvalidArgument, "no tokens");
}

}  // namespace
}  // namespace vkml::test
