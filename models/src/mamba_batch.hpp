// What the recurrent (Mamba-style) models share on top of StepGraph (internal to models/):
// sessions as lists of per-layer state tensors; a batch of sequences mapped onto runs of the
// conv/scan ops; layers split over devices; and the forward that checks the batch, gathers
// states, records each device's graph and hands the activations on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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

// Maps a batch's sequences onto runs, for the state tensors [first, last) of the sessions.
// Sequences of one length (two or more) run as one batch over copies of their states gathered
// into [S, ...] tensors, which finish() copies back (the tensors are kept for the next batch of
// the same size). Otherwise each sequence is a run of its own on its own state; its rows are
// then bound at their offsets, which must meet the device's storage-offset alignment
// (run_recurrent checks that before recording anything).
class SsmBatcher {
public:
    std::vector<SsmRun> start(Stream& s, const std::vector<RecurrentSession*>& sessions,
                              const std::vector<int64_t>& lens, size_t first, size_t last);
    void finish(Stream& s);

private:
    std::vector<RecurrentSession*> sessions_;
    std::vector<Tensor> gathered_;
    size_t first_ = 0, last_ = 0;
    bool active_ = false;
};

// The layers [first, last) that one device runs, with its cached graphs.
struct SsmPart {
    std::shared_ptr<Device> device;
    int64_t first = 0, last = 0;
    std::vector<std::unique_ptr<SsmStep>> steps;  // graphs by token count, most recent last
    std::unique_ptr<Stream> stream;               // for parts after the first
    SsmBatcher batcher;
};

// A model's layers split into contiguous ranges over `device` and `more` (in order); with no
// more devices, one part holds them all.
struct SsmParts {
    std::vector<std::unique_ptr<SsmPart>> parts;
    std::vector<size_t> layer_part;  // which part runs each layer
    bool replay = true;              // RecurrentOptions::replay
    SsmParts(const char* arch, Device& device, const RecurrentOptions& options, int64_t layers);
    Device& first() const { return *parts.front()->device; }
    Device& last() const { return *parts.back()->device; }
    Device& of_layer(int64_t i) const { return *parts[layer_part[static_cast<size_t>(i)]]->device; }
    // A session of zero-filled f32 tensors: `per_layer` shapes for each layer, on its device.
    RecurrentSession zero_session(const std::vector<Shape>& per_layer) const;
};

// The token table (on the first device, f32 or f16 for the gather kernel), the final norm and
// the LM head (on the last device; the token table again when the head is tied).
struct SsmEnds {
    Tensor tok_embd, output_norm, output;
};
SsmEnds load_ends(const WeightSource& w, const SsmParts& parts, int64_t vocab, int64_t dim, bool tied);

// Checks a batch (as many token lists as sessions, none empty, no session twice, each made by
// a model with `state_count` state tensors, ids inside the vocabulary) and returns all ids,
// sequence after sequence.
std::vector<uint32_t> batch_ids(const char* arch, const std::vector<RecurrentSession*>& sessions,
                                const std::vector<std::vector<int32_t>>& tokens, size_t state_count, int64_t vocab);

using SsmStepFor = std::function<SsmStep&(SsmPart& part, int64_t n, bool all_logits)>;

// One forward of a batch: checks it (with `row_widths`, the widths in floats of the
// activations the conv and scan ops bind per sequence, for batches of unequal lengths); per part, gathers the states it needs, records
// step_for(part, total tokens, all_logits) (the first part from the ids, the others from
// the previous part's activations, through the host) and copies the states back; advances every
// session. The logits are valid once `s` has finished (at once when split over devices or
// replayed: one sequence on one device, RecurrentOptions::replay, `s` not timed).
Tensor run_recurrent(const char* arch, Stream& s, SsmParts& parts, size_t per_layer,
                     const std::vector<int64_t>& row_widths, const std::vector<RecurrentSession*>& sessions,
                     const std::vector<std::vector<int32_t>>& tokens, int64_t vocab, bool all_logits,
                     const SsmStepFor& step_for);

}  // namespace vkml::models::detail
