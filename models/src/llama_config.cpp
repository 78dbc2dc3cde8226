#include <string>

#include "vkml/error.hpp"
#include "vkml/models/llama.hpp"

namespace vkml::models {

std::string llama_names::layer(int64_t i, const char* suffix) {
    return "blk." + std::to_string(i) + "." + suffix;
}

LlamaConfig LlamaConfig::from_gguf(const WeightSource& w) {
    w.expect_architecture("llama");
    LlamaConfig c;
    c.dim = w.require_int("llama.embedding_length");
    c.layers = w.require_int("llama.block_count");
    c.heads = w.require_int("llama.attention.head_count");
    c.kv_heads = w.int_or("llama.attention.head_count_kv", c.heads);
    c.ffn = w.require_int("llama.feed_forward_length");
    c.context = w.int_or("llama.context_length", 2048);
    c.norm_eps = static_cast<float>(w.number_or("llama.attention.layer_norm_rms_epsilon", 1e-5));
    c.rope_theta = static_cast<float>(w.number_or("llama.rope.freq_base", 10000.0));
    auto bad = [&](const std::string& what) { throw Error(ErrorKind::BadFile, w.path() + ": " + what); };
    if (c.dim <= 0 || c.layers <= 0 || c.heads <= 0 || c.kv_heads <= 0 || c.ffn <= 0) bad("zero-sized hyper-parameter");
    if (c.dim % c.heads != 0) bad("embedding_length " + std::to_string(c.dim) + " is not divisible by head_count");
    if (c.heads % c.kv_heads != 0) bad("head_count is not a multiple of head_count_kv");
    c.head_dim = c.dim / c.heads;
    c.rope_dims = w.int_or("llama.rope.dimension_count", c.head_dim);
    if (c.rope_dims <= 0 || c.rope_dims > c.head_dim || c.rope_dims % 2) bad("rope.dimension_count is invalid");
    c.vocab = w.token_table_rows(c.dim);
    c.tied_output = !w.find("output.weight");
    c.rope = ops::RopeMode::Adjacent;
    return c;
}

std::string LlamaConfig::describe() const {
    return "llama: vocab " + std::to_string(vocab) + ", dim " + std::to_string(dim) + ", " + std::to_string(layers) +
           " layers, " + std::to_string(heads) + " heads (" + std::to_string(kv_heads) + " kv, head dim " +
           std::to_string(head_dim) + "), ffn " + std::to_string(ffn) + ", context " + std::to_string(context);
}

}  // namespace vkml::models
