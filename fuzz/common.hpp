// Shared helpers for the libFuzzer targets: parser inputs built from the fuzzer's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "vkml/models/mapped_file.hpp"

namespace vkml::fuzz {

inline models::MappedFile memory_file(const uint8_t* data, size_t size) {
    return models::MappedFile::from_memory("fuzz-input", std::vector<uint8_t>(data, data + size));
}

}  // namespace vkml::fuzz
