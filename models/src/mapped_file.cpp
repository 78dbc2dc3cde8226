#include "vkml/models/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "vkml/error.hpp"

namespace vkml::models {

MappedFile::MappedFile(const std::string& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(ErrorKind::BadFile, path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        const int err = errno;
        ::close(fd);
        throw Error(ErrorKind::BadFile, path + ": not a readable regular file" +
                                            (err ? std::string(": ") + std::strerror(err) : ""));
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ > 0) {
        void* p = ::mmap(nullptr, static_cast<size_t>(size_), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw Error(ErrorKind::BadFile, path + ": mmap failed: " + std::strerror(err));
        }
        data_ = static_cast<const uint8_t*>(p);
        mapped_ = true;
    }
    ::close(fd);  // the mapping keeps the file alive
}

MappedFile MappedFile::from_memory(std::string name, std::vector<uint8_t> bytes) {
    MappedFile f;
    f.path_ = std::move(name);
    f.owned_ = std::move(bytes);
    f.data_ = f.owned_.empty() ? nullptr : f.owned_.data();
    f.size_ = f.owned_.size();
    return f;
}

MappedFile::~MappedFile() { release(); }

// A moved std::vector keeps its heap buffer, so data_ stays valid for owned bytes.
MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)), data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)), owned_(std::move(other.owned_)),
      mapped_(std::exchange(other.mapped_, false)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        release();
        path_ = std::move(other.path_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        owned_ = std::move(other.owned_);
        mapped_ = std::exchange(other.mapped_, false);
    }
    return *this;
}

void MappedFile::release() noexcept {
    if (data_ && mapped_) ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(size_));
    data_ = nullptr;
    mapped_ = false;
    owned_.clear();
    size_ = 0;
}

}  // namespace vkml::models
