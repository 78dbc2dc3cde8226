// GGUF v3 writer and the GgufValue helpers.
#include <cstdio>
#include <cstring>
#include <memory>

#include "vkml/error.hpp"
#include "vkml/models/gguf.hpp"

namespace vkml::models {

// Defined in gguf.cpp.
bool ggml_tensor_bytes(uint32_t ggml_type, const std::vector<uint64_t>& ne, uint64_t& bytes,
                       std::string& why);

bool GgufValue::is_integer() const {
    switch (type) {
        case GgufType::u8: case GgufType::i8: case GgufType::u16: case GgufType::i16:
        case GgufType::u32: case GgufType::i32: case GgufType::u64: case GgufType::i64: return true;
        default: return false;
    }
}

GgufValue GgufValue::make_u32(uint32_t v) { GgufValue x; x.type = GgufType::u32; x.u = v; return x; }
GgufValue GgufValue::make_i32(int32_t v) { GgufValue x; x.type = GgufType::i32; x.i = v; return x; }
GgufValue GgufValue::make_u64(uint64_t v) { GgufValue x; x.type = GgufType::u64; x.u = v; return x; }
GgufValue GgufValue::make_f32(float v) { GgufValue x; x.type = GgufType::f32; x.f = v; return x; }
GgufValue GgufValue::make_bool(bool v) { GgufValue x; x.type = GgufType::boolean; x.b = v; return x; }
GgufValue GgufValue::make_string(std::string v) { GgufValue x; x.type = GgufType::string; x.s = std::move(v); return x; }

GgufValue GgufValue::make_array(GgufType elem, std::vector<GgufValue> items) {
    for (const auto& e : items)
        if (e.type != elem)
            throw Error(ErrorKind::InvalidArgument, std::string("GGUF array of ") + gguf_type_name(elem) +
                                                        " given an element of type " + gguf_type_name(e.type));
    GgufValue x;
    x.type = GgufType::array;
    x.array_type = elem;
    x.items = std::move(items);
    return x;
}

GgufValue GgufValue::make_string_array(const std::vector<std::string>& v) {
    std::vector<GgufValue> items;
    items.reserve(v.size());
    for (const auto& s : v) items.push_back(make_string(s));
    return make_array(GgufType::string, std::move(items));
}

GgufValue GgufValue::make_f32_array(const std::vector<float>& v) {
    std::vector<GgufValue> items;
    items.reserve(v.size());
    for (float f : v) items.push_back(make_f32(f));
    return make_array(GgufType::f32, std::move(items));
}

GgufValue GgufValue::make_i32_array(const std::vector<int32_t>& v) {
    std::vector<GgufValue> items;
    items.reserve(v.size());
    for (int32_t i : v) items.push_back(make_i32(i));
    return make_array(GgufType::i32, std::move(items));
}

bool GgufValue::operator==(const GgufValue& o) const {
    if (type != o.type) return false;
    switch (type) {
        case GgufType::u8: case GgufType::u16: case GgufType::u32: case GgufType::u64: return u == o.u;
        case GgufType::i8: case GgufType::i16: case GgufType::i32: case GgufType::i64: return i == o.i;
        case GgufType::f32: case GgufType::f64: return f == o.f || (f != f && o.f != o.f);
        case GgufType::boolean: return b == o.b;
        case GgufType::string: return s == o.s;
        case GgufType::array: return array_type == o.array_type && items == o.items;
    }
    return false;
}

void GgufWriter::set(const std::string& key, GgufValue value) {
    for (auto& kv : kv_)
        if (kv.first == key) {
            kv.second = std::move(value);
            return;
        }
    kv_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(const std::string& name, DType dtype, const Shape& shape, const void* data,
                            uint64_t bytes) {
    add_tensor_raw(name, ggml_from_dtype(dtype), shape, data, bytes);
}

void GgufWriter::add_tensor_raw(const std::string& name, uint32_t ggml_type, const Shape& shape,
                                const void* data, uint64_t bytes) {
    if (shape.empty() || shape.size() > 4)
        throw Error(ErrorKind::InvalidArgument, "GgufWriter: tensor '" + name + "' needs 1 to 4 dimensions, has " +
                                                    std::to_string(shape.size()));
    std::vector<uint64_t> ne;
    for (auto it = shape.rbegin(); it != shape.rend(); ++it) {
        if (*it < 0) throw Error(ErrorKind::InvalidArgument, "GgufWriter: tensor '" + name + "' has a negative dimension");
        ne.push_back(static_cast<uint64_t>(*it));
    }
    uint64_t expect = 0;
    std::string why;
    if (!ggml_tensor_bytes(ggml_type, ne, expect, why))
        throw Error(ErrorKind::InvalidArgument, "GgufWriter: tensor '" + name + "' " + shape_string(shape) + ": " + why);
    if (expect != bytes)
        throw Error(ErrorKind::InvalidArgument, "GgufWriter: tensor '" + name + "' " + shape_string(shape) + " of " +
                                                    ggml_type_name(ggml_type) + " needs " + std::to_string(expect) +
                                                    " bytes, given " + std::to_string(bytes));
    for (const auto& t : tensors_)
        if (t.name == name) throw Error(ErrorKind::InvalidArgument, "GgufWriter: duplicate tensor '" + name + "'");
    const auto* p = static_cast<const uint8_t*>(data);
    tensors_.push_back(Pending{name, ggml_type, shape, std::vector<uint8_t>(p, p + bytes)});
}

uint32_t GgufWriter::alignment() const {
    for (const auto& kv : kv_)
        if (kv.first == "general.alignment") {
            if (kv.second.type != GgufType::u32 || kv.second.u == 0 || (kv.second.u & (kv.second.u - 1)))
                throw Error(ErrorKind::InvalidArgument, "GgufWriter: general.alignment must be a u32 power of two");
            return static_cast<uint32_t>(kv.second.u);
        }
    return 32;
}

namespace {
template <typename T>
void put(std::vector<uint8_t>& out, T v) {
    // resize + memcpy rather than insert: GCC 12 warns falsely on inserting small arrays.
    const size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &v, sizeof(T));
}
void put_string(std::vector<uint8_t>& out, const std::string& s) {
    put<uint64_t>(out, s.size());
    const size_t at = out.size();
    out.resize(at + s.size());
    if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size());
}
void put_value(std::vector<uint8_t>& out, const GgufValue& v) {
    switch (v.type) {
        case GgufType::u8: put<uint8_t>(out, static_cast<uint8_t>(v.u)); break;
        case GgufType::i8: put<int8_t>(out, static_cast<int8_t>(v.i)); break;
        case GgufType::u16: put<uint16_t>(out, static_cast<uint16_t>(v.u)); break;
        case GgufType::i16: put<int16_t>(out, static_cast<int16_t>(v.i)); break;
        case GgufType::u32: put<uint32_t>(out, static_cast<uint32_t>(v.u)); break;
        case GgufType::i32: put<int32_t>(out, static_cast<int32_t>(v.i)); break;
        case GgufType::u64: put<uint64_t>(out, v.u); break;
        case GgufType::i64: put<int64_t>(out, v.i); break;
        case GgufType::f32: put<float>(out, static_cast<float>(v.f)); break;
        case GgufType::f64: put<double>(out, v.f); break;
        case GgufType::boolean: put<uint8_t>(out, v.b ? 1 : 0); break;
        case GgufType::string: put_string(out, v.s); break;
        case GgufType::array:
            put<uint32_t>(out, static_cast<uint32_t>(v.array_type));
            put<uint64_t>(out, v.items.size());
            for (const auto& e : v.items) put_value(out, e);
            break;
    }
}
void pad_to(std::vector<uint8_t>& out, uint64_t align) {
    while (out.size() % align) out.push_back(0);
}
}  // namespace

