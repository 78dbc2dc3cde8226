// What every language model's forward graph shares (internal to models/): token ids in, the
// embedding gather, the final RMSNorm and LM head out, a cache of graphs by token count, and
// running a step. Llama and Mamba add their layers and per-session state on top.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "vkml/error.hpp"
#include "vkml/graph.hpp"
#include "vkml/ops/embed.hpp"
#include "vkml/ops/matmul.hpp"
#include "vkml/ops/norm.hpp"

namespace vkml::models::detail {

struct StepGraph {
    int64_t n = 0;
    bool all_logits = false;
    Graph graph;
    Graph::Value ids = 0, logits = 0;
    Tensor ids_tensor;
    bool has_ids = false;
    // For a graph that continues another device's layers: x arrives in x_in, and a graph that
    // hands on to another device leaves its x in x_out.
    Graph::Value x_out = 0;
    Tensor x_in;
    Device* device = nullptr;
    StepGraph(Device& d, int64_t tokens, bool all) : n(tokens), all_logits(all), graph(d), device(&d) {}

    // The token-id input and x = table[ids] (f32 [n, dim]).
    Graph::Value embed(const Tensor& table, int64_t dim) {
        ids = graph.input(DType::u32, {n}, "ids");
        has_ids = true;
        const auto x = graph.temp(DType::f32, {n, dim}, "x");
        graph.op("embed", {graph.constant(table), ids}, {x},
                 [](Stream& s, const Tensor* t) { ops::embed(s, t[0], t[1], t[2]); });
        return x;
    }
    void matmul(const Tensor& w, Graph::Value in, Graph::Value out) {
        graph.op("matmul", {graph.constant(w), in}, {out},
                 [](Stream& s, const Tensor* t) { ops::matmul(s, t[0], t[1], t[2]); });
    }
    void rms_norm(Graph::Value x, const Tensor& w, Graph::Value y, float eps) {
        graph.op("rms_norm", {x, graph.constant(w)}, {y},
                 [eps](Stream& s, const Tensor* t) { ops::rms_norm(s, t[0], t[1], t[2], eps); });
    }
    // Final norm and LM head (all rows, or the last one), then plans the graph.
    void finish(Device& dev, Graph::Value x, const Tensor& norm, float eps, const Tensor& head, int64_t dim,
                int64_t vocab) {
        const auto normed = graph.temp(DType::f32, {n, dim}, "normed");
        rms_norm(x, norm, normed, eps);
        logits = graph.temp(DType::f32, {all_logits ? n : 1, vocab}, "logits");
        matmul(head, all_logits ? normed : graph.view(normed, {1, dim}, n - 1), logits);
        graph.keep(logits);
        plan(dev);
    }
    // x from the previous device's layers, uploaded by the model before recording.
    Graph::Value input_x(Device& dev, int64_t dim) {
        x_in = Tensor::empty(dev, DType::f32, {n, dim});
        const auto x = graph.input(DType::f32, {n, dim}, "x_in");
        x_in_value = x;
        return x;
    }
    // Ends a graph whose x goes on to the next device.
    void finish_partial(Device& dev, Graph::Value x) {
        x_out = x;
        graph.keep(x);
        plan(dev);
    }
    void plan(Device& dev) {
        graph.plan();
        if (has_ids) {
            ids_tensor = Tensor::empty(dev, DType::u32, {n});
            graph.bind(ids, ids_tensor);
        }
        if (x_in) graph.bind(x_in_value, x_in);
    }
    Graph::Value x_in_value = 0;
    // Uploads the ids (after the stream's earlier work, which may still read this graph's
    // memory) and records the graph; the logits are ready once the stream finishes.
    Tensor run(Stream& s, const std::vector<uint32_t>& token_ids) {
        s.finish();
        ids_tensor.upload(token_ids.data(), token_ids.size() * 4);
        graph.record(s);
        return graph.tensor(logits);
    }
    // Records a graph that starts from another device's x (host copy, f32 [n, dim]).
    void run_from(Stream& s, const std::vector<float>& x) {
        s.finish();
        x_in.upload(x.data(), x.size() * 4);
        graph.record(s);
    }
    // Runs the graph from a recording of its own, recorded on first use and submitted again while
    // `key` (whatever the recording bakes in, e.g. a session's caches) stays the same, so a decode
    // step costs a submit instead of a recording. Whatever changes between steps must be read on
    // the device (ids, positions). Synchronous: the logits are ready on return. After `s`'s
    // earlier work, which may still read this graph's memory.
    Tensor run_replayed(Stream& s, const std::vector<uint32_t>& token_ids, uint64_t key) {
        s.finish();
        ids_tensor.upload(token_ids.data(), token_ids.size() * 4);
        if (replay_stream && replay_key == key) {
            replay_stream->replay();
        } else {
            replay_key = 0;
            try {
                if (!replay_stream) replay_stream = std::make_unique<Stream>(*device);
                graph.record(*replay_stream);
                replay_stream->finish();
            } catch (...) {
                replay_stream.reset();  // a half-made recording must never be submitted
                throw;
            }
            replay_key = key;
        }
        return graph.tensor(logits);
    }
    // Declared after `graph`: destroyed (waiting for its work) before the memory it records.
    std::unique_ptr<Stream> replay_stream;
    uint64_t replay_key = 0;
};

// Token ids checked against the vocabulary (the gather kernel cannot report a bad id).
inline std::vector<uint32_t> checked_ids(const char* arch, const std::vector<int32_t>& tokens, int64_t vocab) {
    if (tokens.empty()) throw Error(ErrorKind::InvalidArgument, std::string(arch) + ": forward of no tokens");
    std::vector<uint32_t> ids(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= vocab)
            throw Error(ErrorKind::InvalidArgument, std::string(arch) + ": token id " + std::to_string(tokens[i]) +
                                                        " is outside the vocabulary of " + std::to_string(vocab));
        ids[i] = static_cast<uint32_t>(tokens[i]);
    }
    return ids;
}

// A model keeps its most recently used graphs by (token count, all_logits), most recent last:
// decode (n = 1) and a few prompt sizes stay built.
template <class Step>
Step* find_step(std::vector<std::unique_ptr<Step>>& steps, int64_t n, bool all_logits) {
    for (auto it = steps.begin(); it != steps.end(); ++it)
        if ((*it)->n == n && (*it)->all_logits == all_logits) {
            std::rotate(it, it + 1, steps.end());
            return steps.back().get();
        }
    return nullptr;
}

template <class Step>
Step& add_step(std::vector<std::unique_ptr<Step>>& steps, std::unique_ptr<Step> step) {
    constexpr size_t kKeep = 4;
    if (steps.size() >= kKeep) steps.erase(steps.begin());
    steps.push_back(std::move(step));
    return *steps.back();
}

}  // namespace vkml::models::detail
