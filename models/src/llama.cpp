// The Llama-style decoder as a graph of vkml ops.
#include <algorithm>
#include <atomic>
#include <numeric>

#include "vkml/error.hpp"
#include "vkml/graph.hpp"
#include "vkml/models/llama.hpp"
#include "vkml/ops/elementwise.hpp"
#include "vkml/ops/embed.hpp"
#include "vkml/ops/matmul.hpp"
#include "vkml/ops/norm.hpp"
#include "step_graph.hpp"

namespace vkml::models {

using llama_names::layer;

struct Llama::Weights {
    Tensor tok_embd, output_norm, output;
    struct Layer {
        Tensor attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;
    };
    std::vector<Layer> layers;
};

struct Llama::Part {
    std::shared_ptr<Device> device;
    int64_t first = 0, last = 0;                 // layers [first, last)
    std::vector<std::unique_ptr<Step>> steps;    // graphs by token count, most recent last
    std::unique_ptr<Stream> stream;              // for parts after the first
};

struct Llama::Step : detail::StepGraph {
    using StepGraph::StepGraph;
    // The sequences of the running batch, set by forward_batch() before recording: rows
    // [row0, row0 + n) of the activations belong to `session`, whose cache holds `pos` tokens.
    // Everything but RoPE, the cache write and attention runs on all rows at once.
    struct Segment {
        int64_t row0, n, pos;
        const Session* session;
    };
    std::vector<Segment> segments;
    // For a replayed recording (one sequence): RoPE, the cache write and attention read the
    // positions pos .. pos + n - 1 from this tensor instead of baking segments[0].pos in.
    Tensor positions;
    bool device_positions = false;
};

namespace {

// Matrices keep their file type, in the layout matmul reads fastest on the device (they feed
// nothing else); 1-D weights (norms) are f32 for the norm kernels.
Tensor load_matrix(Device& dev, const WeightSource& w, const std::string& name, const Shape& shape) {
    return upload_matmul_matrix(dev, w.require(name, shape), name);
}

Tensor load_vector(Device& dev, const WeightSource& w, const std::string& name, int64_t n) {
    return upload_weight(dev, w.require(name, {n}), DType::f32, name);
}

}  // namespace

Llama::Llama(Device& device, const WeightSource& w, const LlamaOptions& options)
    : device_(device.shared_from_this()), config_(LlamaConfig::from_gguf(w)), options_(options),
      weights_(std::make_unique<Weights>()) {
    const LlamaConfig& c = config_;
    Weights& W = *weights_;
    const int64_t kvd = c.kv_heads * c.head_dim;
    std::vector<std::shared_ptr<Device>> devices = {device_};
    devices.insert(devices.end(), options.more_devices.begin(), options.more_devices.end());
    if (static_cast<int64_t>(devices.size()) > c.layers)
        throw Error(ErrorKind::InvalidArgument, "llama: " + std::to_string(devices.size()) + " devices for " +
                                                    std::to_string(c.layers) + " layers");
    for (size_t p = 0; p < devices.size(); ++p) {
        auto part = std::make_unique<Part>();
        part->device = devices[p];
        part->first = c.layers * static_cast<int64_t>(p) / static_cast<int64_t>(devices.size());
        part->last = c.layers * static_cast<int64_t>(p + 1) / static_cast<int64_t>(devices.size());
        if (p > 0) part->stream = std::make_unique<Stream>(*part->device);
        for (int64_t i = part->first; i < part->last; ++i) layer_part_.push_back(p);
        parts_.push_back(std::move(part));
    }
    Device& first = *parts_.front()->device;
    Device& last = *parts_.back()->device;
    // The token table feeds a gather kernel that reads f32 or f16 rows.
    const WeightInfo emb = w.require("token_embd.weight", {c.vocab, c.dim});
    const DType table_type = emb.dtype == DType::f32 || !first.caps().fp16_storage ? DType::f32 : DType::f16;
    W.tok_embd = upload_weight(first, emb, table_type, "token_embd.weight");
    W.output_norm = load_vector(last, w, "output_norm.weight", c.dim);
    if (!c.tied_output) W.output = load_matrix(last, w, "output.weight", {c.vocab, c.dim});
    else W.output = &last == &first ? W.tok_embd : upload_weight(last, emb, table_type, "token_embd.weight");
    for (int64_t i = 0; i < c.layers; ++i) {
        Device& dev = *parts_[layer_part_[static_cast<size_t>(i)]]->device;
        Weights::Layer l;
        l.attn_norm = load_vector(dev, w, layer(i, "attn_norm.weight"), c.dim);
        l.wq = load_matrix(dev, w, layer(i, "attn_q.weight"), {c.dim, c.dim});
        l.wk = load_matrix(dev, w, layer(i, "attn_k.weight"), {kvd, c.dim});
        l.wv = load_matrix(dev, w, layer(i, "attn_v.weight"), {kvd, c.dim});
        l.wo = load_matrix(dev, w, layer(i, "attn_output.weight"), {c.dim, c.dim});
        l.ffn_norm = load_vector(dev, w, layer(i, "ffn_norm.weight"), c.dim);
        l.w_gate = load_matrix(dev, w, layer(i, "ffn_gate.weight"), {c.ffn, c.dim});
        l.w_up = load_matrix(dev, w, layer(i, "ffn_up.weight"), {c.ffn, c.dim});
        l.w_down = load_matrix(dev, w, layer(i, "ffn_down.weight"), {c.dim, c.ffn});
        W.layers.push_back(std::move(l));
        if (options.progress) options.progress(i + 1, c.layers);
    }
}

Llama::~Llama() = default;

Llama::Session Llama::new_session() const {
    static std::atomic<uint64_t> next_id{1};
    Session s;
    s.id = next_id++;
    s.max_context = options_.max_context > 0 ? options_.max_context : config_.context;
    for (int64_t i = 0; i < config_.layers; ++i) {
        Device& dev = *parts_[layer_part_[static_cast<size_t>(i)]]->device;  // the cache sits with its layer
        s.k.push_back(Tensor::empty(dev, DType::f16, {s.max_context, config_.kv_heads, config_.head_dim}));
        s.v.push_back(Tensor::empty(dev, DType::f16, {s.max_context, config_.kv_heads, config_.head_dim}));
    }
    return s;
}

Llama::Step& Llama::step_for(Part& part, int64_t n, bool all_logits) {
    if (Step* cached = detail::find_step(part.steps, n, all_logits)) return *cached;
    const LlamaConfig& c = config_;
    const Weights& W = *weights_;
    Device& dev = *part.device;
    const bool first_part = &part == parts_.front().get(), last_part = &part == parts_.back().get();
    auto step = std::make_unique<Step>(dev, n, all_logits);
    Step& st = *step;
    st.positions = Tensor::empty(dev, DType::u32, {n});
    Graph& g = st.graph;
    const int64_t d = c.dim, hd = c.head_dim, kvd = c.kv_heads * hd;
    const ops::RopeOptions rope{c.rope, c.rope_theta, c.rope_dims, 1.0f};
    const float eps = c.norm_eps;

    const auto x = first_part ? st.embed(W.tok_embd, d) : st.input_x(dev, d);
    for (int64_t i = part.first; i < part.last; ++i) {
        const Weights::Layer& L = W.layers[i];
        const auto h = g.temp(DType::f32, {n, d}, "h");
        st.rms_norm(x, L.attn_norm, h, eps);
        const auto q = g.temp(DType::f32, {n, d}, "q");
        const auto k = g.temp(DType::f32, {n, kvd}, "k");
        const auto v = g.temp(DType::f32, {n, kvd}, "v");
        st.matmul(L.wq, h, q);
        st.matmul(L.wk, h, k);
        st.matmul(L.wv, h, v);
        const int64_t heads = c.heads, kv_heads = c.kv_heads;
        const Step* sp = step.get();
        g.op("rope", {q, k}, {q, k}, [=](Stream& s, const Tensor* t) {
            for (const Step::Segment& seg : sp->segments) {
                const Tensor q3 = t[0].row_slice(seg.row0, seg.n).reshape({seg.n, heads, hd});
                const Tensor k3 = t[1].row_slice(seg.row0, seg.n).reshape({seg.n, kv_heads, hd});
                if (sp->device_positions) {
                    ops::rope(s, q3, q3, sp->positions, rope);
                    ops::rope(s, k3, k3, sp->positions, rope);
                } else {
                    ops::rope(s, q3, q3, seg.pos, rope);
                    ops::rope(s, k3, k3, seg.pos, rope);
                }
            }
        });
        const auto att = g.temp(DType::f32, {n, d}, "att");
        const size_t li = static_cast<size_t>(i);
        g.op("attention", {k, v, q}, {att}, [=](Stream& s, const Tensor* t) {
            for (const Step::Segment& seg : sp->segments) {
                auto rows = [&](const Tensor& x, int64_t h) { return x.row_slice(seg.row0, seg.n).reshape({seg.n, h, hd}); };
                const Tensor& kc = seg.session->k[li];
                const Tensor& vc = seg.session->v[li];
                if (sp->device_positions) {
                    ops::kv_cache_write(s, rows(t[0], kv_heads), rows(t[1], kv_heads), kc, vc, sp->positions);
                    ops::attention(s, rows(t[2], heads), kc, vc, sp->positions, rows(t[3], heads));
                } else {
                    ops::kv_cache_write(s, rows(t[0], kv_heads), rows(t[1], kv_heads), kc, vc, seg.pos);
                    ops::attention(s, rows(t[2], heads), kc, vc, seg.pos + seg.n, rows(t[3], heads));
                }
            }
        });
        const auto o = g.temp(DType::f32, {n, d}, "o");
        st.matmul(L.wo, att, o);
        g.op("add", {x, o}, {x}, [](Stream& s, const Tensor* t) { ops::add(s, t[0], t[1], t[2]); });
        const auto h2 = g.temp(DType::f32, {n, d}, "h2");
        st.rms_norm(x, L.ffn_norm, h2, eps);
        const auto gate = g.temp(DType::f32, {n, c.ffn}, "gate");
        const auto up = g.temp(DType::f32, {n, c.ffn}, "up");
        st.matmul(L.w_gate, h2, gate);
        st.matmul(L.w_up, h2, up);
        g.op("swiglu", {gate, up}, {gate}, [](Stream& s, const Tensor* t) {
            ops::silu(s, t[0], t[0]);
            ops::mul(s, t[0], t[1], t[2]);
        });
        const auto down = g.temp(DType::f32, {n, d}, "down");
        st.matmul(L.w_down, gate, down);
        g.op("add", {x, down}, {x}, [](Stream& s, const Tensor* t) { ops::add(s, t[0], t[1], t[2]); });
    }
    if (last_part)
        st.finish(dev, x, W.output_norm, eps, W.output, d, c.vocab);
    else
        st.finish_partial(dev, x);
    return detail::add_step(part.steps, std::move(step));
}

}  // namespace vkml::models

