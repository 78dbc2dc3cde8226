// GGUF reader: a bounds-checked cursor over the memory map; nothing is trusted before checking.
#include "vkml/models/gguf.hpp"

#include <cstring>
#include <limits>
#include <utility>

#include "vkml/error.hpp"

namespace vkml::models {
namespace {

struct GgmlTypeInfo {
    uint32_t id;
    const char* name;
    uint32_t block_elems;
    uint32_t block_bytes;
};

// Sizes of the ggml types a GGUF file may hold, so every tensor's extent can be checked even
// when vkml cannot compute with its type.
constexpr GgmlTypeInfo kGgmlTypes[] = {
    {0, "f32", 1, 4},         {1, "f16", 1, 2},         {2, "q4_0", 32, 18},
    {3, "q4_1", 32, 20},      {6, "q5_0", 32, 22},      {7, "q5_1", 32, 24},
    {8, "q8_0", 32, 34},      {9, "q8_1", 32, 36},      {10, "q2_K", 256, 84},
    {11, "q3_K", 256, 110},   {12, "q4_K", 256, 144},   {13, "q5_K", 256, 176},
    {14, "q6_K", 256, 210},   {15, "q8_K", 256, 292},   {16, "iq2_xxs", 256, 66},
    {17, "iq2_xs", 256, 74},  {18, "iq3_xxs", 256, 98}, {19, "iq1_s", 256, 50},
    {20, "iq4_nl", 32, 18},   {21, "iq3_s", 256, 110},  {22, "iq2_s", 256, 82},
    {23, "iq4_xs", 256, 136}, {24, "i8", 1, 1},         {25, "i16", 1, 2},
    {26, "i32", 1, 4},        {27, "i64", 1, 8},        {28, "f64", 1, 8},
    {29, "iq1_m", 256, 56},   {30, "bf16", 1, 2},       {34, "tq1_0", 256, 54},
    {35, "tq2_0", 256, 66},
};

const GgmlTypeInfo* ggml_info(uint32_t id) {
    for (const auto& t : kGgmlTypes)
        if (t.id == id) return &t;
    return nullptr;
}

constexpr uint32_t kMaxDims = 4;      // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 16;    // nested arrays deeper than this are treated as corrupt

class Cursor {
public:
    Cursor(const std::string& path, const uint8_t* data, uint64_t size)
        : path_(path), data_(data), size_(size) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }

    [[noreturn]] void fail(const std::string& field, const std::string& what) const {
        throw Error(ErrorKind::BadFile, path_ + ": GGUF " + field + " at offset " +
                                            std::to_string(pos_) + ": " + what);
    }

    void need(uint64_t n, const std::string& field) const {
        if (n > remaining())
            fail(field, "truncated (needs " + std::to_string(n) + " bytes, " +
                            std::to_string(remaining()) + " left)");
    }

