// Kernels: SPIR-V compiled from shaders/ at build time and embedded in the library by name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vkml {

struct EmbeddedShader {
    const char* name;  // variant name, e.g. "softmax_f32"
    const uint32_t* words;
    size_t word_count;
};
// Every kernel compiled into this build, sorted by name.
const std::vector<EmbeddedShader>& embedded_shaders();
const EmbeddedShader* find_embedded_shader(const std::string& name);

// What a pipeline needs from its SPIR-V, read by a small reflector.
struct ShaderInterface {
    uint32_t binding_count = 0;        // buffers in set 0, bindings 0..n-1
    std::vector<bool> binding_writable;  // false where the block is `readonly`
    // A `uniform usamplerBuffer` instead of a storage buffer: Stream::dispatch views the bound
    // range as RGBA32UI texels (16 bytes; the range rounded up to whole texels within the
    // buffer, its offset a multiple of minTexelBufferOffsetAlignment). llvmpipe gathers texel
    // fetches, where storage loads at per-lane addresses become a loop over the lanes.
    std::vector<bool> binding_texel;
    uint32_t push_constant_bytes = 0;  // size of the push-constant block, 0 if none
};
// Throws Internal if the module does not follow vkml's conventions (set 0, dense bindings).
ShaderInterface reflect_shader(const uint32_t* words, size_t word_count, const std::string& name);

// A compute pipeline for one (kernel, specialization constants) pair, owned by its Device.
class Kernel {
public:
    const std::string& name() const { return name_; }
    const ShaderInterface& interface() const { return iface_; }
    const std::vector<uint32_t>& spec_constants() const { return spec_; }

    struct Handles;
    const Handles& handles() const { return *handles_; }

    Kernel(std::string name, std::vector<uint32_t> spec, ShaderInterface iface,
           std::unique_ptr<Handles> handles);
    ~Kernel();

private:
    std::string name_;
    std::vector<uint32_t> spec_;
    ShaderInterface iface_;
    std::unique_ptr<Handles> handles_;
};

}  // namespace vkml
