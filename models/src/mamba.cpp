// The Mamba model as a graph of vkml ops.
#include "vkml/models/mamba.hpp"

#include <algorithm>

#include "vkml/error.hpp"
#include "vkml/graph.hpp"
#include "vkml/models/llama.hpp"
#include "vkml/ops/elementwise.hpp"
#include "vkml/ops/embed.hpp"
#include "vkml/ops/matmul.hpp"
#include "vkml/ops/norm.hpp"
#include "vkml/ops/ssm.hpp"
#include "mamba_batch.hpp"

namespace vkml::models {

using llama_names::layer;

MambaConfig MambaConfig::from_gguf(const WeightSource& w) {
    w.expect_architecture("mamba");
    MambaConfig c;
    c.dim = w.require_int("mamba.embedding_length");
    c.layers = w.require_int("mamba.block_count");
    c.inner = w.require_int("mamba.ssm.inner_size");
    c.state = w.require_int("mamba.ssm.state_size");
    c.conv = w.require_int("mamba.ssm.conv_kernel");
    c.dt_rank = w.require_int("mamba.ssm.time_step_rank");
    c.norm_eps = static_cast<float>(w.number_or("mamba.attention.layer_norm_rms_epsilon", 1e-5));
    if (c.dim <= 0 || c.layers <= 0 || c.inner <= 0 || c.state <= 0 || c.conv <= 1 || c.dt_rank <= 0)
        throw Error(ErrorKind::BadFile, w.path() + ": zero-sized mamba hyper-parameter");
    c.vocab = w.token_table_rows(c.dim);
    c.tied_output = !w.find("output.weight");
    return c;
}

std::string MambaConfig::describe() const {
    return "mamba: vocab " + std::to_string(vocab) + ", dim " + std::to_string(dim) + ", " + std::to_string(layers) +
           " layers, inner " + std::to_string(inner) + ", state " + std::to_string(state) + ", conv " +
           std::to_string(conv) + ", dt rank " + std::to_string(dt_rank);
}

struct Mamba::Weights {
    detail::SsmEnds ends;
    struct Layer {
        Tensor norm, in_x, in_z, conv_w, conv_b, x_dt, x_b, x_c, dt_w, dt_b, a, d, out;
    };
    std::vector<Layer> layers;
};

Mamba::Mamba(Device& device, const WeightSource& w, const RecurrentOptions& options)
    : device_(device.shared_from_this()), config_(MambaConfig::from_gguf(w)),
      parts_(std::make_unique<detail::SsmParts>("mamba", device, options, config_.layers)),
      weights_(std::make_unique<Weights>()) {
    const MambaConfig& c = config_;
    Weights& W = *weights_;
    const int64_t E = c.inner, N = c.state, R = c.dt_rank;
    W.ends = detail::load_ends(w, *parts_, c.vocab, c.dim, c.tied_output);
    for (int64_t i = 0; i < c.layers; ++i) {
        Device& dev = parts_->of_layer(i);
        auto vec = [&](const std::string& name, const Shape& shape) {
            return upload_weight(dev, w.require(name, shape), DType::f32, name);
        };
        // Matrices feed matmul alone: uploaded in the layout it reads fastest on the device.
        auto matrix = [&](const std::string& name, const Shape& shape) { return upload_matmul_matrix(dev, w.require(name, shape), name); };
        auto rows = [&](const std::string& name, const WeightInfo& info, int64_t first, int64_t count) {
            return upload_matmul_matrix(dev, weight_rows(info, first, count), name);
        };
        Weights::Layer l;
        l.norm = vec(layer(i, "attn_norm.weight"), {c.dim});
        // in_proj [2E, D] and x_proj [R + 2N, E] are uploaded as their row ranges: the kernels
        // then write x, z, dt, B and C as separate dense tensors with no split op.
        const std::string in_name = layer(i, "ssm_in.weight"), x_name = layer(i, "ssm_x.weight");
        const WeightInfo in = w.require(in_name, {2 * E, c.dim});
        l.in_x = rows(in_name, in, 0, E);
        l.in_z = rows(in_name, in, E, E);
        l.conv_w = vec(layer(i, "ssm_conv1d.weight"), {E, c.conv});
        l.conv_b = vec(layer(i, "ssm_conv1d.bias"), {E});
        const WeightInfo xp = w.require(x_name, {R + 2 * N, E});
        l.x_dt = rows(x_name, xp, 0, R);
        l.x_b = rows(x_name, xp, R, N);
        l.x_c = rows(x_name, xp, R + N, N);
        l.dt_w = matrix(layer(i, "ssm_dt.weight"), {E, R});
        l.dt_b = vec(layer(i, "ssm_dt.bias"), {E});
        l.a = vec(layer(i, "ssm_a"), {E, N});
        l.d = vec(layer(i, "ssm_d"), {E});
        l.out = matrix(layer(i, "ssm_out.weight"), {c.dim, E});
        W.layers.push_back(std::move(l));
        if (options.progress) options.progress(i + 1, c.layers);
    }
}

Mamba::~Mamba() = default;

Mamba::Session Mamba::new_session() const {
    return parts_->zero_session({{1, config_.conv - 1, config_.inner}, {1, config_.inner, config_.state}});
}

detail::SsmStep& Mamba::step_for(detail::SsmPart& part, int64_t n, bool all_logits) {
    if (detail::SsmStep* cached = detail::find_step(part.steps, n, all_logits)) return *cached;
    const MambaConfig& c = config_;
    const Weights& W = *weights_;
    Device& dev = *part.device;
    auto step = std::make_unique<detail::SsmStep>(dev, n, all_logits);
    detail::SsmStep& sg = *step;
    Graph& g = sg.graph;
    const int64_t D = c.dim, E = c.inner, N = c.state, R = c.dt_rank;
    const float eps = c.norm_eps;
    const detail::SsmStep* st = step.get();

    const auto x = part.first == 0 ? sg.embed(W.ends.tok_embd, D) : sg.input_x(dev, D);
    for (int64_t i = part.first; i < part.last; ++i) {
        const Weights::Layer& L = W.layers[i];
        const size_t li = 2 * static_cast<size_t>(i);  // this layer's state tensors: conv, SSM
        const auto h = g.temp(DType::f32, {n, D}, "h");
        sg.rms_norm(x, L.norm, h, eps);
        const auto xs = g.temp(DType::f32, {n, E}, "xs"), z = g.temp(DType::f32, {n, E}, "z");
        sg.matmul(L.in_x, h, xs);
        sg.matmul(L.in_z, h, z);
        const auto u = g.temp(DType::f32, {n, E}, "u");
        g.op("conv1d", {xs, g.constant(L.conv_w), g.constant(L.conv_b)}, {u}, [=](Stream& s, const Tensor* t) {
            for (const detail::SsmRun& r : st->runs)
                ops::causal_conv1d(s, r.rows(t[0]), t[1], t[2], r.rows(t[3]), r.state[li], /*silu=*/true);
        });
        const auto dt_in = g.temp(DType::f32, {n, R}, "dt_in");
        const auto bm = g.temp(DType::f32, {n, N}, "B"), cm = g.temp(DType::f32, {n, N}, "C");
        sg.matmul(L.x_dt, u, dt_in);
        sg.matmul(L.x_b, u, bm);
        sg.matmul(L.x_c, u, cm);
        const auto delta = g.temp(DType::f32, {n, E}, "delta");
        sg.matmul(L.dt_w, dt_in, delta);
        const auto y = g.temp(DType::f32, {n, E}, "y");
        g.op("selective_scan",
             {u, delta, g.constant(L.a), bm, cm, g.constant(L.d), z, g.constant(L.dt_b)}, {y},
             [=](Stream& s, const Tensor* t) {
                 for (const detail::SsmRun& r : st->runs)
                     ops::selective_scan(s, {r.rows(t[0]), r.rows(t[1]), t[2], r.rows(t[3]), r.rows(t[4]), t[5],
                                             r.rows(t[6]), t[7]},
                                         r.rows(t[8]), r.state[li + 1]);
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

Tensor Mamba::forward(Stream& s, Session& session, const std::vector<int32_t>& tokens, bool all_logits) {
    return run(s, {&session}, {tokens}, all_logits);
}

Tensor Mamba::forward_batch(Stream& s, const std::vector<Session*>& sessions,
                            const std::vector<std::vector<int32_t>>& tokens) {
    return run(s, sessions, tokens, /*all_logits=*/true);
}

Tensor Mamba::run(Stream& s, const std::vector<Session*>& sessions, const std::vector<std::vector<int32_t>>& tokens,
                  bool all_logits) {
    // The conv and scan bind rows of u, delta, z, y (E floats) and B, C (N floats).
    return detail::run_recurrent("mamba", s, *parts_, 2, {config_.inner, config_.state}, sessions, tokens,
                                 config_.vocab, all_logits,
                                 [this](detail::SsmPart& part, int64_t n, bool all) -> detail::SsmStep& {
                                     return step_for(part, n, all);
                                 });
}

std::vector<float> Mamba::logits(Session& session, const std::vector<int32_t>& tokens, bool all_logits) {
    Stream s(*device_);
    Tensor out = forward(s, session, tokens, all_logits);
    s.finish();
    return out.to_floats();
}

}  // namespace vkml::models
