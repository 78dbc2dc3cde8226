// Graph: liveness planning shares memory without overlapping live values, and a planned graph
// computes what the same ops compute directly.
#include "vkml/graph.hpp"
#include "vkml/ops/elementwise.hpp"
#include "vkml/reference/elementwise.hpp"
#include "vkml_test.hpp"

namespace vkml::test {
namespace {

class GraphTest : public VkmlTest {};

TEST_F(GraphTest, ChainReusesMemoryAndMatchesDirectExecution) {
    for (const auto& dev : devices()) {
        const int64_t n = 3000;
        const auto xs = random_floats(n, 1, -3, 3);
        const auto bs = random_floats(n, 2);
        Tensor bias = Tensor::from_floats(*dev, DType::f32, {n}, bs);
        Graph g(*dev);
        const auto x = g.input(DType::f32, {n}, "x");
        const auto b = g.constant(bias, "bias");
        auto cur = x;
        // 8 steps of y = silu(cur + b) * 0.5: each temp dies after the next op.
        std::vector<Graph::Value> temps;
        for (int i = 0; i < 8; ++i) {
            const auto sum = g.temp(DType::f32, {n}, "sum" + std::to_string(i));
            const auto act = g.temp(DType::f32, {n}, "act" + std::to_string(i));
            g.op("add", {cur, b}, {sum}, [](Stream& s, const Tensor* t) { ops::add(s, t[0], t[1], t[2]); });
            g.op("silu", {sum}, {act}, [](Stream& s, const Tensor* t) { ops::silu(s, t[0], t[1]); });
            g.op("scale", {act}, {act}, [](Stream& s, const Tensor* t) { ops::scale(s, t[0], t[1], 0.5f); });
            temps.push_back(sum);
            temps.push_back(act);
            cur = act;
        }
        g.keep(cur);
        g.plan();
        EXPECT_EQ(g.op_count(), 24u);
        EXPECT_LE(g.arena_bytes() * 4, g.unplanned_bytes()) << "a chain needs about two live buffers, not sixteen";
        // Values alive at the same time never share bytes: sum_i and act_i overlap in time.
        for (int i = 0; i < 8; ++i) {
            const Tensor& s_t = g.tensor(temps[2 * i]);
            const Tensor& a_t = g.tensor(temps[2 * i + 1]);
            const bool disjoint = s_t.offset() + s_t.bytes() <= a_t.offset() || a_t.offset() + a_t.bytes() <= s_t.offset();
            EXPECT_TRUE(disjoint) << "step " << i;
        }
        Tensor xin = Tensor::from_floats(*dev, DType::f32, {n}, xs);
        g.bind(x, xin);
        Stream s(*dev);
        g.record(s);
        s.finish();
        std::vector<float> ref = xs;
        for (int i = 0; i < 8; ++i) ref = reference::scale(reference::silu(reference::add(ref, bs)), 0.5f, 0.0f);
        EXPECT_NMSE_LE(ref, g.tensor(cur).to_floats(), 1e-7);

        // Run again with another input: the plan is reused.
        const auto xs2 = random_floats(n, 3);
        xin.upload(xs2.data(), xs2.size() * 4);
        g.record(s);
        s.finish();
        ref = xs2;
        for (int i = 0; i < 8; ++i) ref = reference::scale(reference::silu(reference::add(ref, bs)), 0.5f, 0.0f);
        EXPECT_NMSE_LE(ref, g.tensor(cur).to_floats(), 1e-7);
    }
}

TEST_F(GraphTest, ViewsAndMisuseAreChecked) {
    const auto& dev = devices()[0];
    Graph g(*dev);
    const auto x = g.input(DType::f32, {4, 8}, "x");
    const auto y = g.temp(DType::f32, {4, 8}, "y");
    const auto row2 = g.view(y, {2, 8}, 2);
    g.op("scale", {x}, {y}, [](Stream& s, const Tensor* t) { ops::scale(s, t[0], t[1], 2.0f); });
    const auto out = g.temp(DType::f32, {2, 8}, "out");
    g.op("copy-rows", {row2}, {out}, [](Stream& s, const Tensor* t) { ops::scale(s, t[0], t[1], 1.0f); });
    g.keep(out);
    EXPECT_VKML_ERROR(g.view(y, {3, 8}, 2), ErrorKind::InvalidArgument, "does not fit");
    EXPECT_VKML_ERROR(g.op("bad", {99}, {}, nullptr), ErrorKind::InvalidArgument, "unknown value 99");
    g.plan();
    EXPECT_VKML_ERROR(g.temp(DType::f32, {1}), ErrorKind::InvalidArgument, "after plan");
    EXPECT_VKML_ERROR(g.bind(x, Tensor::empty(*dev, DType::f32, {8, 4})), ErrorKind::InvalidArgument, "expects f32[4, 8]");
    Stream s(*dev);
    EXPECT_VKML_ERROR(g.record(s), ErrorKind::InvalidArgument, "not bound");
    const auto xs = random_floats(32, 4);
    g.bind(x, Tensor::from_floats(*dev, DType::f32, {4, 8}, xs));
    g.record(s);
    s.finish();
    const auto got = g.tensor(out).to_floats();
    for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(got[i], 2.0f * xs[16 + i]);
}

}  // namespace
}  // namespace vkml::test
