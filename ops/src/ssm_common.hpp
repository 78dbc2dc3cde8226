// Shared plumbing of the sequence ops (conv1d, selective scan, SSD, S5, RNN cells): argument
// checks, and splitting [batch, time] problems whose tensors exceed one storage binding
// (caps().max_storage_buffer_range) into sub-problems that each fit. Internal to ops/.
//
// A sub-problem is a block of whole sequences [b0, b1) or, when one sequence is too long, a time
// range [t0, t1) of one sequence. Either way its slice of every [B, L, ...] tensor is one
// contiguous run of elements, so the kernels see a dense smaller problem (batch b1-b0, length
// t1-t0); ranges run in order and hand the recurrent state over through the state tensor.
// Slices start at arbitrary element offsets, while bindings must start at multiples of
// minStorageBufferOffsetAlignment: a Window binds from the aligned-down offset and the kernel
// adds `shift` elements to its indices.
#pragma once

#include <string>
#include <vector>

#include "op_common.hpp"
#include "row_reduce.hpp"  // has_loop_limit

namespace vkml::ops::detail {

// f32 dtype and an exact shape (every sequence-op tensor is f32 and dense).
inline void check_f32_dims(const char* op, const Tensor& t, const char* name, const Shape& want) {
    check_dtype(op, t, name, {DType::f32});
    if (t.shape() != want)
        fail(op, std::string(name) + " " + t.describe() + " must have shape " + shape_string(want));
}

// One expected input: its shape (f32), and whether it may be an empty tensor.
struct Expect {
    const Tensor* t;
    const char* name;
    Shape shape;
    bool optional = false;
};
// Checks each present input's dtype, shape and device (that of `x`).
inline void check_inputs(const char* op, const Tensor& x, std::initializer_list<Expect> list) {
    for (const Expect& e : list) {
        if (e.optional && !*e.t) continue;
        check_f32_dims(op, *e.t, e.name, e.shape);
        check_same_device(op, x, *e.t);
    }
}

// Step forms: a present tensor of the given rank, seen as a one-token sequence ([B, 1, ...]).
inline void check_rank(const char* op, const Tensor& t, const char* name, int rank) {
    check_present(op, t, name);
    if (t.rank() != rank) fail(op, std::string(name) + " " + t.describe() + " must have rank " + std::to_string(rank));
}
inline Tensor one_token(const Tensor& t) {
    if (!t) return {};
    Shape sh = t.shape();
    sh.insert(sh.begin() + 1, 1);
    return t.reshape(std::move(sh));
}

// Tensors the ops bind whole (weights) must fit one binding.
inline void check_fits(const char* op, const Tensor& t, const char* name) {
    if (t && t.bytes() > t.device().caps().max_storage_buffer_range)
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + name + " " + t.describe() +
                                                " exceeds maxStorageBufferRange " +
                                                std::to_string(t.device().caps().max_storage_buffer_range));
}

// Whether a binding of `bytes` fits once its start is aligned down (at most alignment - 4 bytes
// more, as tensors start at 4-byte multiples).
inline bool binding_fits(const Device& dev, uint64_t bytes) {
    const uint64_t align = window_alignment(dev, 4);
    return bytes + (align - 4) <= dev.caps().max_storage_buffer_range;
}

// Elements [first, first + count) of `t` (flat, `elem_bytes` per element) as a binding that
// starts at an aligned offset: view covers [first - shift, first + count).
struct Window {
    Tensor view;
    uint32_t shift = 0;
};
inline Window window(const char* op, const Tensor& t, int64_t first, int64_t count, uint64_t elem_bytes = 4) {
    const uint64_t align = window_alignment(t.device(), 1);
    const uint64_t start = t.offset() + static_cast<uint64_t>(first) * elem_bytes;  // within buffer()
    const uint64_t abs = t.buffer()->vk_offset() + start;
    const uint64_t back = abs % align;
    if (back % elem_bytes != 0 || back > start)
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + t.describe() + " at byte offset " +
                                                std::to_string(abs) + " cannot be bound in ranges (alignment " +
                                                std::to_string(align) + ")");
    const uint64_t shift = back / elem_bytes;
    const int64_t floats = static_cast<int64_t>((shift + count) * elem_bytes / 4);
    return {Tensor::view_of(t.buffer(), start - back, DType::f32, {floats}), static_cast<uint32_t>(shift)};
}

struct SeqRange {
    int64_t b0, b1, t0, t1;
    int64_t batch() const { return b1 - b0; }
    int64_t len() const { return t1 - t0; }
};

// Splits a [batch, len] problem into sub-problems for which fits(sequences, tokens) holds:
// everything at once if it fits, else blocks of whole sequences, else per sequence time ranges
// of a multiple of `quantum` tokens (kernels keep their chunk boundaries where they were, so a
// split run computes exactly what the unsplit run does; if one quantum does not fit, ranges of
// any length). fits must be monotonic in both.
template <class Fits>
std::vector<SeqRange> plan_seq_ranges(const char* op, int64_t batch, int64_t len, int64_t quantum, Fits fits) {
    std::vector<SeqRange> out;
    if (fits(batch, len)) return {{0, batch, 0, len}};
    if (fits(1, len)) {
        int64_t lo = 1, hi = batch;  // largest block of sequences that fits
        while (lo < hi) {
            const int64_t mid = (lo + hi + 1) / 2;
            if (fits(mid, len)) lo = mid;
            else hi = mid - 1;
        }
        for (int64_t b = 0; b < batch; b += lo) out.push_back({b, std::min(batch, b + lo), 0, len});
        return out;
    }
    int64_t lo = 0, hi = (len - 1) / quantum;  // largest multiple of quantum (< len) that fits
    while (lo < hi) {
        const int64_t mid = (lo + hi + 1) / 2;
        if (fits(1, mid * quantum)) lo = mid;
        else hi = mid - 1;
    }
    // Not even one quantum fits: any boundary is still correct, only not bit-identical.
    if (lo == 0 && quantum > 1) return plan_seq_ranges(op, batch, len, 1, fits);
    if (lo == 0)
        throw Error(ErrorKind::Unsupported, std::string(op) + ": " + std::to_string(quantum) +
                                                " token(s) of one sequence exceed maxStorageBufferRange");
    const int64_t step = lo * quantum;
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = 0; t < len; t += step) out.push_back({b, b + 1, t, std::min(len, t + step)});
    return out;
}

// fits() for tensors of `per_token` bytes per (sequence, token) and `per_seq` bytes per sequence.
inline bool seq_fits(const Device& dev, int64_t seqs, int64_t tokens, uint64_t per_token, uint64_t per_seq) {
    const uint64_t s = static_cast<uint64_t>(seqs), t = static_cast<uint64_t>(tokens);
    return binding_fits(dev, s * t * per_token) && binding_fits(dev, s * per_seq);
}

}  // namespace vkml::ops::detail
