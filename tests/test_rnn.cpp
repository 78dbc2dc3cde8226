// Head-wise LSTM, GRU and sLSTM against the sequential reference: lengths 1..4096, odd head
// sizes, recurrent weights in shared and in global memory, prefill then steps, bad shapes.
#include <cmath>

#include "vkml/ops/rnn.hpp"
#include "vkml/reference/rnn.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class Rnn : public VkmlTest {};

Tensor f32(Device& dev, Shape shape, const std::vector<float>& v) {
    return Tensor::from_floats(dev, DType::f32, std::move(shape), v);
}

constexpr ops::RnnCell kCells[] = {ops::RnnCell::Lstm, ops::RnnCell::Gru, ops::RnnCell::Slstm};

reference::RnnCellRef ref_cell(ops::RnnCell c) {
    return c == ops::RnnCell::Lstm ? reference::RnnCellRef::Lstm
           : c == ops::RnnCell::Gru ? reference::RnnCellRef::Gru
                                    : reference::RnnCellRef::Slstm;
}

// A valid starting state: random y, c; for sLSTM a positive normalizer n and any stabilizer m.
std::vector<float> initial_state(ops::RnnCell cell, int64_t batch, int64_t heads, int64_t dh, uint32_t seed, bool zero) {
    const int64_t ns = ops::rnn_state_count(cell);
    std::vector<float> st = random_floats(batch * ns * heads * dh, seed);
    if (zero) return std::vector<float>(st.size(), 0.0f);
    if (cell == ops::RnnCell::Slstm)
        for (int64_t b = 0; b < batch; ++b)
            for (int64_t i = 0; i < heads * dh; ++i) st[(b * ns + 2) * heads * dh + i] += 1.5f;
    return st;
}

struct Weights {
    std::vector<float> R, bias;
};
Weights make_weights(ops::RnnCell cell, int64_t heads, int64_t dh, uint32_t seed) {
    const float r = 1.0f / std::sqrt(static_cast<float>(dh));
    return {random_floats(heads * ops::rnn_recurrent_gates(cell) * dh * dh, seed, -r, r),
            random_floats(4 * heads * dh, seed + 1, -0.5f, 0.5f)};
}

TEST_F(Rnn, SequenceMatchesReference) {
    struct Case { int64_t batch, len, heads, dh; bool zero_state; };
    // dh = 64 puts the recurrent weights (64 KiB) in global memory on a 32 KiB-shared device.
    const Case cases[] = {{2, 1, 3, 8, false}, {1, 7, 2, 5, true}, {5, 64, 2, 16, false},
                          {1, 1000, 1, 7, false}, {1, 4096, 1, 3, true}, {3, 9, 2, 64, false}};
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        uint32_t seed = 3;
        for (ops::RnnCell cell : kCells)
            for (const Case& c : cases) {
                SCOPED_TRACE(testing::Message() << "cell=" << static_cast<int>(cell) << " Bt=" << c.batch << " L=" << c.len
                                                << " H=" << c.heads << " dh=" << c.dh);
                const int64_t gw = ops::rnn_input_gates(cell), ns = ops::rnn_state_count(cell);
                const Weights w = make_weights(cell, c.heads, c.dh, seed += 10);
                const auto wx = random_floats(c.batch * c.len * gw * c.heads * c.dh, seed + 2, -2.0f, 2.0f);
                auto st = initial_state(cell, c.batch, c.heads, c.dh, seed + 3, c.zero_state);
                Tensor state = f32(*dev, {c.batch, ns, c.heads, c.dh}, st);
                Tensor y = Tensor::empty(*dev, DType::f32, {c.batch, c.len, c.heads, c.dh});
                Tensor wxt = f32(*dev, {c.batch, c.len, gw, c.heads * c.dh}, wx);
                Tensor R = f32(*dev, {c.heads, ops::rnn_recurrent_gates(cell), c.dh, c.dh}, w.R);
                Tensor b = f32(*dev, {4, c.heads, c.dh}, w.bias);
                ops::rnn(s, cell, wxt, R, b, y, state);
                s.finish();
                const auto ref = reference::rnn(ref_cell(cell), wx, w.R, w.bias, st, c.batch, c.len, c.heads, c.dh);
                EXPECT_NMSE_LE(ref, y.to_floats(), 1e-6);
                EXPECT_NMSE_LE(st, state.to_floats(), 1e-6);
            }
    }
}