    template <typename T>
    T read(const std::string& field) {
        need(sizeof(T), field);
        T v;
        std::memcpy(&v, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }

    std::string read_string(const std::string& field) {
        const uint64_t n = read<uint64_t>(field + " length");
        need(n, field);
        std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
        pos_ += n;
        return s;
    }

private:
    const std::string& path_;
    const uint8_t* data_;
    uint64_t size_;
    uint64_t pos_ = 0;
};

// The fewest bytes one value of `t` occupies on disk: bounds an array count before reserving.
uint64_t min_value_bytes(GgufType t) {
    switch (t) {
        case GgufType::u8: case GgufType::i8: case GgufType::boolean: return 1;
        case GgufType::u16: case GgufType::i16: return 2;
        case GgufType::u32: case GgufType::i32: case GgufType::f32: return 4;
        case GgufType::u64: case GgufType::i64: case GgufType::f64: case GgufType::string: return 8;
        case GgufType::array: return 12;
    }
    return 1;
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::f64); }

GgufValue read_value(Cursor& c, GgufType type, const std::string& field, int depth) {
    GgufValue v;
    v.type = type;
    switch (type) {
        case GgufType::u8: v.u = c.read<uint8_t>(field); break;
        case GgufType::i8: v.i = c.read<int8_t>(field); break;
        case GgufType::u16: v.u = c.read<uint16_t>(field); break;
        case GgufType::i16: v.i = c.read<int16_t>(field); break;
        case GgufType::u32: v.u = c.read<uint32_t>(field); break;
        case GgufType::i32: v.i = c.read<int32_t>(field); break;
        case GgufType::u64: v.u = c.read<uint64_t>(field); break;
        case GgufType::i64: v.i = c.read<int64_t>(field); break;
        case GgufType::f32: v.f = c.read<float>(field); break;
        case GgufType::f64: v.f = c.read<double>(field); break;
        case GgufType::boolean: {
            const uint8_t b = c.read<uint8_t>(field);
            if (b > 1) c.fail(field, "bool value " + std::to_string(b) + " is neither 0 nor 1");
            v.b = b != 0;
            break;
        }
        case GgufType::string: v.s = c.read_string(field); break;
        case GgufType::array: {
            if (depth >= kMaxArrayDepth) c.fail(field, "arrays nested too deeply");
            const uint32_t et = c.read<uint32_t>(field + " element type");
            if (!valid_type(et)) c.fail(field, "unknown array element type " + std::to_string(et));
            v.array_type = static_cast<GgufType>(et);
            const uint64_t n = c.read<uint64_t>(field + " element count");
            if (n > c.remaining() / min_value_bytes(v.array_type))
                c.fail(field, "array of " + std::to_string(n) + " elements exceeds the file");
            v.items.reserve(static_cast<size_t>(n));
            for (uint64_t k = 0; k < n; ++k)
                v.items.push_back(read_value(c, v.array_type, field, depth + 1));
            break;
        }
    }
    return v;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

}  // namespace

const char* gguf_type_name(GgufType t) {
    static const char* kNames[] = {"u8", "i8",  "u16",    "i16",   "u32", "i32", "f32",
                                   "bool", "string", "array", "u64", "i64", "f64"};
    const auto i = static_cast<uint32_t>(t);
    return i < std::size(kNames) ? kNames[i] : "unknown";
}

std::optional<DType> dtype_from_ggml(uint32_t ggml_type) {
    switch (ggml_type) {
        case kGgmlF32: return DType::f32;
        case kGgmlF16: return DType::f16;
        case kGgmlQ4_0: return DType::q4_0;
        case kGgmlQ8_0: return DType::q8_0;
        case kGgmlQ6_K: return DType::q6_k;
        default: return std::nullopt;
    }
}

uint32_t ggml_from_dtype(DType t) {
    switch (t) {
        case DType::f32: return kGgmlF32;
        case DType::f16: return kGgmlF16;
        case DType::q4_0: return kGgmlQ4_0;
        case DType::q8_0: return kGgmlQ8_0;
        case DType::q6_k: return kGgmlQ6_K;
        default:
            throw Error(ErrorKind::Unsupported,
                        "GGUF: dtype " + std::string(dtype_name(t)) + " has no GGUF tensor type");
    }
}

std::string ggml_type_name(uint32_t ggml_type) {
    const GgmlTypeInfo* info = ggml_info(ggml_type);
    return info ? info->name : "ggml type " + std::to_string(ggml_type);
}

// Internal helper shared with the writer (declared there): bytes of a tensor of `ggml_type`
// with GGUF dims `ne` (innermost first), or an error string.
bool ggml_tensor_bytes(uint32_t ggml_type, const std::vector<uint64_t>& ne, uint64_t& bytes,
                       std::string& why) {
    const GgmlTypeInfo* info = ggml_info(ggml_type);
    if (!info) {
        why = "unknown tensor type " + std::to_string(ggml_type);
        return false;
    }
    if (ne.empty() || ne[0] % info->block_elems != 0) {
        why = "innermost dimension is not a multiple of the " + std::string(info->name) +
              " block (" + std::to_string(info->block_elems) + ")";
        return false;
    }
    uint64_t blocks = ne[0] / info->block_elems;
    for (size_t d = 1; d < ne.size(); ++d) {
        if (ne[d] != 0 && blocks > std::numeric_limits<uint64_t>::max() / ne[d]) {
            why = "element count overflows";
            return false;
        }
        blocks *= ne[d];
    }
    if (blocks > std::numeric_limits<uint64_t>::max() / info->block_bytes) {
        why = "byte size overflows";
        return false;
    }
    bytes = blocks * info->block_bytes;
    return true;
}

GgufFile::GgufFile(const std::string& path) : file_(path) { parse(); }
GgufFile::GgufFile(MappedFile file) : file_(std::move(file)) { parse(); }

void GgufFile::parse() {
    Cursor c(file_.path(), file_.data(), file_.size());
    const uint32_t magic = c.read<uint32_t>("magic");
    if (magic != 0x46554747u)  // "GGUF" little-endian
        throw Error(ErrorKind::BadFile, path() + ": GGUF magic: not a GGUF file");
    version_ = c.read<uint32_t>("version");
    if (version_ != 2 && version_ != 3)
        throw Error(ErrorKind::BadFile, path() + ": GGUF version " + std::to_string(version_) +
                                            " is not supported (only 2 and 3)");
    const uint64_t n_tensors = c.read<uint64_t>("tensor_count");
    const uint64_t n_kv = c.read<uint64_t>("metadata_kv_count");
    // A key/value takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor info at least
    // 8 + 4 + 4 + 8: reject impossible counts before reserving anything.
    if (n_kv > c.remaining() / 13) c.fail("metadata_kv_count", std::to_string(n_kv) + " exceeds the file");
    if (n_tensors > c.remaining() / 24) c.fail("tensor_count", std::to_string(n_tensors) + " exceeds the file");

    kv_.reserve(static_cast<size_t>(n_kv));
    for (uint64_t k = 0; k < n_kv; ++k) {
        const std::string idx = "metadata[" + std::to_string(k) + "]";
        std::string key = c.read_string(idx + " key");
        const std::string field = "metadata " + quoted(key);
        const uint32_t type = c.read<uint32_t>(field + " type");
        if (!valid_type(type)) c.fail(field, "unknown value type " + std::to_string(type));
        GgufValue v = read_value(c, static_cast<GgufType>(type), field, 0);
        if (kv_index_.count(key)) c.fail(field, "duplicate key");
        kv_index_.emplace(key, kv_.size());
        kv_.emplace_back(std::move(key), std::move(v));
    }

    if (const GgufValue* a = find("general.alignment")) {
        if (a->type != GgufType::u32)
            throw Error(ErrorKind::BadFile, path() + ": GGUF metadata 'general.alignment' must be u32, is " +
                                                gguf_type_name(a->type));
        if (a->u == 0 || (a->u & (a->u - 1)) != 0)
            throw Error(ErrorKind::BadFile, path() + ": GGUF metadata 'general.alignment' = " +
                                                std::to_string(a->u) + " is not a power of two");
        alignment_ = static_cast<uint32_t>(a->u);
    }

    tensors_.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t k = 0; k < n_tensors; ++k) {
        GgufTensorInfo t;
        t.name = c.read_string("tensor[" + std::to_string(k) + "] name");
        const std::string field = "tensor " + quoted(t.name);
        const uint32_t n_dims = c.read<uint32_t>(field + " n_dimensions");
        if (n_dims == 0 || n_dims > kMaxDims)
            c.fail(field + " n_dimensions", std::to_string(n_dims) + " is not in 1..4");
        std::vector<uint64_t> ne(n_dims);
        for (uint32_t d = 0; d < n_dims; ++d) {
            ne[d] = c.read<uint64_t>(field + " dimension " + std::to_string(d));
            if (ne[d] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                c.fail(field + " dimension " + std::to_string(d), "does not fit int64");
        }
        t.ggml_type = c.read<uint32_t>(field + " type");
        t.offset = c.read<uint64_t>(field + " offset");
        std::string why;
        if (!ggml_tensor_bytes(t.ggml_type, ne, t.bytes, why)) {
            // An unknown type id cannot be sized; keep the tensor so it can be named in an
            // error, but anything else wrong with the dims is corruption.
            if (ggml_info(t.ggml_type)) c.fail(field, why);
            t.bytes = 0;
        }
        t.dtype = dtype_from_ggml(t.ggml_type);
        t.shape.assign(ne.rbegin(), ne.rend());
        if (t.offset % alignment_ != 0)
            c.fail(field + " offset", std::to_string(t.offset) + " is not a multiple of the alignment " +
                                          std::to_string(alignment_));
        if (tensor_index_.count(t.name)) c.fail(field, "duplicate tensor name");
        tensor_index_.emplace(t.name, tensors_.size());
        tensors_.push_back(std::move(t));
    }

    // The data section starts at the next multiple of the alignment. A file without tensors
    // (a vocabulary) may end before it.
    const uint64_t pos = c.pos();
    data_offset_ = pos + (alignment_ - pos % alignment_) % alignment_;
    if (tensors_.empty()) return;
    if (data_offset_ > file_.size())
        throw Error(ErrorKind::BadFile, path() + ": GGUF data section at offset " + std::to_string(data_offset_) +
                                            " is past the end of the file (" + std::to_string(file_.size()) +
                                            " bytes): truncated");
    const uint64_t data_size = file_.size() - data_offset_;
    for (const auto& t : tensors_) {
        if (t.offset > data_size || t.bytes > data_size - t.offset)
            throw Error(ErrorKind::BadFile,
                        path() + ": GGUF tensor " + quoted(t.name) + " data [" + std::to_string(t.offset) + ", +" +
                            std::to_string(t.bytes) + ") exceeds the data section (" +
                            std::to_string(data_size) + " bytes): truncated or corrupt");
    }
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

namespace {
[[noreturn]] void bad_key(const std::string& path, const std::string& key, const std::string& what) {
    throw Error(ErrorKind::BadFile, path + ": GGUF metadata " + quoted(key) + " " + what);
}
const GgufValue& need_key(const GgufFile& f, const std::string& key) {
    const GgufValue* v = f.find(key);
    if (!v) bad_key(f.path(), key, "is missing");
    return *v;
}
// Integer value as int64 when it fits, else false.
bool to_i64(const GgufValue& v, int64_t& out) {
    if (!v.is_integer()) return false;
    if (v.type == GgufType::u8 || v.type == GgufType::u16 || v.type == GgufType::u32 || v.type == GgufType::u64) {
        if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
        out = static_cast<int64_t>(v.u);
    } else {
        out = v.i;
    }
    return true;
}
}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
    const GgufValue& v = need_key(*this, key);
    if (v.type != GgufType::string) bad_key(path(), key, std::string("is ") + gguf_type_name(v.type) + ", not string");
    return v.s;
}

int64_t GgufFile::get_i64(const std::string& key) const {
    const GgufValue& v = need_key(*this, key);
    int64_t x = 0;
    if (!to_i64(v, x)) bad_key(path(), key, std::string("is ") + gguf_type_name(v.type) + ", not an int64-sized integer");
    return x;
}

uint32_t GgufFile::get_u32(const std::string& key) const {
    const int64_t x = get_i64(key);
    if (x < 0 || x > static_cast<int64_t>(std::numeric_limits<uint32_t>::max()))
        bad_key(path(), key, "= " + std::to_string(x) + " does not fit u32");
    return static_cast<uint32_t>(x);
}

float GgufFile::get_f32(const std::string& key) const {
    const GgufValue& v = need_key(*this, key);
    if (!v.is_float()) bad_key(path(), key, std::string("is ") + gguf_type_name(v.type) + ", not a float");
    return static_cast<float>(v.f);
}

bool GgufFile::get_bool(const std::string& key) const {
    const GgufValue& v = need_key(*this, key);
    if (v.type != GgufType::boolean) bad_key(path(), key, std::string("is ") + gguf_type_name(v.type) + ", not bool");
    return v.b;
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
    const GgufValue& v = need_key(*this, key);
    if (v.type != GgufType::array || v.array_type != GgufType::string) bad_key(path(), key, "is not an array of strings");
    std::vector<std::string> out;
    out.reserve(v.items.size());
    for (const auto& e : v.items) out.push_back(e.s);
    return out;
}

std::vector<float> GgufFile::get_f32_array(const std::string& key) const {
    const GgufValue& v = need_key(*this, key);
    if (v.type != GgufType::array || (v.array_type != GgufType::f32 && v.array_type != GgufType::f64))
        bad_key(path(), key, "is not an array of floats");
    std::vector<float> out;
    out.reserve(v.items.size());
    for (const auto& e : v.items) out.push_back(static_cast<float>(e.f));
    return out;
}

std::vector<int32_t> GgufFile::get_i32_array(const std::string& key) const {
    const GgufValue& v = need_key(*this, key);
    GgufValue probe;
    probe.type = v.array_type;
    if (v.type != GgufType::array || !probe.is_integer()) bad_key(path(), key, "is not an array of integers");
    std::vector<int32_t> out;
    out.reserve(v.items.size());
    for (size_t k = 0; k < v.items.size(); ++k) {
        int64_t x = 0;
        if (!to_i64(v.items[k], x) || x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max())
            bad_key(path(), key, "element " + std::to_string(k) + " does not fit i32");
        out.push_back(static_cast<int32_t>(x));
    }
    return out;
}

std::optional<std::string> GgufFile::string_or_none(const std::string& key) const {
    if (!has(key)) return std::nullopt;
    return get_string(key);
}

std::optional<int64_t> GgufFile::int_or_none(const std::string& key) const {
    if (!has(key)) return std::nullopt;
    return get_i64(key);
}

std::optional<double> GgufFile::number_or_none(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_float()) return v->f;
    return static_cast<double>(get_i64(key));
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const uint8_t* GgufFile::tensor_data(const GgufTensorInfo& t) const {
    if (!ggml_info(t.ggml_type))
        throw Error(ErrorKind::Unsupported, path() + ": tensor " + quoted(t.name) + " has unknown type " +
                                                std::to_string(t.ggml_type) + " of unknown size");
    return file_.data() + data_offset_ + t.offset;
}

GgufTensorView GgufFile::tensor(const std::string& name) const {
    const GgufTensorInfo* t = find_tensor(name);
    if (!t) throw Error(ErrorKind::InvalidArgument, path() + ": no tensor named " + quoted(name));
    if (!t->dtype)
        throw Error(ErrorKind::Unsupported, path() + ": tensor " + quoted(name) + " has unsupported type " +
                                                ggml_type_name(t->ggml_type) +
                                                " (vkml computes with f32, f16, q8_0, q6_K, q4_0)");
    return GgufTensorView{*t->dtype, t->shape, tensor_data(*t), t->bytes};
}

}  // namespace vkml::models
