#include "vkml/models/weights.hpp"

#include <cmath>
#include <cstring>

#include "vkml/device.hpp"
#include "vkml/error.hpp"
#include "vkml/ops/matmul.hpp"
#include "vkml/ops/quant_cpu.hpp"

namespace vkml::models {

WeightInfo WeightSource::require(const std::string& name) const {
    auto w = find(name);
    if (!w) throw Error(ErrorKind::BadFile, path() + ": tensor '" + name + "' is missing");
    return *w;
}

WeightInfo WeightSource::require(const std::string& name, const Shape& shape) const {
    WeightInfo w = require(name);
    if (w.shape != shape)
        throw Error(ErrorKind::BadFile, path() + ": tensor '" + name + "' has shape " + shape_string(w.shape) +
                                            ", expected " + shape_string(shape));
    return w;
}

int64_t WeightSource::require_int(const std::string& key) const {
    auto v = number(key);
    if (!v) throw Error(ErrorKind::BadFile, path() + ": metadata '" + key + "' is missing");
    if (*v != std::floor(*v) || *v < 0 || *v > 9.0e15)
        throw Error(ErrorKind::BadFile, path() + ": metadata '" + key + "' = " + std::to_string(*v) +
                                            " is not a non-negative integer");
    return static_cast<int64_t>(*v);
}

void WeightSource::expect_architecture(const std::string& arch) const {
    const auto found = text("general.architecture");
    if (found && *found != arch)
        throw Error(ErrorKind::Unsupported, path() + ": architecture '" + *found + "' is not " + arch);
}

int64_t WeightSource::token_table_rows(int64_t dim) const {
    const WeightInfo emb = require("token_embd.weight");
    if (emb.shape.size() != 2 || emb.shape[1] != dim)
        throw Error(ErrorKind::BadFile, path() + ": token_embd.weight has shape " + shape_string(emb.shape) +
                                            ", expected [vocab, " + std::to_string(dim) + "]");
    return emb.shape[0];
}

int64_t WeightSource::int_or(const std::string& key, int64_t fallback) const {
    return number(key) ? require_int(key) : fallback;
}

double WeightSource::number_or(const std::string& key, double fallback) const {
    return number(key).value_or(fallback);
}

void InMemoryWeights::add(const std::string& tensor, DType dtype, Shape shape, std::vector<uint8_t> bytes) {
    if (dtype_bytes(dtype, static_cast<uint64_t>(shape_numel(shape))) != bytes.size())
        throw Error(ErrorKind::InvalidArgument, "tensor '" + tensor + "': " + std::to_string(bytes.size()) +
                                                    " bytes do not match " + std::string(dtype_name(dtype)) + shape_string(shape));
    tensors_[tensor] = Entry{dtype, std::move(shape), std::move(bytes)};
}

void InMemoryWeights::add_floats(const std::string& tensor, Shape shape, const std::vector<float>& values) {
    std::vector<uint8_t> bytes(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
    add(tensor, DType::f32, std::move(shape), std::move(bytes));
}

std::optional<WeightInfo> InMemoryWeights::find(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) return std::nullopt;
    return WeightInfo{it->second.dtype, it->second.shape, it->second.bytes.data(), it->second.bytes.size()};
}

std::optional<double> InMemoryWeights::number(const std::string& key) const {
    auto it = numbers_.find(key);
    if (it == numbers_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::string> InMemoryWeights::text(const std::string& key) const {
    auto it = texts_.find(key);
    if (it == texts_.end()) return std::nullopt;
    return it->second;
}

std::vector<float> weight_to_floats(const WeightInfo& w) {
    const int64_t n = shape_numel(w.shape);
    if (dtype_bytes(w.dtype, static_cast<uint64_t>(n)) != w.bytes)
        throw Error(ErrorKind::BadFile, "weight of " + std::string(dtype_name(w.dtype)) + shape_string(w.shape) +
                                            " has " + std::to_string(w.bytes) + " bytes");
    std::vector<float> out(static_cast<size_t>(n));
    switch (w.dtype) {
        case DType::f32:
            std::memcpy(out.data(), w.data, w.bytes);
            break;
        case DType::f16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, w.data + 2 * i, 2);
                out[i] = half_to_float(h);
            }
            break;
        case DType::q8_0:
        case DType::q6_k:
        case DType::q4_0:
            ops::dequantize_cpu(w.dtype, w.data, n, out.data());
            break;
        default:
            throw Error(ErrorKind::Unsupported, "weights of type " + std::string(dtype_name(w.dtype)) + " are not supported");
    }
    return out;
}

Tensor upload_weight(Device& dev, const WeightInfo& w, DType dtype, const std::string& name) {
    if (w.dtype == dtype && (dtype == DType::f32 || is_quantized(dtype)))
        return Tensor::from_host(dev, dtype, w.shape, w.data, w.bytes, Pool::Weights);
    if (dtype == DType::f16 && !dev.caps().fp16_storage)
        throw Error(ErrorKind::Unsupported, "'" + name + "': device '" + dev.caps().name + "' has no 16-bit storage");
    if (dtype == DType::f16 && w.dtype == DType::f16)
        return Tensor::from_host(dev, dtype, w.shape, w.data, w.bytes, Pool::Weights);
    if (dtype == DType::f32 || dtype == DType::f16)
        return Tensor::from_floats(dev, dtype, w.shape, weight_to_floats(w), Pool::Weights);
    throw Error(ErrorKind::Unsupported, "'" + name + "': converting " + std::string(dtype_name(w.dtype)) + " to " +
                                            std::string(dtype_name(dtype)) + " on load is not supported");
}

WeightInfo weight_rows(const WeightInfo& w, int64_t first, int64_t count) {
    if (w.shape.size() != 2 || first < 0 || count <= 0 || first + count > w.shape[0])
        throw Error(ErrorKind::InvalidArgument, "rows [" + std::to_string(first) + ", " + std::to_string(first + count) +
                                                    ") of a " + std::string(dtype_name(w.dtype)) + shape_string(w.shape) +
                                                    " weight");
    const uint64_t row = dtype_bytes(w.dtype, static_cast<uint64_t>(w.shape[1]));
    if (w.bytes != row * static_cast<uint64_t>(w.shape[0]))
        throw Error(ErrorKind::BadFile, "weight of " + std::string(dtype_name(w.dtype)) + shape_string(w.shape) + " has " +
                                            std::to_string(w.bytes) + " bytes");
    return WeightInfo{w.dtype, {count, w.shape[1]}, w.data + static_cast<uint64_t>(first) * row,
                      static_cast<uint64_t>(count) * row};
}

Tensor upload_matmul_matrix(Device& dev, const WeightInfo& w, const std::string& name) {
    // What upload_weight would upload as it is goes to ops::upload_matmul_weight, which picks the
    // layout (and which types it interleaves); the rest gets upload_weight's checks and errors.
    const bool as_is = w.dtype == DType::f32 || is_quantized(w.dtype) || (w.dtype == DType::f16 && dev.caps().fp16_storage);
    if (!as_is || w.shape.size() != 2 || dtype_bytes(w.dtype, static_cast<uint64_t>(shape_numel(w.shape))) != w.bytes)
        return upload_weight(dev, w, w.dtype, name);
    return ops::upload_matmul_weight(dev, w.dtype, w.shape, w.data, w.bytes);
}

}  // namespace vkml::models