TEST_F(Rnn, PrefillThenStepsEqualsOnePrefill) {
    const int64_t batch = 3, len = 12, heads = 2, dh = 8, pre = 9;
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        Stream s(*dev);
        for (ops::RnnCell cell : kCells) {
            const int64_t gw = ops::rnn_input_gates(cell), ns = ops::rnn_state_count(cell);
            const Weights w = make_weights(cell, heads, dh, 50);
            Tensor R = f32(*dev, {heads, ops::rnn_recurrent_gates(cell), dh, dh}, w.R), b = f32(*dev, {4, heads, dh}, w.bias);
            const auto wx = random_floats(batch * len * gw * heads * dh, 51, -2.0f, 2.0f);
            const std::vector<float> zeros(batch * ns * heads * dh, 0.0f);
            Tensor st_full = f32(*dev, {batch, ns, heads, dh}, zeros), st = f32(*dev, {batch, ns, heads, dh}, zeros);
            Tensor y = Tensor::empty(*dev, DType::f32, {batch, len, heads, dh});
            Tensor wx_full = f32(*dev, {batch, len, gw, heads * dh}, wx);
            ops::rnn(s, cell, wx_full, R, b, y, st_full);
            const int64_t tok = gw * heads * dh;
            auto slice = [&](int64_t t0, int64_t t1) {
                std::vector<float> out;
                for (int64_t bb = 0; bb < batch; ++bb)
                    out.insert(out.end(), wx.begin() + (bb * len + t0) * tok, wx.begin() + (bb * len + t1) * tok);
                return out;
            };
            Tensor yh = Tensor::empty(*dev, DType::f32, {batch, pre, heads, dh});
            Tensor wx_head = f32(*dev, {batch, pre, gw, heads * dh}, slice(0, pre));
            ops::rnn(s, cell, wx_head, R, b, yh, st);
            s.finish();
            std::vector<float> got(batch * len * heads * dh);
            const auto yhv = yh.to_floats();
            const int64_t row = heads * dh;
            for (int64_t bb = 0; bb < batch; ++bb)
                std::copy(yhv.begin() + bb * pre * row, yhv.begin() + (bb + 1) * pre * row, got.begin() + bb * len * row);
            for (int64_t t = pre; t < len; ++t) {
                Tensor yt = Tensor::empty(*dev, DType::f32, {batch, heads, dh});
                Tensor wxt = f32(*dev, {batch, gw, heads * dh}, slice(t, t + 1));
                ops::rnn_step(s, cell, wxt, R, b, yt, st);
                s.finish();
                const auto yv = yt.to_floats();
                for (int64_t bb = 0; bb < batch; ++bb)
                    std::copy(yv.begin() + bb * row, yv.begin() + (bb + 1) * row, got.begin() + (bb * len + t) * row);
            }
            EXPECT_NMSE_LE(y.to_floats(), got, 1e-12);
            EXPECT_NMSE_LE(st_full.to_floats(), st.to_floats(), 1e-12);
        }
    }
}

