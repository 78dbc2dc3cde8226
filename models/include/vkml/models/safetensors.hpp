// safetensors reader (and a small writer), plus Hugging Face model folders.
//
// File layout: u64 little-endian header length N, N bytes of JSON
//   {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// then the byte buffer the offsets index. Shapes are outermost first (as vkml's). Every
// offset, size and shape is checked: a corrupt file is a BadFile error naming file and tensor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vkml/models/gguf.hpp"
#include "vkml/models/json.hpp"
#include "vkml/models/mapped_file.hpp"
#include "vkml/tensor.hpp"

namespace vkml::models {

struct SafetensorsTensorInfo {
    std::string name;
    std::string dtype;     // as in the file: "F32", "F16", "BF16", "I64", ...
    Shape shape;           // outermost first
    uint64_t begin = 0;    // byte range in the data buffer
    uint64_t end = 0;
};

class SafetensorsFile {
public:
    explicit SafetensorsFile(const std::string& path);
    explicit SafetensorsFile(MappedFile file);

    const std::string& path() const { return file_.path(); }
    const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }
    const SafetensorsTensorInfo* find(const std::string& name) const;
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    // F32 and F16 tensors as they lie in the file (no copy). BF16 and other dtypes are an
    // Unsupported error naming the tensor (use floats() for BF16); an unknown name is
    // InvalidArgument.
    GgufTensorView tensor(const std::string& name) const;
    // F32, F16 or BF16 converted to f32.
    std::vector<float> floats(const std::string& name) const;
    const uint8_t* data(const SafetensorsTensorInfo& t) const { return file_.data() + data_start_ + t.begin; }

private:
    void parse();
    MappedFile file_;
    uint64_t data_start_ = 0;
    std::vector<SafetensorsTensorInfo> tensors_;
    std::map<std::string, size_t> index_;
    std::map<std::string, std::string> metadata_;
};

// Writes a safetensors file (for tests and exports): tensors in order, F32/F16/BF16 bytes.
struct SafetensorsWriteTensor {
    std::string name;
    std::string dtype;  // "F32", "F16" or "BF16"
    Shape shape;
    std::vector<uint8_t> bytes;
};
void write_safetensors(const std::string& path, const std::vector<SafetensorsWriteTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

float bf16_to_float(uint16_t v);

// A Hugging Face model folder: config.json, and model.safetensors or a sharded
// model.safetensors.index.json ({"weight_map": {"tensor": "model-00001-of-00002.safetensors"}}).
class HfModelFolder {
public:
    explicit HfModelFolder(const std::string& dir);

    const std::string& dir() const { return dir_; }
    const Json& config() const { return config_; }
    bool has_tokenizer_json() const { return has_tokenizer_json_; }  // dir/tokenizer.json exists

    std::vector<std::string> tensor_names() const;  // sorted
    bool has(const std::string& name) const { return where_.count(name) != 0; }
    const SafetensorsTensorInfo& info(const std::string& name) const;
    GgufTensorView tensor(const std::string& name) const;
    std::vector<float> floats(const std::string& name) const;

private:
    const SafetensorsFile& file_of(const std::string& name) const;
    std::string dir_;
    Json config_;
    bool has_tokenizer_json_ = false;
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, size_t> where_;  // tensor -> index in files_
};

// Reads a whole (small) text file; BadFile naming it if unreadable.
std::string read_text_file(const std::string& path);

}  // namespace vkml::models
