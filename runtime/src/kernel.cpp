// Embedded-kernel lookup and a minimal SPIR-V reflector for vkml's kernel conventions:
// storage buffers (or uniform texel buffers) in set 0 at bindings 0..n-1, one optional
// push-constant block.
#include <algorithm>
#include <map>
#include <set>

#include "vk_internal.hpp"

namespace vkml {

const EmbeddedShader* find_embedded_shader(const std::string& name) {
    const auto& all = embedded_shaders();
    auto it = std::lower_bound(all.begin(), all.end(), name,
                               [](const EmbeddedShader& s, const std::string& n) { return s.name < n; });
    if (it == all.end() || name != it->name) return nullptr;
    return &*it;
}

namespace {

enum : uint32_t {
    kOpTypeInt = 21, kOpTypeFloat = 22, kOpTypeVector = 23, kOpTypeMatrix = 24,
    kOpTypeImage = 25, kOpTypeSampledImage = 27, kOpTypeArray = 28, kOpTypeStruct = 30,
    kOpTypePointer = 32, kOpConstant = 43, kOpVariable = 59, kOpDecorate = 71,
    kOpMemberDecorate = 72,
    kDecBlock = 2, kDecArrayStride = 6, kDecNonWritable = 24, kDecBinding = 33, kDecSet = 34,
    kDecOffset = 35,
    kScUniformConstant = 0, kScUniform = 2, kScPushConstant = 9, kScStorageBuffer = 12,
};

struct Module {
    std::map<uint32_t, std::vector<uint32_t>> types;  // id -> [opcode, operands after id...]
    std::map<uint32_t, uint32_t> constants;           // id -> low word
    std::map<uint32_t, std::pair<uint32_t, uint32_t>> pointers;  // id -> (storage class, type)
    std::map<uint32_t, std::pair<uint32_t, uint32_t>> variables;  // id -> (pointer type, class)
    std::map<uint32_t, uint32_t> binding, set, array_stride;
    std::set<uint32_t> nonwritable;                               // decorated ids
    std::map<uint32_t, std::map<uint32_t, uint32_t>> member_offset;  // struct -> member -> off
    std::map<uint32_t, std::set<uint32_t>> member_nonwritable;
};

uint32_t type_size(const Module& m, uint32_t id, const std::string& name, int depth = 0) {
    auto it = m.types.find(id);
    if (it == m.types.end() || depth > 16)
        throw Error(ErrorKind::Internal, "kernel '" + name + "': unknown SPIR-V type in push constants");
    const auto& t = it->second;
    switch (t[0]) {
        case kOpTypeInt:
        case kOpTypeFloat: return t[1] / 8;
        case kOpTypeVector:
        case kOpTypeMatrix: return t[2] * type_size(m, t[1], name, depth + 1);
        case kOpTypeArray: {
            auto c = m.constants.find(t[2]);
            auto s = m.array_stride.find(id);
            const uint32_t stride = s != m.array_stride.end() ? s->second : type_size(m, t[1], name, depth + 1);
            return (c == m.constants.end() ? 0 : c->second) * stride;
        }
        case kOpTypeStruct: {
            uint32_t size = 0;
            const auto offs = m.member_offset.find(id);
            for (size_t i = 1; i < t.size(); ++i) {
                uint32_t off = 0;
                if (offs != m.member_offset.end()) {
                    auto o = offs->second.find(static_cast<uint32_t>(i - 1));
                    if (o != offs->second.end()) off = o->second;
                }
                size = std::max(size, off + type_size(m, t[i], name, depth + 1));
            }
            return size;
        }
        default:
            throw Error(ErrorKind::Internal, "kernel '" + name + "': unsupported push-constant member type");
    }
}

}  // namespace

ShaderInterface reflect_shader(const uint32_t* words, size_t count, const std::string& name) {
    if (count < 5 || words[0] != 0x07230203u)
        throw Error(ErrorKind::Internal, "kernel '" + name + "' is not a SPIR-V module");
    Module m;
    for (size_t i = 5; i < count;) {
        const uint32_t op = words[i] & 0xffffu;
        const uint32_t n = words[i] >> 16;
        if (n == 0 || i + n > count)
            throw Error(ErrorKind::Internal, "kernel '" + name + "': malformed SPIR-V");
        const uint32_t* w = words + i;
        switch (op) {
            case kOpTypeInt: case kOpTypeFloat: case kOpTypeVector: case kOpTypeMatrix:
            case kOpTypeArray: case kOpTypeStruct: case kOpTypeImage: case kOpTypeSampledImage: {
                std::vector<uint32_t> t{op};
                t.insert(t.end(), w + 2, w + n);
                m.types[w[1]] = std::move(t);
                break;
            }
            case kOpTypePointer: m.pointers[w[1]] = {w[2], w[3]}; break;
            case kOpConstant: if (n >= 4) m.constants[w[2]] = w[3]; break;
            case kOpVariable: m.variables[w[2]] = {w[1], w[3]}; break;
            case kOpDecorate:
                if (w[2] == kDecBinding) m.binding[w[1]] = w[3];
                else if (w[2] == kDecSet) m.set[w[1]] = w[3];
                else if (w[2] == kDecNonWritable) m.nonwritable.insert(w[1]);
                else if (w[2] == kDecArrayStride) m.array_stride[w[1]] = w[3];
                break;
            case kOpMemberDecorate:
                if (w[3] == kDecOffset) m.member_offset[w[1]][w[2]] = w[4];
                else if (w[3] == kDecNonWritable) m.member_nonwritable[w[1]].insert(w[2]);
                break;
            default: break;
        }
        i += n;
    }

    ShaderInterface iface;
    std::map<uint32_t, bool> bindings;  // binding -> writable
    std::set<uint32_t> texels;
    for (const auto& [var, info] : m.variables) {
        const uint32_t sc = info.second;
        auto ptr = m.pointers.find(info.first);
        if (ptr == m.pointers.end()) continue;
        const uint32_t pointee = ptr->second.second;
        if (sc == kScPushConstant) {
            iface.push_constant_bytes = type_size(m, pointee, name);
            continue;
        }
        // A `uniform usamplerBuffer` (a sampled image in UniformConstant): a uniform texel buffer.
        auto st = m.types.find(pointee);
        const bool texel = sc == kScUniformConstant && st != m.types.end() && st->second[0] == kOpTypeSampledImage;
        if (sc != kScStorageBuffer && sc != kScUniform && !texel) continue;
        auto b = m.binding.find(var);
        if (b == m.binding.end()) continue;
        auto s = m.set.find(var);
        if (s != m.set.end() && s->second != 0)
            throw Error(ErrorKind::Internal, "kernel '" + name + "' uses descriptor set " +
                                                 std::to_string(s->second) + "; vkml uses set 0 only");
        bool writable = !texel && !m.nonwritable.count(var);
        if (writable && st != m.types.end() && st->second[0] == kOpTypeStruct) {
            const size_t members = st->second.size() - 1;
            auto nw = m.member_nonwritable.find(pointee);
            if (nw != m.member_nonwritable.end() && nw->second.size() == members) writable = false;
        }
        if (bindings.count(b->second))
            throw Error(ErrorKind::Internal, "kernel '" + name + "' declares binding " +
                                                 std::to_string(b->second) + " twice");
        bindings[b->second] = writable;
        if (texel) texels.insert(b->second);
    }
    iface.binding_count = static_cast<uint32_t>(bindings.size());
    uint32_t expect = 0;
    for (const auto& [b, writable] : bindings) {
        if (b != expect)
            throw Error(ErrorKind::Internal, "kernel '" + name + "': bindings must be 0.." +
                                                 std::to_string(bindings.size() - 1) + ", found " +
                                                 std::to_string(b));
        iface.binding_writable.push_back(writable);
        iface.binding_texel.push_back(texels.count(b) != 0);
        ++expect;
    }
    return iface;
}

}  // namespace vkml