TEST_F(Rnn, BadShapesThrow) {
    for (const auto& dev : devices()) {
        Stream s(*dev);
        auto t = [&](Shape sh) { return Tensor::empty(*dev, DType::f32, std::move(sh)); };
        Tensor wx = t({1, 5, 4, 16}), R = t({2, 4, 8, 8}), b = t({4, 2, 8}), y = t({1, 5, 2, 8}), st = t({1, 2, 2, 8});
        EXPECT_VKML_ERROR(ops::rnn(s, ops::RnnCell::Slstm, wx, R, b, y, st), ErrorKind::InvalidArgument, "state");
        EXPECT_VKML_ERROR(ops::rnn(s, ops::RnnCell::Gru, wx, t({2, 3, 8, 8}), b, y, t({1, 1, 2, 8})),
                          ErrorKind::InvalidArgument, "wx");
        EXPECT_VKML_ERROR(ops::rnn(s, ops::RnnCell::Lstm, t({1, 5, 4, 15}), R, b, y, st), ErrorKind::InvalidArgument, "wx");
        EXPECT_VKML_ERROR(ops::rnn(s, ops::RnnCell::Lstm, wx, t({2, 4, 8, 7}), b, y, st), ErrorKind::InvalidArgument, "R");
        EXPECT_VKML_ERROR(ops::rnn(s, ops::RnnCell::Lstm, wx, R, t({3, 2, 8}), y, st), ErrorKind::InvalidArgument, "bias");
        EXPECT_VKML_ERROR(ops::rnn(s, ops::RnnCell::Lstm, t({1, 5, 4, 300}), t({1, 4, 300, 300}), t({4, 1, 300}),
                                   t({1, 5, 1, 300}), t({1, 2, 1, 300})),
                          ErrorKind::InvalidArgument, "256");
        EXPECT_VKML_ERROR(ops::rnn_step(s, ops::RnnCell::Lstm, wx, R, b, y, st), ErrorKind::InvalidArgument, "step");
    }
}

// With 1 MiB bindings, several-MiB wx runs in ranges: time ranges of one sequence (L=1501:
// uneven), each handing its final state to the next, or blocks of whole sequences (Bt=5:
// 2 + 2 + 1). Odd head sizes put windows at unaligned offsets. Equal to the unsplit run.
TEST_F(Rnn, SplitRangesMatchUnsplit) {
    struct Case { int64_t batch, len, heads, dh; };
    const Case cases[] = {{3, 1501, 3, 15}, {5, 600, 3, 15}};
    for (const auto& dev : devices()) {
        SCOPED_TRACE(dev->caps().name);
        auto small = Device::open_index(dev->index(), DeviceOptions{.max_buffer_range = 1 << 20});
        uint32_t seed = 900;
        for (ops::RnnCell cell : kCells)
            for (const Case& c : cases) {
                SCOPED_TRACE(testing::Message() << "cell=" << static_cast<int>(cell) << " Bt=" << c.batch << " L=" << c.len
                                                << " H=" << c.heads << " dh=" << c.dh);
                const int64_t gw = ops::rnn_input_gates(cell), ns = ops::rnn_state_count(cell);
                ASSERT_GT(c.batch * c.len * gw * c.heads * c.dh * 4, 1 << 20);
                const Weights w = make_weights(cell, c.heads, c.dh, seed += 10);
                const auto wx = random_floats(c.batch * c.len * gw * c.heads * c.dh, seed + 2, -2.0f, 2.0f);
                const auto st0 = initial_state(cell, c.batch, c.heads, c.dh, seed + 3, false);
                std::vector<float> ys[2], sts[2];
                Device* devs[2] = {dev.get(), small.get()};
                for (int i = 0; i < 2; ++i) {
                    Device& d = *devs[i];
                    Stream s(d);
                    Tensor state = f32(d, {c.batch, ns, c.heads, c.dh}, st0);
                    Tensor y = Tensor::empty(d, DType::f32, {c.batch, c.len, c.heads, c.dh});
                    Tensor wxt = f32(d, {c.batch, c.len, gw, c.heads * c.dh}, wx);
                    Tensor R = f32(d, {c.heads, ops::rnn_recurrent_gates(cell), c.dh, c.dh}, w.R);
                    Tensor b = f32(d, {4, c.heads, c.dh}, w.bias);
                    ops::rnn(s, cell, wxt, R, b, y, state);
                    s.finish();
                    ys[i] = y.to_floats();
                    sts[i] = state.to_floats();
                }
                std::vector<float> st = st0;
                const auto ref = reference::rnn(ref_cell(cell), wx, w.R, w.bias, st, c.batch, c.len, c.heads, c.dh);
                EXPECT_NMSE_LE(ref, ys[1], 1e-6);
                EXPECT_NMSE_LE(st, sts[1], 1e-6);
                EXPECT_EQ(ys[0], ys[1]);
                EXPECT_EQ(sts[0], sts[1]);
            }
    }
}

}  // namespace
}  // namespace vkml::test
