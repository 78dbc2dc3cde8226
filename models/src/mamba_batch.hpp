// What the recurrent (Mamba-style) models share on top of StepGraph (internal to models/):
// sessions as lists of per-layer state tensors, a batch of sequences mapped onto runs of the
// conv/scan ops, and the forward that checks the batch, gathers states, records and scatters.
#pragma once

#include <cstdint>
#include <vector>

#include "step_graph.hpp"
#include "vkml/models/mamba.hpp"

namespace vkml::models::detail {

// Rows [row0, row0 + batch * len) of a forward's activations: `batch` sequences of `len`
// tokens each, sequence after sequence, and their state tensors (RecurrentSession layout,
// each [batch, ...]). The conv and scan ops run once per run with batch dimension `batch`.
struct SsmRun {
    int64_t row0 = 0, batch = 1, len = 1;
    std::vector<Tensor> state;
    // The run's rows of an [n, cols] activation as [batch, len, inner...] (inner: {cols}).
    Tensor rows(const Tensor& v, Shape inner = {}) const {
        if (inner.empty()) inner = {v.cols()};
        Shape shape = {batch, len};
        shape.insert(shape.end(), inner.begin(), inner.end());
        return v.row_slice(row0, batch * len).reshape(shape);
    }
};

struct SsmStep : StepGraph {
    using StepGraph::StepGraph;
    std::vector<SsmRun> runs;  // the running batch, set before each recording
};

// A session of zero-filled f32 tensors of these shapes (each [1, ...]); devices[i] holds
// tensor i (one device for all when it has one entry).
RecurrentSession zero_session(const std::vector<std::shared_ptr<Device>>& devices, const std::vector<Shape>& shapes);

// Maps a batch's sequences onto runs. Sequences of one length (two or more) run as one batch
// over copies of their states gathered into [S, ...] tensors, which finish() copies back (the
// tensors are kept for the next batch of the same size). Otherwise each sequence is a run of
// its own on its own state; its rows are then bound at their offsets, which must meet the
// device's storage-offset alignment (the op says so when they do not).
class SsmBatcher {
public:
    std::vector<SsmRun> start(Stream& s, const std::vector<RecurrentSession*>& sessions,
                              const std::vector<int64_t>& lens);
    void finish(Stream& s);

private:
    std::vector<RecurrentSession*> sessions_;
    std::vector<Tensor> gathered_;
    bool active_ = false;
};

// Checks a batch (as many token lists as sessions, none empty, no session twice, each made by
// a model with `state_count` state tensors, ids inside the vocabulary) and returns all ids,
// sequence after sequence.
std::vector<uint32_t> batch_ids(const char* arch, const std::vector<RecurrentSession*>& sessions,
                                const std::vector<std::vector<int32_t>>& tokens, size_t state_count, int64_t vocab);

// One forward of a batch: checks it, records step_for(total tokens, all_logits) with the
// batch's runs, copies gathered states back and advances every session.
template <class StepFor>
Tensor run_recurrent(const char* arch, Stream& s, SsmBatcher& batcher, const std::vector<RecurrentSession*>& sessions,
                     const std::vector<std::vector<int32_t>>& tokens, size_t state_count, int64_t vocab,
                     bool all_logits, StepFor&& step_for) {
    const std::vector<uint32_t> ids = batch_ids(arch, sessions, tokens, state_count, vocab);
    std::vector<int64_t> lens;
    for (const auto& t : tokens) lens.push_back(static_cast<int64_t>(t.size()));
    s.finish();  // earlier work may still read the gathered states or this graph's memory
    SsmStep& step = step_for(static_cast<int64_t>(ids.size()), all_logits);
    step.runs = batcher.start(s, sessions, lens);
    Tensor logits = step.run(s, ids);
    batcher.finish(s);
    for (size_t i = 0; i < sessions.size(); ++i) sessions[i]->pos += lens[i];
    return logits;
}

}  // namespace vkml::models::detail
