#include "mamba_batch.hpp"

#include <algorithm>
#include <atomic>
#include <string>

#include "vkml/error.hpp"

namespace vkml::models::detail {

namespace {

// Sequence b's part of a gathered [S, ...] tensor.
Tensor part_of(const Tensor& gathered, int64_t batch, int64_t b) {
    return gathered.reshape({batch, gathered.numel() / batch}).row_slice(b, 1);
}

}  // namespace

std::vector<SsmRun> SsmBatcher::start(Stream& s, const std::vector<RecurrentSession*>& sessions,
                                      const std::vector<int64_t>& lens, size_t first, size_t last) {
    sessions_ = sessions;
    active_ = false;
    std::vector<SsmRun> runs;
    bool equal = sessions.size() > 1;
    for (int64_t len : lens) equal = equal && len == lens.front();
    if (!equal) {
        int64_t row0 = 0;
        for (size_t i = 0; i < sessions.size(); ++i) {
            runs.push_back({row0, 1, lens[i], sessions[i]->state});
            row0 += lens[i];
        }
        return runs;
    }
    const int64_t batch = static_cast<int64_t>(sessions.size());
    const std::vector<Tensor>& one = sessions.front()->state;
    bool reuse = gathered_.size() == one.size() && first_ == first && last_ == last;
    for (size_t j = first; reuse && j < last; ++j)
        reuse = gathered_[j].dim(0) == batch && gathered_[j].numel() == batch * one[j].numel() &&
                &gathered_[j].device() == &one[j].device();
    if (!reuse) {
        gathered_.assign(one.size(), Tensor{});
        for (size_t j = first; j < last; ++j) {
            Shape shape = one[j].shape();
            shape[0] = batch;
            gathered_[j] = Tensor::empty(one[j].device(), DType::f32, shape);
        }
        first_ = first;
        last_ = last;
    }
    for (int64_t b = 0; b < batch; ++b)
        for (size_t j = first; j < last; ++j)
            s.copy(sessions[static_cast<size_t>(b)]->state[j], part_of(gathered_[j], batch, b));
    active_ = true;
    runs.push_back({0, batch, lens.front(), gathered_});
    return runs;
}

void SsmBatcher::finish(Stream& s) {
    if (!active_) return;
    const int64_t batch = static_cast<int64_t>(sessions_.size());
    for (int64_t b = 0; b < batch; ++b)
        for (size_t j = first_; j < last_; ++j)
            s.copy(part_of(gathered_[j], batch, b), sessions_[static_cast<size_t>(b)]->state[j]);
    active_ = false;
}

SsmParts::SsmParts(const char* arch, Device& device, const RecurrentOptions& options, int64_t layers)
    : replay(options.replay) {
    std::vector<std::shared_ptr<Device>> devices = {device.shared_from_this()};
    devices.insert(devices.end(), options.more_devices.begin(), options.more_devices.end());
    const int64_t count = static_cast<int64_t>(devices.size());
    if (count > layers)
        throw Error(ErrorKind::InvalidArgument, std::string(arch) + ": " + std::to_string(count) + " devices for " +
                                                    std::to_string(layers) + " layers");
    for (int64_t p = 0; p < count; ++p) {
        auto part = std::make_unique<SsmPart>();
        part->device = devices[static_cast<size_t>(p)];
        part->first = layers * p / count;
        part->last = layers * (p + 1) / count;
        if (p > 0) part->stream = std::make_unique<Stream>(*part->device);
        for (int64_t i = part->first; i < part->last; ++i) layer_part.push_back(static_cast<size_t>(p));
        parts.push_back(std::move(part));
    }
}

RecurrentSession SsmParts::zero_session(const std::vector<Shape>& per_layer) const {
    static std::atomic<uint64_t> next_id{1};
    RecurrentSession s;
    s.id = next_id++;
    for (const auto& part : parts) {
        Stream z(*part->device);
        for (int64_t i = part->first; i < part->last; ++i)
            for (const Shape& shape : per_layer) {
                s.state.push_back(Tensor::empty(*part->device, DType::f32, shape));
                z.fill_zero(s.state.back());
            }
        z.finish();
    }
    return s;
}

SsmEnds load_ends(const WeightSource& w, const SsmParts& parts, int64_t vocab, int64_t dim, bool tied) {
    SsmEnds e;
    Device& first = parts.first();
    Device& last = parts.last();
    const WeightInfo emb = w.require("token_embd.weight", {vocab, dim});
    const DType table_type = emb.dtype == DType::f32 || !first.caps().fp16_storage ? DType::f32 : DType::f16;
    e.tok_embd = upload_weight(first, emb, table_type, "token_embd.weight");
    e.output_norm = upload_weight(last, w.require("output_norm.weight", {dim}), DType::f32, "output_norm.weight");
    if (!tied) {
        const WeightInfo o = w.require("output.weight", {vocab, dim});
        e.output = upload_matmul_matrix(last, o, "output.weight");  // feeds matmul alone
    } else {
        e.output = &last == &first ? e.tok_embd : upload_weight(last, emb, table_type, "token_embd.weight");
    }
    return e;
}

std::vector<uint32_t> batch_ids(const char* arch, const std::vector<RecurrentSession*>& sessions,
                                const std::vector<std::vector<int32_t>>& tokens, size_t state_count, int64_t vocab) {
    const std::string a = arch;
    if (sessions.empty() || sessions.size() != tokens.size())
        throw Error(ErrorKind::InvalidArgument, a + ": " + std::to_string(sessions.size()) + " sessions for " +
                                                    std::to_string(tokens.size()) + " token lists");
    std::vector<int32_t> all;
    for (size_t i = 0; i < sessions.size(); ++i) {
        if (tokens[i].empty())
            throw Error(ErrorKind::InvalidArgument, a + ": sequence " + std::to_string(i) + " has no tokens");
        if (!sessions[i] || sessions[i]->state.size() != state_count)
            throw Error(ErrorKind::InvalidArgument, a + ": the session was not made by this model");
        for (size_t j = 0; j < i; ++j)
            if (sessions[j] == sessions[i])
                throw Error(ErrorKind::InvalidArgument, a + ": a session appears twice in one batch");
        all.insert(all.end(), tokens[i].begin(), tokens[i].end());
    }
    return checked_ids(arch, all, vocab);
}

namespace {

// Sequences of unequal lengths bind their own rows: each must start at an aligned offset.
void check_rows(const char* arch, const SsmParts& parts, const std::vector<int64_t>& lens,
                const std::vector<int64_t>& row_widths) {
    bool equal = lens.size() > 1;
    for (int64_t len : lens) equal = equal && len == lens.front();
    if (equal) return;
    int64_t row0 = 0;
    for (size_t i = 0; i < lens.size(); row0 += lens[i], ++i)
        for (const auto& part : parts.parts) {
            const uint64_t align = std::max<uint64_t>(part->device->caps().min_storage_offset_alignment, 1);
            for (int64_t w : row_widths)
                if (static_cast<uint64_t>(row0 * w * 4) % align != 0)
                    throw Error(ErrorKind::InvalidArgument,
                                std::string(arch) + ": in a batch of unequal lengths, sequence " + std::to_string(i) +
                                    " starts at row " + std::to_string(row0) + ", and rows of " + std::to_string(w) +
                                    " floats there are not at a multiple of the device's storage-offset alignment " +
                                    std::to_string(align) + " bytes; batch sequences of equal lengths, or run them apart");
        }
}

}  // namespace

Tensor run_recurrent(const char* arch, Stream& s, SsmParts& parts, size_t per_layer,
                     const std::vector<int64_t>& row_widths, const std::vector<RecurrentSession*>& sessions,
                     const std::vector<std::vector<int32_t>>& tokens, int64_t vocab, bool all_logits,
                     const SsmStepFor& step_for) {
    const size_t states = per_layer * static_cast<size_t>(parts.parts.back()->last);
    const std::vector<uint32_t> ids = batch_ids(arch, sessions, tokens, states, vocab);
    std::vector<int64_t> lens;
    for (const auto& t : tokens) lens.push_back(static_cast<int64_t>(t.size()));
    check_rows(arch, parts, lens, row_widths);
    const int64_t n = static_cast<int64_t>(ids.size());
    if (parts.replay && sessions.size() == 1 && parts.parts.size() == 1 && !s.timing() && sessions[0]->id != 0) {
        // The recording binds this session's state tensors: replayed while the session is the same.
        SsmStep& step = step_for(*parts.parts[0], n, all_logits);
        step.runs = {SsmRun{0, 1, n, sessions[0]->state}};
        Tensor logits = step.run_replayed(s, ids, sessions[0]->id);
        sessions[0]->pos += n;
        return logits;
    }
    Tensor logits;
    std::vector<float> x;  // activations crossing to the next device
    for (size_t p = 0; p < parts.parts.size(); ++p) {
        SsmPart& part = *parts.parts[p];
        const bool last = p + 1 == parts.parts.size();
        Stream& ps = p == 0 ? s : *part.stream;
        ps.finish();  // earlier work may still read the gathered states or this graph's memory
        SsmStep& step = step_for(part, n, all_logits);
        step.runs = part.batcher.start(ps, sessions, lens, per_layer * static_cast<size_t>(part.first),
                                       per_layer * static_cast<size_t>(part.last));
        if (p == 0) logits = step.run(ps, ids);
        else step.run_from(ps, x);
        part.batcher.finish(ps);
        if (!last) {
            ps.finish();
            x = step.graph.tensor(step.x_out).to_floats();
        } else if (p > 0) {
            ps.finish();
            logits = step.graph.tensor(step.logits);
        }
    }
    for (size_t i = 0; i < sessions.size(); ++i) sessions[i]->pos += lens[i];
    return logits;
}

}  // namespace vkml::models::detail
