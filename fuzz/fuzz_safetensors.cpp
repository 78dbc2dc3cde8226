// libFuzzer target: SafetensorsFile on arbitrary bytes (its JSON header included), then tensor views
// and float conversion of every tensor.
#include <cstddef>
#include <cstdint>

#include "common.hpp"
#include "vkml/error.hpp"
#include "vkml/models/safetensors.hpp"

using namespace vkml::models;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        SafetensorsFile f(vkml::fuzz::memory_file(data, size));
        (void)f.metadata();
        volatile uint8_t sink = 0;
        for (const SafetensorsTensorInfo& t : f.tensors()) {
            (void)f.find(t.name);
            try {
                const GgufTensorView v = f.tensor(t.name);
                if (v.bytes > 0) sink = sink + v.data[0] + v.data[v.bytes - 1];
            } catch (const vkml::Error&) {}
            try {
                const std::vector<float> x = f.floats(t.name);
                if (!x.empty()) sink = sink + static_cast<uint8_t>(x.size());
            } catch (const vkml::Error&) {}
        }
    } catch (const vkml::Error&) {
    }
    return 0;
}
