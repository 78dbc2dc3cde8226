// A small strict JSON parser (RFC 8259) for safetensors headers, config.json and
// tokenizer.json, and a serializer for writing them. Strict: no comments, no trailing commas,
// no duplicate keys, valid UTF-8 only, nesting at most 256 deep. Objects keep their key order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vkml::models {

class Json {
public:
    enum class Type { null, boolean, number, string, array, object };
    using Object = std::vector<std::pair<std::string, Json>>;
    using Array = std::vector<Json>;

    Json() = default;  // null
    Json(std::nullptr_t) {}
    Json(bool b) : type_(Type::boolean), bool_(b) {}
    Json(double d) : type_(Type::number), num_(d) {}
    Json(int v) : Json(static_cast<int64_t>(v)) {}
    Json(int64_t v);
    Json(uint64_t v);
    Json(const char* s) : type_(Type::string), str_(s) {}
    Json(std::string s) : type_(Type::string), str_(std::move(s)) {}
    static Json array(Array items = {});
    static Json object(Object members = {});

    // Parses a whole document (surrounding whitespace allowed). Errors are BadFile naming
    // `source` and the byte offset.
    static Json parse(std::string_view text, const std::string& source = "JSON");

    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::null; }
    bool is_number() const { return type_ == Type::number; }
    bool is_string() const { return type_ == Type::string; }
    bool is_array() const { return type_ == Type::array; }
    bool is_object() const { return type_ == Type::object; }

    // Typed access: a value of another type is a BadFile error (the JSON came from a file).
    bool as_bool() const;
    double as_number() const;
    // The exact integer a number token spelled (no rounding through double); an error for a
    // fraction, an exponent, or a value out of range.
    uint64_t as_u64() const;
    int64_t as_i64() const;
    const std::string& as_string() const;
    const Array& as_array() const;
    const Object& as_object() const;

    const Json* find(std::string_view key) const;  // nullptr if absent or not an object
    const Json& at(std::string_view key) const;    // BadFile naming the key if absent
    size_t size() const;                           // array or object length

    void push_back(Json v);                  // arrays
    void set(std::string key, Json value);   // objects: replaces an existing key

    std::string dump() const;  // compact serialization

private:
    const char* type_name() const;
    Type type_ = Type::null;
    bool bool_ = false;
    double num_ = 0.0;
    std::string str_;  // strings; for numbers, the token as written (for exact integers)
    std::shared_ptr<Array> arr_;
    std::shared_ptr<Object> obj_;
    friend class JsonParser;
};

}  // namespace vkml::models
