#include "vkml/models/gguf_weights.hpp"

#include "vkml/error.hpp"

namespace vkml::models {

GgufWeights::GgufWeights(const std::string& path) : file_(std::make_shared<GgufFile>(path)) {}
GgufWeights::GgufWeights(std::shared_ptr<const GgufFile> file) : file_(std::move(file)) {}

std::optional<WeightInfo> GgufWeights::find(const std::string& name) const {
    if (!file_->find_tensor(name)) return std::nullopt;
    const GgufTensorView v = file_->tensor(name);  // BadFile/Unsupported naming the tensor
    return WeightInfo{v.dtype, v.shape, v.data, v.bytes};
}

std::optional<double> GgufWeights::number(const std::string& key) const { return file_->number_or_none(key); }

std::optional<std::string> GgufWeights::text(const std::string& key) const { return file_->string_or_none(key); }

}  // namespace vkml::models