namespace vkml::models {

Tensor Llama::forward(Stream& s, Session& session, const std::vector<int32_t>& tokens, bool all_logits) {
    return run(s, {&session}, {tokens}, all_logits);
}

Tensor Llama::forward_batch(Stream& s, const std::vector<Session*>& sessions,
                            const std::vector<std::vector<int32_t>>& tokens) {
    return run(s, sessions, tokens, /*all_logits=*/true);
}

Tensor Llama::run(Stream& s, const std::vector<Session*>& sessions, const std::vector<std::vector<int32_t>>& tokens,
                  bool all_logits) {
    if (sessions.empty() || sessions.size() != tokens.size())
        throw Error(ErrorKind::InvalidArgument, "llama: " + std::to_string(sessions.size()) + " sessions for " +
                                                    std::to_string(tokens.size()) + " token lists");
    std::vector<Step::Segment> segments;
    std::vector<int32_t> all;
    for (size_t i = 0; i < sessions.size(); ++i) {
        Session& session = *sessions[i];
        const int64_t n = static_cast<int64_t>(tokens[i].size());
        if (n == 0) throw Error(ErrorKind::InvalidArgument, "llama: sequence " + std::to_string(i) + " has no tokens");
        if (static_cast<int64_t>(session.k.size()) != config_.layers)
            throw Error(ErrorKind::InvalidArgument, "llama: the session was not made by this model");
        for (size_t j = 0; j < i; ++j)
            if (sessions[j] == sessions[i])
                throw Error(ErrorKind::InvalidArgument, "llama: a session appears twice in one batch");
        if (session.pos + n > session.max_context)
            throw Error(ErrorKind::InvalidArgument, "llama: " + std::to_string(n) + " tokens at position " +
                                                        std::to_string(session.pos) + " exceed the context of " +
                                                        std::to_string(session.max_context));
        segments.push_back({static_cast<int64_t>(all.size()), n, session.pos, &session});
        all.insert(all.end(), tokens[i].begin(), tokens[i].end());
    }
    const std::vector<uint32_t> ids = detail::checked_ids("llama", all, config_.vocab);
    const int64_t n = static_cast<int64_t>(ids.size());
    if (replayable(s, sessions)) {
        Session& session = *sessions.front();
        Step& step = step_for(*parts_.front(), n, all_logits);
        step.segments = segments;
        std::vector<uint32_t> pos(static_cast<size_t>(n));
        std::iota(pos.begin(), pos.end(), static_cast<uint32_t>(session.pos));
        step.positions.upload(pos.data(), pos.size() * 4);
        step.device_positions = true;
        Tensor logits = step.run_replayed(s, ids, session.id);
        session.pos += n;
        return logits;
    }
    Tensor logits;
    std::vector<float> x;  // activations crossing to the next device
    for (size_t p = 0; p < parts_.size(); ++p) {
        Part& part = *parts_[p];
        Step& step = step_for(part, n, all_logits);
        step.segments = segments;
        step.device_positions = false;
        Stream& ps = p == 0 ? s : *part.stream;
        if (p == 0) {
            Tensor out = step.run(s, ids);
            if (parts_.size() == 1) logits = out;
        } else {
            step.run_from(ps, x);
        }
        if (p + 1 < parts_.size()) {
            ps.finish();
            x = step.graph.tensor(step.x_out).to_floats();
        } else {
            if (p > 0) {
                ps.finish();
                logits = step.graph.tensor(step.logits);
            }
        }
    }
    for (size_t i = 0; i < sessions.size(); ++i) sessions[i]->pos += static_cast<int64_t>(tokens[i].size());
    return logits;
}

// One sequence on one device, with caches that bind whole (the position-reading ops need it),
// on a stream that is not being timed (a replay runs on the model's own stream).
bool Llama::replayable(const Stream& s, const std::vector<Session*>& sessions) const {
    if (!options_.replay || sessions.size() != 1 || parts_.size() != 1 || s.timing()) return false;
    const Session& session = *sessions.front();
    return session.id != 0 && !session.k.empty() &&
           session.k.front().bytes() <= device_->caps().max_storage_buffer_range;
}

std::vector<float> Llama::logits(Session& session, const std::vector<int32_t>& tokens, bool all_logits) {
    Stream s(*device_);
    Tensor out = forward(s, session, tokens, all_logits);
    s.finish();
    return out.to_floats();
}

}  // namespace vkml::models
