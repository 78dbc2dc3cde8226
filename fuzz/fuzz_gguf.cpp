// libFuzzer target: GgufFile on arbitrary bytes, then every accessor a model loader uses.
// Bad input must end in vkml::Error; anything else (crash, sanitizer report, other exception) is a bug.
#include <cstddef>
#include <cstdint>

#include "common.hpp"
#include "vkml/error.hpp"
#include "vkml/models/gguf.hpp"

using namespace vkml::models;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        GgufFile f(vkml::fuzz::memory_file(data, size));
        (void)f.version();
        (void)f.alignment();
        for (const auto& [key, value] : f.metadata()) {
            // Each typed getter either converts or throws vkml::Error.
            try { (void)f.get_string(key); } catch (const vkml::Error&) {}
            try { (void)f.get_u32(key); } catch (const vkml::Error&) {}
            try { (void)f.get_i64(key); } catch (const vkml::Error&) {}
            try { (void)f.get_f32(key); } catch (const vkml::Error&) {}
            try { (void)f.get_bool(key); } catch (const vkml::Error&) {}
            try { (void)f.get_string_array(key); } catch (const vkml::Error&) {}
            try { (void)f.get_f32_array(key); } catch (const vkml::Error&) {}
            try { (void)f.get_i32_array(key); } catch (const vkml::Error&) {}
            try { (void)f.string_or_none(key); } catch (const vkml::Error&) {}
            try { (void)f.int_or_none(key); } catch (const vkml::Error&) {}
            try { (void)f.number_or_none(key); } catch (const vkml::Error&) {}
            (void)value.is_integer();
        }
        volatile uint8_t sink = 0;
        for (const GgufTensorInfo& t : f.tensors()) {
            try {
                const GgufTensorView v = f.tensor(t.name);
                // Touch the first and last byte: the view must lie inside the file.
                if (v.bytes > 0) sink = sink + v.data[0] + v.data[v.bytes - 1];
            } catch (const vkml::Error&) {}
            (void)f.find_tensor(t.name);
        }
    } catch (const vkml::Error&) {
    }
    return 0;
}
