#include "vkml/models/json.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <unordered_set>

#include "vkml/error.hpp"
#include "vkml/models/unicode.hpp"

namespace vkml::models {

Json::Json(int64_t v) : type_(Type::number), num_(static_cast<double>(v)), str_(std::to_string(v)) {}
Json::Json(uint64_t v) : type_(Type::number), num_(static_cast<double>(v)), str_(std::to_string(v)) {}

Json Json::array(Array items) {
    Json j;
    j.type_ = Type::array;
    j.arr_ = std::make_shared<Array>(std::move(items));
    return j;
}

Json Json::object(Object members) {
    Json j;
    j.type_ = Type::object;
    j.obj_ = std::make_shared<Object>(std::move(members));
    return j;
}

class JsonParser {
public:
    JsonParser(std::string_view text, const std::string& source) : s_(text), source_(source) {}

    Json document() {
        // Strict UTF-8 up front: a lone U+FFFD of one byte marks an invalid sequence.
        for (const auto& c : unicode::decode_utf8(s_))
            if (c.cp == 0xFFFD && c.len == 1) {
                pos_ = c.offset;
                fail("invalid UTF-8");
            }
        ws();
        Json v = value(0);
        ws();
        if (pos_ != s_.size()) fail("unexpected text after the value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(ErrorKind::BadFile, source_ + ": JSON at offset " + std::to_string(pos_) + ": " + what);
    }
    void ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
    }
    bool eat(char c) {
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!eat(c)) fail(std::string("expected '") + c + "'");
    }
    void literal(std::string_view w) {
        if (s_.compare(pos_, w.size(), w) != 0) fail("invalid literal");
        pos_ += w.size();
    }

    Json value(int depth) {
        if (depth > 256) fail("nested too deeply");
        if (pos_ >= s_.size()) fail("unexpected end of input");
        const char c = s_[pos_];
        if (c == '{') return object(depth);
        if (c == '[') return array(depth);
        if (c == '"') return Json(string());
        if (c == 't') { literal("true"); return Json(true); }
        if (c == 'f') { literal("false"); return Json(false); }
        if (c == 'n') { literal("null"); return Json(); }
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        fail(std::string("unexpected character '") + c + "'");
    }

    Json object(int depth) {
        expect('{');
        Json j = Json::object();
        ws();
        if (eat('}')) return j;
        std::unordered_set<std::string> seen;
        for (;;) {
            ws();
            if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a string key");
            const size_t key_at = pos_;
            std::string key = string();
            // A set, not a scan of the members: tokenizer.json vocabularies have 50k-200k keys.
            if (!seen.insert(key).second) {
                pos_ = key_at;
                fail("duplicate key \"" + key + "\"");
            }
            ws();
            expect(':');
            ws();
            Json v = value(depth + 1);
            j.obj_->emplace_back(std::move(key), std::move(v));
            ws();
            if (eat('}')) return j;
            expect(',');
        }
    }

    Json array(int depth) {
        expect('[');
        Json j = Json::array();
        ws();
        if (eat(']')) return j;
        for (;;) {
            ws();
            j.arr_->push_back(value(depth + 1));
            ws();
            if (eat(']')) return j;
            expect(',');
        }
    }

    uint32_t hex4() {
        if (s_.size() - pos_ < 4) fail("truncated \\u escape");
        uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s_[pos_++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
            else fail("bad hex digit in \\u escape");
        }
        return v;
    }

    std::string string() {
        expect('"');
        std::string out;
        for (;;) {
            if (pos_ >= s_.size()) fail("unterminated string");
            const char c = s_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) fail("unterminated escape");
            const char e = s_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (s_.compare(pos_, 2, "\\u") != 0) fail("unpaired surrogate");
                        pos_ += 2;
                        const uint32_t lo = hex4();
                        if (lo < 0xDC00 || lo > 0xDFFF) fail("unpaired surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        fail("unpaired surrogate");
                    }
                    out += unicode::encode_utf8(cp);
                    break;
                }
                default: fail(std::string("bad escape '\\") + e + "'");
            }
        }
    }

    Json number() {
        const size_t start = pos_;
        auto digits = [&] {
            const size_t b = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            return pos_ - b;
        };
        eat('-');
        if (eat('0')) {
            if (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') fail("leading zero in number");
        } else if (digits() == 0) {
            fail("expected digits");
        }
        if (eat('.') && digits() == 0) fail("expected digits after '.'");
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            ++pos_;
            if (!eat('+')) eat('-');
            if (digits() == 0) fail("expected exponent digits");
        }
        Json j;
        j.type_ = Json::Type::number;
        j.str_ = std::string(s_.substr(start, pos_ - start));
        j.num_ = std::strtod(j.str_.c_str(), nullptr);
        return j;
    }

    std::string_view s_;
    const std::string& source_;
    size_t pos_ = 0;
};

