// MappedFile: a read-only memory map of a whole file (RAII). Weight files are mapped rather
// than read so that loading a model costs no copy and pages come in on demand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vkml::models {

class MappedFile {
public:
    MappedFile() = default;
    // Maps `path` read-only; a missing or unreadable file is a BadFile error naming it.
    explicit MappedFile(const std::string& path);
    // The same interface over bytes already in memory (tests, fuzzing, embedded files);
    // `name` stands for the path in error messages.
    static MappedFile from_memory(std::string name, std::vector<uint8_t> bytes);
    ~MappedFile();
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return data_; }
    uint64_t size() const { return size_; }
    const std::string& path() const { return path_; }

private:
    void release() noexcept;
    std::string path_;
    const uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
    std::vector<uint8_t> owned_;  // from_memory only
    bool mapped_ = false;
};

}  // namespace vkml::models
