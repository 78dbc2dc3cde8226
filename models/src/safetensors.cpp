#include "vkml/models/safetensors.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "vkml/dtype.hpp"
#include "vkml/error.hpp"

namespace vkml::models {
namespace {

// Element sizes of the dtypes the format defines; anything else is corrupt.
uint64_t st_dtype_size(const std::string& d) {
    static const std::pair<const char*, uint64_t> kSizes[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
        {"I8", 1},  {"U64", 8}, {"U32", 4}, {"U16", 2},  {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1},
        {"F8_E5M2", 1},
    };
    for (const auto& [name, size] : kSizes)
        if (d == name) return size;
    return 0;
}

constexpr uint64_t kMaxHeader = 100ull << 20;  // the format's own limit on the JSON header

}  // namespace

float bf16_to_float(uint16_t v) {
    const uint32_t bits = static_cast<uint32_t>(v) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::string read_text_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(ErrorKind::BadFile, path + ": cannot open");
    std::stringstream ss;
    ss << f.rdbuf();
    if (f.bad()) throw Error(ErrorKind::BadFile, path + ": read failed");
    return ss.str();
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) { parse(); }
SafetensorsFile::SafetensorsFile(MappedFile file) : file_(std::move(file)) { parse(); }

void SafetensorsFile::parse() {
    auto bad = [&](const std::string& what) -> Error { return Error(ErrorKind::BadFile, path() + ": safetensors " + what); };
    if (file_.size() < 8) throw bad("header length: truncated (file has " + std::to_string(file_.size()) + " bytes)");
    uint64_t n = 0;
    std::memcpy(&n, file_.data(), 8);
    if (n > kMaxHeader) throw bad("header length " + std::to_string(n) + " exceeds the 100 MB limit");
    if (n > file_.size() - 8) throw bad("header length " + std::to_string(n) + " exceeds the file: truncated");
    if (n < 2) throw bad("header length " + std::to_string(n) + " is too small for a JSON object");
    data_start_ = 8 + n;
    const uint64_t buffer = file_.size() - data_start_;
    const std::string_view text(reinterpret_cast<const char*>(file_.data() + 8), static_cast<size_t>(n));
    const Json header = Json::parse(text, path() + ": safetensors header");
    if (!header.is_object()) throw bad("header is not a JSON object");

    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& [name, entry] : header.as_object()) {
        const std::string where = "tensor '" + name + "'";
        try {
            if (name == "__metadata__") {
                for (const auto& [k, v] : entry.as_object()) metadata_[k] = v.as_string();
                continue;
            }
            if (!entry.is_object()) throw bad(where + " is not an object");
            SafetensorsTensorInfo t;
            t.name = name;
            t.dtype = entry.at("dtype").as_string();
            const uint64_t esize = st_dtype_size(t.dtype);
            if (esize == 0) throw bad(where + " has unknown dtype '" + t.dtype + "'");
            uint64_t numel = 1;
            for (const Json& d : entry.at("shape").as_array()) {
                const uint64_t v = d.as_u64();
                if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
                    (v != 0 && numel > std::numeric_limits<uint64_t>::max() / v))
                    throw bad(where + " shape overflows");
                numel *= v;
                t.shape.push_back(static_cast<int64_t>(v));
            }
            const Json::Array& offs = entry.at("data_offsets").as_array();
            if (offs.size() != 2) throw bad(where + " data_offsets must have 2 entries");
            t.begin = offs[0].as_u64();
            t.end = offs[1].as_u64();
            if (t.end < t.begin) throw bad(where + " data_offsets end < begin");
            if (t.end > buffer)
                throw bad(where + " data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                          ") exceed the data buffer (" + std::to_string(buffer) + " bytes): truncated or corrupt");
            if (numel > std::numeric_limits<uint64_t>::max() / esize || numel * esize != t.end - t.begin)
                throw bad(where + " of " + t.dtype + " " + shape_string(t.shape) + " does not match its " +
                          std::to_string(t.end - t.begin) + " data bytes");
            index_.emplace(t.name, tensors_.size());
            if (t.end > t.begin) ranges.emplace_back(t.begin, t.end);
            tensors_.push_back(std::move(t));
        } catch (const Error& e) {
            if (std::string(e.what()).find(path()) != std::string::npos) throw;
            throw bad(where + ": " + e.what());
        }
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second) throw bad("tensor data ranges overlap");
}

const SafetensorsTensorInfo* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

GgufTensorView SafetensorsFile::tensor(const std::string& name) const {
    const SafetensorsTensorInfo* t = find(name);
    if (!t) throw Error(ErrorKind::InvalidArgument, path() + ": no tensor named '" + name + "'");
    DType dt;
    if (t->dtype == "F32")
        dt = DType::f32;
    else if (t->dtype == "F16")
        dt = DType::f16;
    else
        throw Error(ErrorKind::Unsupported, path() + ": tensor '" + name + "' has dtype " + t->dtype +
                                                (t->dtype == "BF16" ? " (convert it with floats())" : " (vkml takes F32, F16, BF16)"));
    return GgufTensorView{dt, t->shape, data(*t), t->end - t->begin};
}

