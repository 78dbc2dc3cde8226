#include "vkml/reference/mamba2.hpp"

#include "vkml/models/llama.hpp"
#include "vkml/reference/elementwise.hpp"
#include "vkml/reference/matmul.hpp"
#include "vkml/reference/norm.hpp"
#include "vkml/reference/ssm.hpp"

namespace vkml::reference {

namespace {

// Columns [first, first + count) of an [n, cols] matrix.
std::vector<float> columns(const std::vector<float>& v, int64_t n, int64_t cols, int64_t first, int64_t count) {
    std::vector<float> out(static_cast<size_t>(n * count));
    for (int64_t t = 0; t < n; ++t)
        std::copy(v.begin() + t * cols + first, v.begin() + t * cols + first + count, out.begin() + t * count);
    return out;
}

}  // namespace

std::vector<float> mamba2_forward(const models::WeightSource& w, const std::vector<int32_t>& tokens) {
    using models::llama_names::layer;
    const models::Mamba2Config c = models::Mamba2Config::from_gguf(w);
    auto load = [&](const std::string& name) { return models::weight_to_floats(w.require(name)); };
    const int64_t n = static_cast<int64_t>(tokens.size()), D = c.dim, E = c.inner, N = c.state, G = c.groups,
                  H = c.heads, CD = c.conv_dim(), R = c.in_proj_rows();
    const std::vector<float> emb = load("token_embd.weight");
    std::vector<float> x(static_cast<size_t>(n * D));
    for (int64_t t = 0; t < n; ++t) std::copy(emb.begin() + tokens[t] * D, emb.begin() + (tokens[t] + 1) * D, x.begin() + t * D);
    for (int64_t l = 0; l < c.layers; ++l) {
        const std::vector<float> h = rms_norm(x, D, load(layer(l, "attn_norm.weight")), c.norm_eps);
        const std::vector<float> proj = matmul(load(layer(l, "ssm_in.weight")), h, R, n, D);  // [n, z|x|B|C|dt]
        const std::vector<float> z = columns(proj, n, R, 0, E), xbc_in = columns(proj, n, R, E, CD),
                                 dt = columns(proj, n, R, E + CD, H);
        const std::vector<float> xbc = causal_conv1d(xbc_in, load(layer(l, "ssm_conv1d.weight")),
                                                     load(layer(l, "ssm_conv1d.bias")), nullptr, 1, n, CD, c.conv, true);
        SsdRef in;
        in.x = columns(xbc, n, CD, 0, E);
        in.B = columns(xbc, n, CD, E, G * N);
        in.C = columns(xbc, n, CD, E + G * N, G * N);
        in.dt = dt;
        in.A = load(layer(l, "ssm_a"));
        in.D = load(layer(l, "ssm_d"));
        in.dt_bias = load(layer(l, "ssm_dt.bias"));
        in.len = n;
        in.heads = H;
        in.hp = c.head_dim;
        in.n = N;
        in.groups = G;
        std::vector<float> state(static_cast<size_t>(H * c.head_dim * N), 0.0f);
        const std::vector<float> y = ssd(in, state);
        // Gated RMSNorm over each group of E/G channels, then the per-channel weight.
        const std::vector<float> gated = rms_norm(mul(y, silu(z)), E / G, {}, c.norm_eps);
        const std::vector<float> normed = mul(gated, load(layer(l, "ssm_norm.weight")));
        const std::vector<float> o = matmul(load(layer(l, "ssm_out.weight")), normed, D, n, E);
        x = add(x, o);
    }
    const std::vector<float> normed = rms_norm(x, D, load("output_norm.weight"), c.norm_eps);
    return matmul(c.tied_output ? emb : load("output.weight"), normed, c.vocab, n, D);
}

}  // namespace vkml::reference
