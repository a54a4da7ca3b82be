#include "formats/mapped_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.hpp"

namespace evoscope {
namespace {

std::string errno_text() {
    return std::strerror(errno);
}

/// A file descriptor closed on scope exit.
class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}

    ~Fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }

    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;

    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

    int get() const { return fd_; }

private:
    int fd_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// MappedFile

MappedFile::MappedFile(const std::filesystem::path& path)
    : MappedFile(std::vector<std::filesystem::path>{path}) {}

MappedFile::MappedFile(std::vector<std::filesystem::path> parts) : paths_(std::move(parts)) {
    EVOSCOPE_CHECK(!paths_.empty(), "no file given");
    std::vector<Fd> fds;
    for (const auto& path : paths_) {
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        EVOSCOPE_CHECK_IO(fd.get() >= 0, "cannot open '{}': {}", path.string(), errno_text());

        struct stat st {};

        EVOSCOPE_CHECK_IO(
            ::fstat(fd.get(), &st) == 0, "cannot stat '{}': {}", path.string(), errno_text());
        EVOSCOPE_CHECK_IO(S_ISREG(st.st_mode), "'{}' is not a regular file", path.string());
        parts_.push_back(Part{.begin = size_, .size = static_cast<std::uint64_t>(st.st_size)});
        size_ += static_cast<std::uint64_t>(st.st_size);
        fds.push_back(std::move(fd));
    }
    if (size_ == 0) {
        contiguous_ = true;  // nothing to map
        return;
    }

    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    bool can_be_contiguous = true;
    for (std::size_t i = 0; i + 1 < parts_.size(); ++i) {
        // A non-empty part that does not end on a page boundary would have its last page
        // overlaid by the next part's mapping.
        if (parts_[i].size % page != 0 && parts_[i].begin + parts_[i].size < size_) {
            can_be_contiguous = false;
        }
    }
    if (can_be_contiguous) {
        base_size_ = static_cast<std::size_t>((size_ + page - 1) / page * page);
        void* reserved = ::mmap(
            nullptr, base_size_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        EVOSCOPE_CHECK_IO(reserved != MAP_FAILED,
                          "cannot reserve {} bytes of address space for '{}': {}",
                          base_size_,
                          describe(),
                          errno_text());
        base_ = static_cast<std::byte*>(reserved);
        contiguous_ = true;
        for (std::size_t i = 0; i < parts_.size(); ++i) {
            Part& part = parts_[i];
            if (part.size == 0) {
                continue;
            }
            void* m = ::mmap(base_ + part.begin,
                             static_cast<std::size_t>(part.size),
                             PROT_READ,
                             MAP_PRIVATE | MAP_FIXED,
                             fds[i].get(),
                             0);
            if (m == MAP_FAILED) {
                const std::string reason = errno_text();
                ::munmap(base_, base_size_);
                base_ = nullptr;
                contiguous_ = false;
                throw IoError(fmt::format("cannot map '{}': {}", paths_[i].string(), reason));
            }
            part.map = static_cast<std::byte*>(m);
        }
        return;
    }
    for (std::size_t i = 0; i < parts_.size(); ++i) {
        Part& part = parts_[i];
        if (part.size == 0) {
            continue;
        }
        void* m = ::mmap(
            nullptr, static_cast<std::size_t>(part.size), PROT_READ, MAP_PRIVATE, fds[i].get(), 0);
        if (m == MAP_FAILED) {
            const std::string reason = errno_text();
            for (Part& done : parts_) {
                if (done.map != nullptr) {
                    ::munmap(done.map, static_cast<std::size_t>(done.size));
                    done.map = nullptr;
                }
            }
            throw IoError(fmt::format("cannot map '{}': {}", paths_[i].string(), reason));
        }
        part.map = static_cast<std::byte*>(m);
    }
}

MappedFile::~MappedFile() {
    if (base_ != nullptr) {
        ::munmap(base_, base_size_);
        return;
    }
    for (const Part& part : parts_) {
        if (part.map != nullptr) {
            ::munmap(part.map, static_cast<std::size_t>(part.size));
        }
    }
}

std::span<const std::byte> MappedFile::bytes() const {
    if (!contiguous_ || base_ == nullptr) {
        return {};
    }
    return {base_, static_cast<std::size_t>(size_)};
}

std::string MappedFile::describe() const {
    if (paths_.size() == 1) {
        return paths_.front().string();
    }
    return fmt::format("{} (+{} parts)", paths_.front().string(), paths_.size() - 1);
}

void MappedFile::check_range(std::uint64_t offset, std::uint64_t n) const {
    EVOSCOPE_CHECK_FORMAT(offset <= size_ && n <= size_ - offset,
                          "'{}': byte range [{}, {}) is beyond the end of the file ({} bytes); "
                          "truncated file or missing part?",
                          describe(),
                          offset,
                          offset + n,
                          size_);
}

const std::byte* MappedFile::contiguous(std::uint64_t offset, std::uint64_t n) const {
    check_range(offset, n);
    if (contiguous_) {
        return base_ == nullptr ? nullptr : base_ + offset;
    }
    for (const Part& part : parts_) {
        if (offset >= part.begin && offset - part.begin + n <= part.size && part.map != nullptr) {
            return part.map + (offset - part.begin);
        }
    }
    return nullptr;
}

void MappedFile::read(std::uint64_t offset, std::span<std::byte> dst) const {
    check_range(offset, dst.size());
    std::size_t done = 0;
    for (const Part& part : parts_) {
        if (done == dst.size()) {
            break;
        }
        const std::uint64_t pos = offset + done;
        if (part.size == 0 || pos >= part.begin + part.size || pos < part.begin) {
            continue;
        }
        const std::uint64_t in_part = pos - part.begin;
        const auto n = static_cast<std::size_t>(
            std::min<std::uint64_t>(part.size - in_part, dst.size() - done));
        std::memcpy(dst.data() + done, part.map + in_part, n);
        done += n;
    }
    EVOSCOPE_ASSERT(done == dst.size());
}

void MappedFile::evict(std::uint64_t offset, std::uint64_t n) const {
    advise(offset, n, MADV_DONTNEED);
}

void MappedFile::prefetch(std::uint64_t offset, std::uint64_t n) const {
    advise(offset, n, MADV_WILLNEED);
}

void MappedFile::advise(std::uint64_t offset, std::uint64_t n, int advice) const {
    if (n == 0 || offset >= size_) {
        return;
    }
    n = std::min(n, size_ - offset);
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    auto apply =
        [page, advice](
            std::byte* map, std::uint64_t map_size, std::uint64_t begin, std::uint64_t end) {
            begin = begin / page * page;
            end = std::min((end + page - 1) / page * page, (map_size + page - 1) / page * page);
            if (end > begin) {
                // Advisory only: a failure changes nothing but residency, which is harmless.
                ::madvise(map + begin, static_cast<std::size_t>(end - begin), advice);
            }
        };
    if (base_ != nullptr) {
        apply(base_, size_, offset, offset + n);
        return;
    }
    for (const Part& part : parts_) {
        if (part.map == nullptr) {
            continue;
        }
        const std::uint64_t begin = std::max(offset, part.begin);
        const std::uint64_t end = std::min(offset + n, part.begin + part.size);
        if (begin < end) {
            apply(part.map, part.size, begin - part.begin, end - part.begin);
        }
    }
}

}  // namespace evoscope
