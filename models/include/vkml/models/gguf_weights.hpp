// A GGUF file as a WeightSource (memory-mapped; tensors are not copied until uploaded).
#pragma once

#include <memory>
#include <string>

#include "vkml/models/gguf.hpp"
#include "vkml/models/weights.hpp"

namespace vkml::models {

class GgufWeights : public WeightSource {
public:
    explicit GgufWeights(const std::string& path);
    explicit GgufWeights(std::shared_ptr<const GgufFile> file);

    const GgufFile& file() const { return *file_; }
    std::string path() const override { return file_->path(); }
    std::optional<WeightInfo> find(const std::string& name) const override;
    std::optional<double> number(const std::string& key) const override;
    std::optional<std::string> text(const std::string& key) const override;

private:
    std::shared_ptr<const GgufFile> file_;
};

}  // namespace vkml::models