std::vector<float> SafetensorsFile::floats(const std::string& name) const {
    const SafetensorsTensorInfo* t = find(name);
    if (!t) throw Error(ErrorKind::InvalidArgument, path() + ": no tensor named '" + name + "'");
    const uint8_t* p = data(*t);
    const uint64_t bytes = t->end - t->begin;
    std::vector<float> out;
    if (t->dtype == "F32") {
        out.resize(bytes / 4);
        if (bytes) std::memcpy(out.data(), p, bytes);
    } else if (t->dtype == "F16" || t->dtype == "BF16") {
        out.resize(bytes / 2);
        const bool bf = t->dtype == "BF16";
        for (size_t i = 0; i < out.size(); ++i) {
            uint16_t h;
            std::memcpy(&h, p + 2 * i, 2);
            out[i] = bf ? bf16_to_float(h) : half_to_float(h);
        }
    } else {
        throw Error(ErrorKind::Unsupported, path() + ": tensor '" + name + "' has dtype " + t->dtype +
                                                ", not F32, F16 or BF16");
    }
    return out;
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsWriteTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    Json header = Json::object();
    if (!metadata.empty()) {
        Json m = Json::object();
        for (const auto& [k, v] : metadata) m.set(k, Json(v));
        header.set("__metadata__", m);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        const uint64_t esize = st_dtype_size(t.dtype);
        if (esize == 0) throw Error(ErrorKind::InvalidArgument, "write_safetensors: unknown dtype " + t.dtype);
        if (static_cast<uint64_t>(shape_numel(t.shape)) * esize != t.bytes.size())
            throw Error(ErrorKind::InvalidArgument, "write_safetensors: tensor '" + t.name + "' " + shape_string(t.shape) +
                                                        " of " + t.dtype + " given " + std::to_string(t.bytes.size()) + " bytes");
        Json shape = Json::array();
        for (int64_t d : t.shape) shape.push_back(Json(d));
        Json e = Json::object();
        e.set("dtype", Json(t.dtype));
        e.set("shape", shape);
        e.set("data_offsets", Json::array({Json(offset), Json(offset + t.bytes.size())}));
        header.set(t.name, e);
        offset += t.bytes.size();
    }
    std::string h = header.dump();
    while ((8 + h.size()) % 8) h += ' ';  // pad so the buffer starts 8-byte aligned
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) throw Error(ErrorKind::BadFile, path + ": cannot open for writing");
    const uint64_t n = h.size();
    bool ok = std::fwrite(&n, 8, 1, f.get()) == 1 && std::fwrite(h.data(), 1, h.size(), f.get()) == h.size();
    for (const auto& t : tensors)
        ok = ok && (t.bytes.empty() || std::fwrite(t.bytes.data(), 1, t.bytes.size(), f.get()) == t.bytes.size());
    if (!ok || std::fflush(f.get()) != 0) throw Error(ErrorKind::BadFile, path + ": write failed");
}

HfModelFolder::HfModelFolder(const std::string& dir) : dir_(dir) {
    config_ = Json::parse(read_text_file(dir + "/config.json"), dir + "/config.json");
    if (!config_.is_object()) throw Error(ErrorKind::BadFile, dir + "/config.json: not a JSON object");
    has_tokenizer_json_ = static_cast<bool>(std::ifstream(dir + "/tokenizer.json"));
    const std::string index_path = dir + "/model.safetensors.index.json";
    if (std::ifstream(index_path)) {
        const Json index = Json::parse(read_text_file(index_path), index_path);
        const Json* map = index.find("weight_map");
        if (!map || !map->is_object()) throw Error(ErrorKind::BadFile, index_path + ": no \"weight_map\" object");
        std::map<std::string, size_t> shard_index;
        for (const auto& [name, shard_json] : map->as_object()) {
            if (!shard_json.is_string()) throw Error(ErrorKind::BadFile, index_path + ": weight_map[\"" + name + "\"] is not a string");
            const std::string& shard = shard_json.as_string();
            // A shard must be a plain file name inside the folder.
            if (shard.empty() || shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos || shard == "." || shard == "..")
                throw Error(ErrorKind::BadFile, index_path + ": shard name '" + shard + "' is not a file in the folder");
            auto it = shard_index.find(shard);
            if (it == shard_index.end()) {
                files_.push_back(std::make_unique<SafetensorsFile>(dir + "/" + shard));
                it = shard_index.emplace(shard, files_.size() - 1).first;
            }
            if (!files_[it->second]->find(name))
                throw Error(ErrorKind::BadFile, index_path + ": tensor '" + name + "' is not in its shard " + shard);
            where_[name] = it->second;
        }
    } else {
        files_.push_back(std::make_unique<SafetensorsFile>(dir + "/model.safetensors"));
        for (const auto& t : files_[0]->tensors()) where_[t.name] = 0;
    }
}

std::vector<std::string> HfModelFolder::tensor_names() const {
    std::vector<std::string> out;
    for (const auto& kv : where_) out.push_back(kv.first);
    return out;
}

const SafetensorsFile& HfModelFolder::file_of(const std::string& name) const {
    auto it = where_.find(name);
    if (it == where_.end()) throw Error(ErrorKind::InvalidArgument, dir_ + ": no tensor named '" + name + "'");
    return *files_[it->second];
}

const SafetensorsTensorInfo& HfModelFolder::info(const std::string& name) const { return *file_of(name).find(name); }
GgufTensorView HfModelFolder::tensor(const std::string& name) const { return file_of(name).tensor(name); }
std::vector<float> HfModelFolder::floats(const std::string& name) const { return file_of(name).floats(name); }

}  // namespace vkml::models