std::vector<uint8_t> GgufWriter::to_bytes() const {
    const uint32_t align = alignment();
    std::vector<uint8_t> out;
    put<uint32_t>(out, 0x46554747u);
    put<uint32_t>(out, 3);
    put<uint64_t>(out, tensors_.size());
    put<uint64_t>(out, kv_.size());
    for (const auto& [key, value] : kv_) {
        put_string(out, key);
        put<uint32_t>(out, static_cast<uint32_t>(value.type));
        put_value(out, value);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        put_string(out, t.name);
        put<uint32_t>(out, static_cast<uint32_t>(t.shape.size()));
        for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put<uint64_t>(out, static_cast<uint64_t>(*it));
        put<uint32_t>(out, t.ggml_type);
        put<uint64_t>(out, offset);
        offset += t.data.size();
        offset += (align - offset % align) % align;
    }
    pad_to(out, align);
    for (const auto& t : tensors_) {
        const size_t at = out.size();
        out.resize(at + t.data.size());
        if (!t.data.empty()) std::memcpy(out.data() + at, t.data.data(), t.data.size());
        pad_to(out, align);
    }
    return out;
}

void GgufWriter::write(const std::string& path) const {
    const std::vector<uint8_t> bytes = to_bytes();
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) throw Error(ErrorKind::BadFile, path + ": cannot open for writing");
    if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size() || std::fflush(f.get()) != 0)
        throw Error(ErrorKind::BadFile, path + ": write failed");
}

}  // namespace vkml::models