Json Json::parse(std::string_view text, const std::string& source) { return JsonParser(text, source).document(); }

const char* Json::type_name() const {
    switch (type_) {
        case Type::null: return "null";
        case Type::boolean: return "a boolean";
        case Type::number: return "a number";
        case Type::string: return "a string";
        case Type::array: return "an array";
        case Type::object: return "an object";
    }
    return "?";
}

namespace {
[[noreturn]] void wrong(const char* is, const char* want) {
    throw Error(ErrorKind::BadFile, std::string("JSON value is ") + is + ", expected " + want);
}
}  // namespace

bool Json::as_bool() const {
    if (type_ != Type::boolean) wrong(type_name(), "a boolean");
    return bool_;
}
double Json::as_number() const {
    if (type_ != Type::number) wrong(type_name(), "a number");
    return num_;
}
uint64_t Json::as_u64() const {
    if (type_ != Type::number) wrong(type_name(), "an unsigned integer");
    if (str_.empty() || str_.find_first_not_of("0123456789") != std::string::npos)
        throw Error(ErrorKind::BadFile, "JSON number " + str_ + " is not an unsigned integer");
    errno = 0;
    const unsigned long long v = std::strtoull(str_.c_str(), nullptr, 10);
    if (errno == ERANGE) throw Error(ErrorKind::BadFile, "JSON number " + str_ + " does not fit 64 bits");
    return v;
}
int64_t Json::as_i64() const {
    if (type_ != Type::number) wrong(type_name(), "an integer");
    if (str_.empty() || str_.find_first_not_of("-0123456789") != std::string::npos)
        throw Error(ErrorKind::BadFile, "JSON number " + str_ + " is not an integer");
    errno = 0;
    const long long v = std::strtoll(str_.c_str(), nullptr, 10);
    if (errno == ERANGE) throw Error(ErrorKind::BadFile, "JSON number " + str_ + " does not fit 64 bits");
    return v;
}
const std::string& Json::as_string() const {
    if (type_ != Type::string) wrong(type_name(), "a string");
    return str_;
}
const Json::Array& Json::as_array() const {
    if (type_ != Type::array) wrong(type_name(), "an array");
    return *arr_;
}
const Json::Object& Json::as_object() const {
    if (type_ != Type::object) wrong(type_name(), "an object");
    return *obj_;
}
const Json* Json::find(std::string_view key) const {
    if (type_ != Type::object) return nullptr;
    for (const auto& kv : *obj_)
        if (kv.first == key) return &kv.second;
    return nullptr;
}
const Json& Json::at(std::string_view key) const {
    const Json* v = find(key);
    if (!v) throw Error(ErrorKind::BadFile, "JSON object has no key \"" + std::string(key) + "\"");
    return *v;
}
size_t Json::size() const {
    if (type_ == Type::array) return arr_->size();
    if (type_ == Type::object) return obj_->size();
    return 0;
}
void Json::push_back(Json v) {
    if (type_ != Type::array) throw Error(ErrorKind::InvalidArgument, "Json::push_back on a non-array");
    arr_->push_back(std::move(v));
}
void Json::set(std::string key, Json value) {
    if (type_ != Type::object) throw Error(ErrorKind::InvalidArgument, "Json::set on a non-object");
    for (auto& kv : *obj_)
        if (kv.first == key) {
            kv.second = std::move(value);
            return;
        }
    obj_->emplace_back(std::move(key), std::move(value));
}

namespace {
void dump_string(const std::string& s, std::string& out) {
    out += '"';
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}
}  // namespace

std::string Json::dump() const {
    std::string out;
    switch (type_) {
        case Type::null: out = "null"; break;
        case Type::boolean: out = bool_ ? "true" : "false"; break;
        case Type::number:
            if (!str_.empty()) {
                out = str_;
            } else if (!std::isfinite(num_)) {
                throw Error(ErrorKind::InvalidArgument, "JSON cannot hold a non-finite number");
            } else {
                char buf[32];
                std::snprintf(buf, sizeof buf, "%.17g", num_);
                out = buf;
            }
            break;
        case Type::string: dump_string(str_, out); break;
        case Type::array:
            out = "[";
            for (size_t i = 0; i < arr_->size(); ++i) out += (i ? "," : "") + (*arr_)[i].dump();
            out += "]";
            break;
        case Type::object:
            out = "{";
            for (size_t i = 0; i < obj_->size(); ++i) {
                if (i) out += ",";
                dump_string((*obj_)[i].first, out);
                out += ":" + (*obj_)[i].second.dump();
            }
            out += "}";
            break;
    }
    return out;
}

}  // namespace vkml::models
