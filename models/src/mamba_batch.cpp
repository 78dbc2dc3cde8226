#include "mamba_batch.hpp"

#include <string>

#include "vkml/error.hpp"

namespace vkml::models::detail {

RecurrentSession zero_session(const std::vector<std::shared_ptr<Device>>& devices, const std::vector<Shape>& shapes) {
    RecurrentSession s;
    std::vector<std::unique_ptr<Stream>> streams;  // one per device, in order of first use
    std::vector<Device*> stream_devices;
    for (size_t i = 0; i < shapes.size(); ++i) {
        Device& dev = *devices[devices.size() == 1 ? 0 : i];
        size_t k = 0;
        while (k < stream_devices.size() && stream_devices[k] != &dev) ++k;
        if (k == stream_devices.size()) {
            stream_devices.push_back(&dev);
            streams.push_back(std::make_unique<Stream>(dev));
        }
        s.state.push_back(Tensor::empty(dev, DType::f32, shapes[i]));
        streams[k]->fill_zero(s.state.back());
    }
    for (auto& z : streams) z->finish();
    return s;
}

namespace {

// Sequence b's part of a gathered [S, ...] tensor.
Tensor part_of(const Tensor& gathered, int64_t batch, int64_t b) {
    return gathered.reshape({batch, gathered.numel() / batch}).row_slice(b, 1);
}

}  // namespace

std::vector<SsmRun> SsmBatcher::start(Stream& s, const std::vector<RecurrentSession*>& sessions,
                                      const std::vector<int64_t>& lens) {
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
    const std::vector<Tensor>& first = sessions.front()->state;
    bool reuse = gathered_.size() == first.size();
    for (size_t j = 0; reuse && j < first.size(); ++j)
        reuse = gathered_[j].dim(0) == batch && gathered_[j].numel() == batch * first[j].numel() &&
                &gathered_[j].device() == &first[j].device();
    if (!reuse) {
        gathered_.clear();
        for (const Tensor& t : first) {
            Shape shape = t.shape();
            shape[0] = batch;
            gathered_.push_back(Tensor::empty(t.device(), DType::f32, shape));
        }
    }
    for (int64_t b = 0; b < batch; ++b)
        for (size_t j = 0; j < first.size(); ++j)
            s.copy(sessions[static_cast<size_t>(b)]->state[j], part_of(gathered_[j], batch, b));
    active_ = true;
    runs.push_back({0, batch, lens.front(), gathered_});
    return runs;
}

void SsmBatcher::finish(Stream& s) {
    if (!active_) return;
    const int64_t batch = static_cast<int64_t>(sessions_.size());
    for (int64_t b = 0; b < batch; ++b)
        for (size_t j = 0; j < gathered_.size(); ++j)
            s.copy(part_of(gathered_[j], batch, b), sessions_[static_cast<size_t>(b)]->state[j]);
    active_ = false;
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

}  // namespace vkml::models::detail
