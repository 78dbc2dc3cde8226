// GGUF (v2 and v3) reader and writer.
//
// Shapes: GGUF lists a tensor's dimensions innermost first (ne[0] is the contiguous one);
// vkml shapes are outermost first. GgufTensorInfo::shape is in vkml order, so a GGUF matrix
// with ne = {k, m} (m rows of k contiguous elements) has shape {m, k}. The writer takes vkml
// order too and reverses it on disk.
//
// Every count, size and offset read from a file is checked before it is used: a corrupt or
// truncated file is a vkml::Error of kind BadFile naming the file and the field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vkml/dtype.hpp"
#include "vkml/models/mapped_file.hpp"
#include "vkml/tensor.hpp"

namespace vkml::models {

// GGUF metadata value types, numbered as on disk.
enum class GgufType : uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
    string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Integers are held in `u` (unsigned types) or `i` (signed types), floats
// in `f`; an array holds its elements (each of `array_type`) in `items`.
struct GgufValue {
    GgufType type = GgufType::u8;
    GgufType array_type = GgufType::u8;  // only for arrays
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0.0;
    bool b = false;
    std::string s;
    std::vector<GgufValue> items;

    bool is_integer() const;
    bool is_float() const { return type == GgufType::f32 || type == GgufType::f64; }

    static GgufValue make_u32(uint32_t v);
    static GgufValue make_i32(int32_t v);
    static GgufValue make_u64(uint64_t v);
    static GgufValue make_f32(float v);
    static GgufValue make_bool(bool v);
    static GgufValue make_string(std::string v);
    static GgufValue make_array(GgufType elem, std::vector<GgufValue> items);
    static GgufValue make_string_array(const std::vector<std::string>& v);
    static GgufValue make_f32_array(const std::vector<float>& v);
    static GgufValue make_i32_array(const std::vector<int32_t>& v);

    bool operator==(const GgufValue& o) const;
};

// ggml tensor type ids (as in a GGUF tensor info) that vkml computes with, and others it can
// name and size but not compute with.
constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ8_0 = 8, kGgmlQ6_K = 14;
std::optional<DType> dtype_from_ggml(uint32_t ggml_type);  // nullopt when vkml lacks the type
uint32_t ggml_from_dtype(DType t);                          // Unsupported for i32/u32/u8
std::string ggml_type_name(uint32_t ggml_type);

struct GgufTensorInfo {
    std::string name;
    Shape shape;               // vkml order: outermost first
    uint32_t ggml_type = 0;    // as on disk
    std::optional<DType> dtype;  // nullopt: a type vkml does not compute with
    uint64_t offset = 0;       // from the start of the data section
    uint64_t bytes = 0;        // 0 for a type of unknown size
};

// A tensor's bytes (pointing into the memory map) with its vkml dtype and shape.
struct GgufTensorView {
    DType dtype = DType::f32;
    Shape shape;
    const uint8_t* data = nullptr;
    uint64_t bytes = 0;
};

class GgufFile {
public:
    // Opens and validates the whole header; tensor data stays mapped, not read.
    explicit GgufFile(const std::string& path);
    explicit GgufFile(MappedFile file);  // e.g. MappedFile::from_memory(name, bytes)

    const std::string& path() const { return file_.path(); }
    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }  // start of the data section

    // Metadata, in file order.
    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
    const GgufValue* find(const std::string& key) const;
    bool has(const std::string& key) const { return find(key) != nullptr; }

    // Typed getters. The required forms throw BadFile naming the key when it is missing or of
    // another type; integer getters accept any integer type whose value fits.
    std::string get_string(const std::string& key) const;
    uint32_t get_u32(const std::string& key) const;
    int64_t get_i64(const std::string& key) const;
    float get_f32(const std::string& key) const;  // f32 or f64
    bool get_bool(const std::string& key) const;
    std::vector<std::string> get_string_array(const std::string& key) const;
    std::vector<float> get_f32_array(const std::string& key) const;
    std::vector<int32_t> get_i32_array(const std::string& key) const;  // any integer elements
    std::optional<std::string> string_or_none(const std::string& key) const;
    std::optional<int64_t> int_or_none(const std::string& key) const;
    std::optional<double> number_or_none(const std::string& key) const;  // integer or float

    // Tensors, in file order.
    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufTensorInfo* find_tensor(const std::string& name) const;
    // The tensor's bytes, dtype and shape. Throws InvalidArgument for an unknown name and
    // Unsupported (naming the tensor and its ggml type) for a type vkml does not compute with.
    GgufTensorView tensor(const std::string& name) const;
    // Raw bytes of any tensor whose size is known.
    const uint8_t* tensor_data(const GgufTensorInfo& t) const;

private:
    void parse();
    MappedFile file_;
    uint32_t version_ = 0;
    uint32_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string, GgufValue>> kv_;
    std::map<std::string, size_t> kv_index_;
    std::vector<GgufTensorInfo> tensors_;
    std::map<std::string, size_t> tensor_index_;
};

// Writes GGUF v3. Metadata keeps insertion order (setting a key again replaces its value);
// tensors are written in order, each at an offset aligned to general.alignment (default 32).
class GgufWriter {
public:
    void set(const std::string& key, GgufValue value);
    void set_u32(const std::string& key, uint32_t v) { set(key, GgufValue::make_u32(v)); }
    void set_i32(const std::string& key, int32_t v) { set(key, GgufValue::make_i32(v)); }
    void set_f32(const std::string& key, float v) { set(key, GgufValue::make_f32(v)); }
    void set_bool(const std::string& key, bool v) { set(key, GgufValue::make_bool(v)); }
    void set_string(const std::string& key, std::string v) { set(key, GgufValue::make_string(std::move(v))); }

    // Copies `bytes` bytes of `dtype` data (raw blocks for quantized types) of vkml-order
    // `shape`; the byte count must match the shape exactly.
    void add_tensor(const std::string& name, DType dtype, const Shape& shape, const void* data,
                    uint64_t bytes);
    // The same for any ggml type id (for copying tensors vkml cannot compute with).
    void add_tensor_raw(const std::string& name, uint32_t ggml_type, const Shape& shape,
                        const void* data, uint64_t bytes);

    std::vector<uint8_t> to_bytes() const;
    void write(const std::string& path) const;  // BadFile on I/O failure

private:
    struct Pending {
        std::string name;
        uint32_t ggml_type;
        Shape shape;
        std::vector<uint8_t> data;
    };
    uint32_t alignment() const;
    std::vector<std::pair<std::string, GgufValue>> kv_;
    std::vector<Pending> tensors_;
};

}  // namespace vkml::models
