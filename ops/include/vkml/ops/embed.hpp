// Embedding lookup (token ids -> rows of a table).
#pragma once

#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml::ops {

// y[i, :] = table[ids[i], :] as f32. table: f32 or f16 [vocab, dim]; ids: u32 [n]; y: f32 [n, dim].
// Ids are not read back by the host: ids >= vocab leave their row of y unwritten, so callers
// validate ids on the host (the model and tokenizer layers do). Tables larger than one
// storage binding are bound in row ranges.
void embed(Stream& s, const Tensor& table, const Tensor& ids, const Tensor& y);

}  // namespace vkml::ops
