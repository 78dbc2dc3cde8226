// WeightSource: what a model needs from a weight file (GGUF, safetensors, a Hugging Face folder):
// named tensors on the host and hyper-parameters. Models are written against this interface
// so every file format loads every architecture.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vkml/dtype.hpp"
#include "vkml/tensor.hpp"

namespace vkml::models {

// Reports loading progress: `done` of `total` layers uploaded (a command line draws a bar).
using LoadProgress = std::function<void(int64_t done, int64_t total)>;

struct WeightInfo {
    DType dtype = DType::f32;
    Shape shape;                    // outermost first: a [out, in] matrix has shape {out, in}
    const uint8_t* data = nullptr;  // host bytes (often memory-mapped), valid while the source lives
    uint64_t bytes = 0;
};

class WeightSource {
public:
    virtual ~WeightSource() = default;
    virtual std::string path() const = 0;  // for error messages
    virtual std::optional<WeightInfo> find(const std::string& name) const = 0;
    virtual std::optional<double> number(const std::string& key) const = 0;  // integer or float metadata
    virtual std::optional<std::string> text(const std::string& key) const = 0;

    // The tensor, or a BadFile error naming the file and the tensor.
    WeightInfo require(const std::string& name) const;
    // The tensor with the expected shape, or a BadFile error naming both shapes.
    WeightInfo require(const std::string& name, const Shape& shape) const;
    int64_t require_int(const std::string& key) const;
    // Unsupported unless general.architecture is `arch` (or absent).
    void expect_architecture(const std::string& arch) const;
    // The vocabulary size: the rows of token_embd.weight, which must be [vocab, dim] (BadFile).
    int64_t token_table_rows(int64_t dim) const;
    int64_t int_or(const std::string& key, int64_t fallback) const;
    double number_or(const std::string& key, double fallback) const;
};

// Weights held in memory: for tests, converters and programs that build models themselves.
class InMemoryWeights : public WeightSource {
public:
    explicit InMemoryWeights(std::string name = "in-memory weights") : name_(std::move(name)) {}
    void add(const std::string& tensor, DType dtype, Shape shape, std::vector<uint8_t> bytes);
    void add_floats(const std::string& tensor, Shape shape, const std::vector<float>& values);  // f32
    void set(const std::string& key, double value) { numbers_[key] = value; }
    void set(const std::string& key, const std::string& value) { texts_[key] = value; }

    std::string path() const override { return name_; }
    std::optional<WeightInfo> find(const std::string& name) const override;
    std::optional<double> number(const std::string& key) const override;
    std::optional<std::string> text(const std::string& key) const override;

private:
    struct Entry {
        DType dtype;
        Shape shape;
        std::vector<uint8_t> bytes;
    };
    std::string name_;
    std::map<std::string, Entry> tensors_;
    std::map<std::string, double> numbers_;
    std::map<std::string, std::string> texts_;
};

// Any supported weight converted to f32 on the host (dequantizing block formats).
std::vector<float> weight_to_floats(const WeightInfo& w);

// Uploads a weight as `dtype` (f32, f16 or its own quantized type): f32/f16 sources convert to
// f32/f16 on the host; quantized sources keep their blocks, or are dequantized when f32/f16 is
// asked. A tensor the device cannot take as is becomes an Unsupported error naming `name`.
Tensor upload_weight(Device& dev, const WeightInfo& w, DType dtype, const std::string& name);

// Rows [first, first + count) of a matrix weight, as a weight of its own (no copy). Throws
// InvalidArgument for rows outside the matrix.
WeightInfo weight_rows(const WeightInfo& w, int64_t first, int64_t count);

// A matrix only ops::matmul reads, in its file type: ops::upload_matmul_weight's layout for the
// device (on CPU devices q4_0, q8_0, q6_k and f16 rows interleaved for the CPU kernel), else as
// upload_weight(dev, w, w.dtype, name).
Tensor upload_matmul_matrix(Device& dev, const WeightInfo& w, const std::string& name);

}  // namespace vkml::models
