// The Mamba-2 model as a graph of vkml ops.
#include "vkml/models/mamba2.hpp"

#include "vkml/error.hpp"
#include "vkml/graph.hpp"
#include "vkml/models/llama.hpp"
#include "vkml/ops/elementwise.hpp"
#include "vkml/ops/matmul.hpp"
#include "vkml/ops/norm.hpp"
#include "vkml/ops/ssm.hpp"
#include "mamba_batch.hpp"

namespace vkml::models {

using llama_names::layer;

Mamba2Config Mamba2Config::from_gguf(const WeightSource& w) {
    w.expect_architecture("mamba2");
    Mamba2Config c;
    c.dim = w.require_int("mamba2.embedding_length");
    c.layers = w.require_int("mamba2.block_count");
    c.inner = w.require_int("mamba2.ssm.inner_size");
    c.state = w.require_int("mamba2.ssm.state_size");
    c.conv = w.require_int("mamba2.ssm.conv_kernel");
    c.heads = w.require_int("mamba2.ssm.time_step_rank");
    c.groups = w.int_or("mamba2.ssm.group_count", 1);
    c.norm_eps = static_cast<float>(w.number_or("mamba2.attention.layer_norm_rms_epsilon", 1e-5));
    if (c.dim <= 0 || c.layers <= 0 || c.inner <= 0 || c.state <= 0 || c.conv <= 1 || c.heads <= 0 || c.groups <= 0)
        throw Error(ErrorKind::BadFile, w.path() + ": zero-sized mamba2 hyper-parameter");
    if (c.inner % c.heads != 0 || c.heads % c.groups != 0)
        throw Error(ErrorKind::BadFile, w.path() + ": mamba2 inner size " + std::to_string(c.inner) + ", " +
                                            std::to_string(c.heads) + " heads and " + std::to_string(c.groups) +
                                            " groups do not divide (inner = heads * head_dim, heads = k * groups)");
    c.head_dim = c.inner / c.heads;
    c.vocab = w.token_table_rows(c.dim);
    c.tied_output = !w.find("output.weight");
    return c;
}

std::string Mamba2Config::describe() const {
    return "mamba2: vocab " + std::to_string(vocab) + ", dim " + std::to_string(dim) + ", " + std::to_string(layers) +
           " layers, inner " + std::to_string(inner) + " (" + std::to_string(heads) + " heads of " +
           std::to_string(head_dim) + "), state " + std::to_string(state) + ", groups " + std::to_string(groups) +
           ", conv " + std::to_string(conv);
}

WeightInfo require_mamba2_vector(const WeightSource& w, const std::string& name, int64_t n, const Shape& alt) {
    WeightInfo info = w.require(name);
    if (info.shape != Shape{n} && info.shape != alt)
        throw Error(ErrorKind::BadFile, w.path() + ": tensor '" + name + "' has shape " + shape_string(info.shape) +
                                            ", expected " + shape_string({n}) + " or " + shape_string(alt));
    info.shape = {n};
    return info;
}

struct Mamba2::Weights {
    detail::SsmEnds ends;
    struct Layer {
        Tensor norm, in_z, in_x, in_b, in_c, in_dt;     // row slices of in_proj
        Tensor conv_w[3], conv_b[3];                    // the conv of x, B and C
        Tensor dt_bias, a, d, ssm_norm, out;
    };
    std::vector<Layer> layers;
};

Mamba2::Mamba2(Device& device, const WeightSource& w, const RecurrentOptions& options)
    : device_(device.shared_from_this()), config_(Mamba2Config::from_gguf(w)),
      parts_(std::make_unique<detail::SsmParts>("mamba2", device, options, config_.layers)),
      weights_(std::make_unique<Weights>()) {
    const Mamba2Config& c = config_;
    Weights& W = *weights_;
    const int64_t E = c.inner, GN = c.groups * c.state, H = c.heads;
    W.ends = detail::load_ends(w, *parts_, c.vocab, c.dim, c.tied_output);
    for (int64_t i = 0; i < c.layers; ++i) {
        Device& dev = parts_->of_layer(i);
        auto vec = [&](const WeightInfo& info, const std::string& name) { return upload_weight(dev, info, DType::f32, name); };
        Weights::Layer l;
        l.norm = vec(w.require(layer(i, "attn_norm.weight"), {c.dim}), layer(i, "attn_norm.weight"));
        // in_proj rows are [z | x | B | C | dt], uploaded as five matrices so each product writes
        // a dense tensor; matrices feed matmul alone (the layout it reads fastest on the device).
        const std::string in_name = layer(i, "ssm_in.weight");
        const WeightInfo in_info = w.require(in_name, {c.in_proj_rows(), c.dim});
        auto in_rows = [&](int64_t first, int64_t count) {
            return upload_matmul_matrix(dev, weight_rows(in_info, first, count), in_name);
        };
        l.in_z = in_rows(0, E);
        l.in_x = in_rows(E, E);
        l.in_b = in_rows(2 * E, GN);
        l.in_c = in_rows(2 * E + GN, GN);
        l.in_dt = in_rows(2 * E + 2 * GN, H);
        // The conv over [x | B | C] is three convs (the SSD op takes x, B and C dense); the
        // weights are split on the host so each piece starts at an aligned offset.
        const std::vector<float> cw = weight_to_floats(w.require(layer(i, "ssm_conv1d.weight"), {c.conv_dim(), c.conv}));
        const std::vector<float> cb = weight_to_floats(w.require(layer(i, "ssm_conv1d.bias"), {c.conv_dim()}));
        const int64_t first[3] = {0, E, E + GN}, rows[3] = {E, GN, GN};
        for (int p = 0; p < 3; ++p) {
            const auto wb = cw.begin() + first[p] * c.conv, bb = cb.begin() + first[p];
            l.conv_w[p] = Tensor::from_floats(dev, DType::f32, {rows[p], c.conv},
                                              std::vector<float>(wb, wb + rows[p] * c.conv), Pool::Weights);
            l.conv_b[p] = Tensor::from_floats(dev, DType::f32, {rows[p]}, std::vector<float>(bb, bb + rows[p]),
                                              Pool::Weights);
        }
        l.dt_bias = vec(w.require(layer(i, "ssm_dt.bias"), {H}), layer(i, "ssm_dt.bias"));
        l.a = vec(require_mamba2_vector(w, layer(i, "ssm_a"), H, {H, 1}), layer(i, "ssm_a"));
        l.d = vec(require_mamba2_vector(w, layer(i, "ssm_d"), H, {H, 1}), layer(i, "ssm_d"));
        l.ssm_norm = vec(require_mamba2_vector(w, layer(i, "ssm_norm.weight"), E, {c.groups, E / c.groups}),
                         layer(i, "ssm_norm.weight"));
        l.out = upload_matmul_matrix(dev, w.require(layer(i, "ssm_out.weight"), {c.dim, E}), layer(i, "ssm_out.weight"));
        W.layers.push_back(std::move(l));
        if (options.progress) options.progress(i + 1, c.layers);
    }
}

Mamba2::~Mamba2() = default;

Mamba2::Session Mamba2::new_session() const {
    const Mamba2Config& c = config_;
    return parts_->zero_session({{1, c.conv - 1, c.inner},
                                 {1, c.conv - 1, c.groups * c.state},
                                 {1, c.conv - 1, c.groups * c.state},
                                 {1, c.heads, c.head_dim, c.state}});
}

detail::SsmStep& Mamba2::step_for(detail::SsmPart& part, int64_t n, bool all_logits) {
    if (detail::SsmStep* cached = detail::find_step(part.steps, n, all_logits)) return *cached;
    const Mamba2Config& c = config_;
    const Weights& W = *weights_;
    Device& dev = *part.device;
    auto step = std::make_unique<detail::SsmStep>(dev, n, all_logits);
    detail::SsmStep& sg = *step;
    Graph& g = sg.graph;
    const int64_t D = c.dim, E = c.inner, N = c.state, G = c.groups, GN = G * N, H = c.heads, P = c.head_dim;
    const float eps = c.norm_eps;
    const detail::SsmStep* st = step.get();

    const auto x = part.first == 0 ? sg.embed(W.ends.tok_embd, D) : sg.input_x(dev, D);
    for (int64_t i = part.first; i < part.last; ++i) {
        const Weights::Layer& L = W.layers[i];
        const size_t li = 4 * static_cast<size_t>(i);  // this layer's state tensors: conv x, B, C; SSM
        const auto h = g.temp(DType::f32, {n, D}, "h");
        sg.rms_norm(x, L.norm, h, eps);
        const auto z = g.temp(DType::f32, {n, E}, "z"), xs = g.temp(DType::f32, {n, E}, "xs");
        const auto bs = g.temp(DType::f32, {n, GN}, "Bs"), cs = g.temp(DType::f32, {n, GN}, "Cs");
        const auto dt = g.temp(DType::f32, {n, H}, "dt");
        sg.matmul(L.in_z, h, z);
        sg.matmul(L.in_x, h, xs);
        sg.matmul(L.in_b, h, bs);
        sg.matmul(L.in_c, h, cs);
        sg.matmul(L.in_dt, h, dt);
        const auto u = g.temp(DType::f32, {n, E}, "u");
        const auto bm = g.temp(DType::f32, {n, GN}, "B"), cm = g.temp(DType::f32, {n, GN}, "C");
        g.op("conv1d",
             {xs, bs, cs, g.constant(L.conv_w[0]), g.constant(L.conv_b[0]), g.constant(L.conv_w[1]),
              g.constant(L.conv_b[1]), g.constant(L.conv_w[2]), g.constant(L.conv_b[2])},
             {u, bm, cm}, [=](Stream& s, const Tensor* t) {
                 for (const detail::SsmRun& r : st->runs)
                     for (size_t p = 0; p < 3; ++p)
                         ops::causal_conv1d(s, r.rows(t[p]), t[3 + 2 * p], t[4 + 2 * p], r.rows(t[9 + p]),
                                            r.state[li + p], /*silu=*/true);
             });
        const auto y = g.temp(DType::f32, {n, E}, "y");
        g.op("ssd", {u, dt, g.constant(L.a), bm, cm, g.constant(L.d), g.constant(L.dt_bias)}, {y},
             [=](Stream& s, const Tensor* t) {
                 for (const detail::SsmRun& r : st->runs)
                     ops::ssd(s, {r.rows(t[0], {H, P}), r.rows(t[1]), t[2], r.rows(t[3], {G, N}), r.rows(t[4], {G, N}),
                                  t[5], t[6]},
                              r.rows(t[7], {H, P}), r.state[li + 3]);
             });
        // Gated RMSNorm per group: y = rmsnorm(y * silu(z)) over each group's E/G channels, times
        // the norm weight (per channel, so it is applied after the unweighted group norm).
        g.op("gated_norm", {y, z, g.constant(L.ssm_norm)}, {y, z}, [=](Stream& s, const Tensor* t) {
            ops::silu(s, t[1], t[1]);
            ops::mul(s, t[0], t[1], t[0]);
            const Tensor grouped = t[0].reshape({n * G, E / G});
            ops::rms_norm(s, grouped, Tensor{}, grouped, eps);
            ops::mul(s, t[0], t[2], t[0]);
        });
        const auto o = g.temp(DType::f32, {n, D}, "o");
        sg.matmul(L.out, y, o);
        g.op("add", {x, o}, {x}, [](Stream& s, const Tensor* t) { ops::add(s, t[0], t[1], t[2]); });
    }
    if (part.last == c.layers)
        sg.finish(dev, x, W.ends.output_norm, eps, W.ends.output, D, c.vocab);
    else
        sg.finish_partial(dev, x);
    return detail::add_step(part.steps, std::move(step));
}

Tensor Mamba2::forward(Stream& s, Session& session, const std::vector<int32_t>& tokens, bool all_logits) {
    return run(s, {&session}, {tokens}, all_logits);
}

Tensor Mamba2::forward_batch(Stream& s, const std::vector<Session*>& sessions,
                             const std::vector<std::vector<int32_t>>& tokens) {
    return run(s, sessions, tokens, /*all_logits=*/true);
}

Tensor Mamba2::run(Stream& s, const std::vector<Session*>& sessions, const std::vector<std::vector<int32_t>>& tokens,
                   bool all_logits) {
    // The convs and SSD bind rows of x and y (E floats), B and C (G*N) and dt (H).
    const Mamba2Config& c = config_;
    return detail::run_recurrent("mamba2", s, *parts_, 4, {c.inner, c.groups * c.state, c.heads}, sessions, tokens,
                                 c.vocab, all_logits,
                                 [this](detail::SsmPart& part, int64_t n, bool all) -> detail::SsmStep& {
                                     return step_for(part, n, all);
                                 });
}

std::vector<float> Mamba2::logits(Session& session, const std::vector<int32_t>& tokens, bool all_logits) {
    Stream s(*device_);
    Tensor out = forward(s, session, tokens, all_logits);
    s.finish();
    return out.to_floats();
}

}  // namespace vkml::models
