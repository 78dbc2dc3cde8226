#include "vkml/graph.hpp"

#include <algorithm>

#include "vk_internal.hpp"

namespace vkml {

namespace {
constexpr uint64_t kArenaAlign = 256;
uint64_t align_up(uint64_t v) { return (v + kArenaAlign - 1) / kArenaAlign * kArenaAlign; }
}  // namespace

Graph::Graph(Device& device) : device_(&device) {}

Graph::Value Graph::add(ValueInfo v) {
    if (planned_) throw Error(ErrorKind::InvalidArgument, "graph: cannot add values after plan()");
    values_.push_back(std::move(v));
    return static_cast<Value>(values_.size() - 1);
}

void Graph::check_value(Value v, const char* what) const {
    if (v >= values_.size())
        throw Error(ErrorKind::InvalidArgument, std::string("graph: ") + what + " refers to unknown value " + std::to_string(v));
}

Graph::Value Graph::input(DType dtype, Shape shape, std::string name) {
    return add({Kind::Input, dtype, std::move(shape), std::move(name), {}});
}

Graph::Value Graph::constant(const Tensor& tensor, std::string name) {
    if (!tensor) throw Error(ErrorKind::InvalidArgument, "graph: constant '" + name + "' is an empty tensor");
    return add({Kind::Constant, tensor.dtype(), tensor.shape(), std::move(name), tensor});
}

Graph::Value Graph::temp(DType dtype, Shape shape, std::string name) {
    dtype_bytes(dtype, static_cast<uint64_t>(shape_numel(shape)));  // validates block multiples
    return add({Kind::Temp, dtype, std::move(shape), std::move(name), {}});
}

Graph::Value Graph::view(Value parent, Shape shape, int64_t first_row) {
    check_value(parent, "view");
    const ValueInfo& p = values_[parent];
    const int64_t cols = p.shape.back();
    const int64_t rows = shape_numel(p.shape) / cols;
    if (first_row < 0 || first_row * cols + shape_numel(shape) > rows * cols)
        throw Error(ErrorKind::InvalidArgument, "graph: view " + shape_string(shape) + " from row " +
                                                    std::to_string(first_row) + " does not fit in " + shape_string(p.shape));
    ValueInfo v{Kind::View, p.dtype, std::move(shape), p.name + "/view", {}};
    v.parent = parent;
    v.first_row = first_row;
    return add(std::move(v));
}

Graph::Value Graph::root(Value v) const {
    while (values_[v].kind == Kind::View) v = values_[v].parent;
    return v;
}

void Graph::op(std::string label, std::vector<Value> reads, std::vector<Value> writes, OpFn fn) {
    if (planned_) throw Error(ErrorKind::InvalidArgument, "graph: cannot add op '" + label + "' after plan()");
    OpInfo o{std::move(label), std::move(reads), std::move(fn)};
    o.args.insert(o.args.end(), writes.begin(), writes.end());
    const int index = static_cast<int>(ops_.size());
    for (Value v : o.args) {
        check_value(v, o.label.c_str());
        ValueInfo& r = values_[root(v)];
        if (r.first_use < 0) r.first_use = index;
        r.last_use = index;
    }
    ops_.push_back(std::move(o));
}

void Graph::keep(Value v) {
    check_value(v, "keep");
    values_[root(v)].kept = true;
}

uint64_t Graph::unplanned_bytes() const {
    uint64_t total = 0;
    for (const ValueInfo& v : values_)
        if (v.kind == Kind::Temp) total += align_up(dtype_bytes(v.dtype, static_cast<uint64_t>(shape_numel(v.shape))));
    return total;
}

void Graph::plan() {
    if (planned_) throw Error(ErrorKind::InvalidArgument, "graph: plan() called twice");
    const int end = static_cast<int>(ops_.size());
    struct Item {
        Value v;
        uint64_t size;
        int first, last;
    };
    std::vector<Item> items;
    for (Value i = 0; i < values_.size(); ++i) {
        ValueInfo& v = values_[i];
        if (v.kind != Kind::Temp) continue;
        const uint64_t size = align_up(dtype_bytes(v.dtype, static_cast<uint64_t>(shape_numel(v.shape))));
        int first = v.first_use < 0 ? 0 : v.first_use;
        int last = v.kept || v.last_use < 0 ? end : v.last_use;
        items.push_back({i, size, first, last});
    }
    // Largest first, each at the lowest offset clear of every placed value alive at the same time.
    std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.size > b.size; });
    std::vector<const Item*> placed;
    arena_bytes_ = 0;
    for (const Item& it : items) {
        std::vector<std::pair<uint64_t, uint64_t>> busy;
        for (const Item* p : placed)
            if (p->first <= it.last && it.first <= p->last) busy.emplace_back(values_[p->v].offset, values_[p->v].offset + p->size);
        std::sort(busy.begin(), busy.end());
        uint64_t offset = 0;
        for (const auto& [b, e] : busy) {
            if (offset + it.size <= b) break;
            offset = std::max(offset, e);
        }
        values_[it.v].offset = offset;
        arena_bytes_ = std::max(arena_bytes_, offset + it.size);
        placed.push_back(&it);
    }
    if (arena_bytes_ > 0) {
        arena_ = std::make_shared<Buffer>(device_->allocator().allocate(arena_bytes_, Pool::Activations));
        for (ValueInfo& v : values_)
            if (v.kind == Kind::Temp) v.tensor = Tensor::view_of(arena_, v.offset, v.dtype, v.shape);
    }
    planned_ = true;
}

void Graph::bind(Value v, const Tensor& tensor) {
    check_value(v, "bind");
    ValueInfo& info = values_[v];
    if (info.kind != Kind::Input)
        throw Error(ErrorKind::InvalidArgument, "graph: bind() takes an input, '" + info.name + "' is not one");
    if (!tensor || tensor.dtype() != info.dtype || tensor.shape() != info.shape)
        throw Error(ErrorKind::InvalidArgument, "graph: input '" + info.name + "' expects " +
                                                    std::string(dtype_name(info.dtype)) + shape_string(info.shape) +
                                                    ", got " + (tensor ? tensor.describe() : std::string("an empty tensor")));
    info.tensor = tensor;
}

Tensor Graph::resolve(Value v) const {
    const ValueInfo& info = values_[v];
    if (info.kind != Kind::View) {
        if (!info.tensor)
            throw Error(ErrorKind::InvalidArgument, "graph: value '" + info.name + "' has no tensor (input not bound, or plan() not called)");
        return info.tensor;
    }
    const Tensor parent = resolve(info.parent);
    const uint64_t row_bytes = dtype_bytes(parent.dtype(), static_cast<uint64_t>(parent.cols()));
    return Tensor::view_of(parent.buffer(), parent.offset() + static_cast<uint64_t>(info.first_row) * row_bytes, info.dtype,
                           info.shape);
}

const Tensor& Graph::tensor(Value v) const {
    check_value(v, "tensor");
    const ValueInfo& info = values_[v];
    if (info.kind == Kind::View)
        throw Error(ErrorKind::InvalidArgument, "graph: tensor() of a view; resolve its parent instead");
    if (!info.tensor) throw Error(ErrorKind::InvalidArgument, "graph: value '" + info.name + "' has no tensor yet");
    return info.tensor;
}

void Graph::record(Stream& s) {
    if (!planned_) throw Error(ErrorKind::InvalidArgument, "graph: record() before plan()");
    std::vector<Tensor> args;
    for (const OpInfo& o : ops_) {
        args.clear();
        for (Value v : o.args) args.push_back(resolve(v));
        o.fn(s, args.data());
    }
}

}  // namespace vkml
