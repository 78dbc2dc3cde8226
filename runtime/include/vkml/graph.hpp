// Graph: a model's forward pass built once as a list of ops over values, with activation
// memory planned by liveness (values whose lifetimes do not overlap share bytes of one arena)
// and recorded into one stream.
//
//   Graph g(device);
//   auto x = g.input(DType::f32, {n, d});              // bound to a caller tensor each run
//   auto w = g.constant(weight);                       // a tensor that outlives the graph
//   auto h = g.temp(DType::f32, {n, d});               // planned activation
//   g.op("rms_norm", {x, w}, {h}, [](Stream& s, const Tensor* t) { ops::rms_norm(s, t[0], t[1], t[2]); });
//   g.plan();                                          // assigns arena offsets, allocates once
//   g.bind(x, my_input); g.record(stream); stream.finish();
//
// An op's closure receives its tensors in the order reads..., writes.... A value may be both
// read and written by one op (in place).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vkml/device.hpp"
#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml {

class Graph {
public:
    using Value = uint32_t;
    using OpFn = std::function<void(Stream&, const Tensor* tensors)>;

    explicit Graph(Device& device);

    Value input(DType dtype, Shape shape, std::string name = "");
    Value constant(const Tensor& tensor, std::string name = "");
    Value temp(DType dtype, Shape shape, std::string name = "");
    // A view of another value's bytes (reshape or row slice); it keeps the parent alive.
    Value view(Value parent, Shape shape, int64_t first_row = 0);

    void op(std::string label, std::vector<Value> reads, std::vector<Value> writes, OpFn fn);

    // Marks a temp as an output: it stays live to the end (callers read it after the run).
    void keep(Value v);

    // Plans temps by liveness into one arena (best fit by offset), allocates it. Call once,
    // after all ops are added.
    void plan();
    void bind(Value input, const Tensor& tensor);
    void record(Stream& s);

    const Tensor& tensor(Value v) const;  // after plan() (and bind() for inputs)
    uint64_t arena_bytes() const { return arena_bytes_; }
    uint64_t unplanned_bytes() const;  // what one buffer per temp would take
    size_t op_count() const { return ops_.size(); }

private:
    enum class Kind { Input, Constant, Temp, View };
    struct ValueInfo {
        Kind kind;
        DType dtype;
        Shape shape;
        std::string name;
        Tensor tensor;
        Value parent = 0;
        int64_t first_row = 0;
        uint64_t offset = 0;  // in the arena, for temps
        int first_use = -1, last_use = -1;
        bool kept = false;
    };
    struct OpInfo {
        std::string label;
        std::vector<Value> args;
        OpFn fn;
    };
    Value add(ValueInfo v);
    Value root(Value v) const;
    void check_value(Value v, const char* what) const;
    Tensor resolve(Value v) const;

    Device* device_;
    std::vector<ValueInfo> values_;
    std::vector<OpInfo> ops_;
    std::shared_ptr<Buffer> arena_;
    uint64_t arena_bytes_ = 0;
    bool planned_ = false;
};

}  // namespace vkml
