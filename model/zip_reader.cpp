#include "model/zip_reader.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.hpp"

namespace evoscope::model {
namespace {

static_assert(std::endian::native == std::endian::little,
              "checkpoint readers assume a little-endian host");

constexpr std::uint32_t kLocalHeaderSig = 0x04034b50;
constexpr std::uint32_t kCentralHeaderSig = 0x02014b50;
constexpr std::uint32_t kEocdSig = 0x06054b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::uint32_t kZip64EocdSig = 0x06064b50;
constexpr std::size_t kEocdSize = 22;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::size_t kZip64EocdSize = 56;
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::size_t kMaxComment = 65535;

template <typename T>
T load(const std::byte* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

std::uint16_t u16(const std::byte* p) {
    return load<std::uint16_t>(p);
}

std::uint32_t u32(const std::byte* p) {
    return load<std::uint32_t>(p);
}

std::uint64_t u64(const std::byte* p) {
    return load<std::uint64_t>(p);
}

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

constexpr std::array<std::uint32_t, 256> make_crc_table() {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) {
            c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
        }
        table[i] = c;
    }
    return table;
}

constexpr auto kCrcTable = make_crc_table();

}  // namespace

std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t crc) {
    crc = ~crc;
    for (const std::byte b : bytes) {
        crc = kCrcTable[(crc ^ static_cast<std::uint32_t>(b)) & 0xFFU] ^ (crc >> 8);
    }
    return ~crc;
}

// ---------------------------------------------------------------------------------------------
// MappedParts

MappedParts::MappedParts(std::vector<std::filesystem::path> parts) : paths_(std::move(parts)) {
    EVOSCOPE_CHECK(!paths_.empty(), "no checkpoint file given");
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
    EVOSCOPE_CHECK_FORMAT(size_ > 0, "'{}' is empty", describe());

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

MappedParts::~MappedParts() {
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

std::string MappedParts::describe() const {
    if (paths_.size() == 1) {
        return paths_.front().string();
    }
    return fmt::format("{} (+{} parts)", paths_.front().string(), paths_.size() - 1);
}

void MappedParts::check_range(std::uint64_t offset, std::uint64_t n) const {
    EVOSCOPE_CHECK_FORMAT(offset <= size_ && n <= size_ - offset,
                          "'{}': byte range [{}, {}) is beyond the end of the file ({} bytes); "
                          "truncated file or missing part?",
                          describe(),
                          offset,
                          offset + n,
                          size_);
}

const std::byte* MappedParts::contiguous(std::uint64_t offset, std::uint64_t n) const {
    check_range(offset, n);
    if (base_ != nullptr) {
        return base_ + offset;
    }
    for (const Part& part : parts_) {
        if (offset >= part.begin && offset - part.begin + n <= part.size && part.map != nullptr) {
            return part.map + (offset - part.begin);
        }
    }
    return nullptr;
}

void MappedParts::read(std::uint64_t offset, std::span<std::byte> dst) const {
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

void MappedParts::evict(std::uint64_t offset, std::uint64_t n) const {
    if (n == 0 || offset >= size_) {
        return;
    }
    n = std::min(n, size_ - offset);
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    auto advise =
        [page](std::byte* map, std::uint64_t map_size, std::uint64_t begin, std::uint64_t end) {
            begin = begin / page * page;
            end = std::min((end + page - 1) / page * page, (map_size + page - 1) / page * page);
            if (end > begin) {
                // Advisory only: a failure leaves the pages resident, which is harmless.
                ::madvise(map + begin, static_cast<std::size_t>(end - begin), MADV_DONTNEED);
            }
        };
    if (base_ != nullptr) {
        advise(base_, size_, offset, offset + n);
        return;
    }
    for (const Part& part : parts_) {
        if (part.map == nullptr) {
            continue;
        }
        const std::uint64_t begin = std::max(offset, part.begin);
        const std::uint64_t end = std::min(offset + n, part.begin + part.size);
        if (begin < end) {
            advise(part.map, part.size, begin - part.begin, end - part.begin);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ZipReader

ZipReader::ZipReader(std::vector<std::filesystem::path> parts) : source_(std::move(parts)) {
    const std::string file = source_.describe();
    const std::uint64_t size = source_.size();

    // End of central directory: the last signature in the final 22 + 65535 bytes.
    const auto tail_size =
        static_cast<std::size_t>(std::min<std::uint64_t>(size, kEocdSize + kMaxComment));
    std::vector<std::byte> tail(tail_size);
    source_.read(size - tail_size, tail);
    std::size_t eocd = std::numeric_limits<std::size_t>::max();
    for (std::size_t i = tail_size >= kEocdSize ? tail_size - kEocdSize + 1 : 0; i-- > 0;) {
        if (u32(tail.data() + i) == kEocdSig &&
            i + kEocdSize + u16(tail.data() + i + 20) <= tail_size) {
            eocd = i;
            break;
        }
    }
    if (eocd == std::numeric_limits<std::size_t>::max()) {
        std::array<std::byte, 4> head{};
        if (size >= head.size()) {
            source_.read(0, head);
        }
        const bool zip_start = u32(head.data()) == kLocalHeaderSig;
        throw FormatError(fmt::format(
            "'{}' is not a zip archive (no end-of-central-directory record){}",
            file,
            zip_start ? ": it starts like one, so it is probably truncated or a part is missing"
                      : "; torch.save has written zip archives since PyTorch 1.6, older "
                        "(legacy tar/pickle) files are not supported"));
    }
    const std::uint64_t eocd_pos = size - tail_size + eocd;
    const std::byte* e = tail.data() + eocd;
    std::uint64_t n_entries = u16(e + 10);
    std::uint64_t cd_size = u32(e + 12);
    std::uint64_t cd_offset = u32(e + 16);
    const std::uint16_t disk = u16(e + 4);
    const std::uint16_t cd_disk = u16(e + 6);

    bool zip64 = false;
    if (eocd_pos >= kZip64LocatorSize) {
        std::array<std::byte, kZip64LocatorSize> loc{};
        source_.read(eocd_pos - kZip64LocatorSize, loc);
        if (u32(loc.data()) == kZip64LocatorSig) {
            zip64 = true;
            const std::uint64_t rec_pos = u64(loc.data() + 8);
            std::array<std::byte, kZip64EocdSize> rec{};
            EVOSCOPE_CHECK_FORMAT(rec_pos <= size && size - rec_pos >= kZip64EocdSize,
                                  "'{}': ZIP64 end-of-central-directory offset {} is beyond the "
                                  "end of the file (truncated?)",
                                  file,
                                  rec_pos);
            source_.read(rec_pos, rec);
            EVOSCOPE_CHECK_FORMAT(u32(rec.data()) == kZip64EocdSig,
                                  "'{}': bad ZIP64 end-of-central-directory record at offset {}",
                                  file,
                                  rec_pos);
            EVOSCOPE_CHECK_FORMAT(u32(rec.data() + 16) == 0 && u32(rec.data() + 20) == 0,
                                  "'{}': multi-disk zip archives are not supported",
                                  file);
            n_entries = u64(rec.data() + 32);
            cd_size = u64(rec.data() + 40);
            cd_offset = u64(rec.data() + 48);
        }
    }
    if (!zip64) {
        EVOSCOPE_CHECK_FORMAT(
            disk == 0 && cd_disk == 0, "'{}': multi-disk zip archives are not supported", file);
        EVOSCOPE_CHECK_FORMAT(
            n_entries != 0xFFFF && cd_size != 0xFFFFFFFF && cd_offset != 0xFFFFFFFF,
            "'{}': ZIP64 fields without a ZIP64 end-of-central-directory "
            "locator (truncated?)",
            file);
    }
    EVOSCOPE_CHECK_FORMAT(cd_offset <= eocd_pos && cd_size <= eocd_pos - cd_offset,
                          "'{}': central directory [{}, {}) is beyond its end record at {} "
                          "(truncated or a part missing?)",
                          file,
                          cd_offset,
                          cd_offset + cd_size,
                          eocd_pos);
    EVOSCOPE_CHECK_FORMAT(n_entries <= cd_size / kCentralHeaderSize,
                          "'{}': central directory of {} bytes cannot hold {} entries",
                          file,
                          cd_size,
                          n_entries);

    std::vector<std::byte> cd(static_cast<std::size_t>(cd_size));
    source_.read(cd_offset, cd);
    std::size_t pos = 0;
    entries_.reserve(static_cast<std::size_t>(n_entries));
    for (std::uint64_t k = 0; k < n_entries; ++k) {
        EVOSCOPE_CHECK_FORMAT(
            pos + kCentralHeaderSize <= cd.size() && u32(cd.data() + pos) == kCentralHeaderSig,
            "'{}': bad central directory header #{} at offset {}",
            file,
            k,
            cd_offset + pos);
        const std::byte* h = cd.data() + pos;
        const std::uint16_t flags = u16(h + 8);
        ZipEntry entry;
        entry.method = u16(h + 10);
        entry.crc32 = u32(h + 16);
        entry.compressed_size = u32(h + 20);
        entry.size = u32(h + 24);
        const std::size_t name_len = u16(h + 28);
        const std::size_t extra_len = u16(h + 30);
        const std::size_t comment_len = u16(h + 32);
        std::uint64_t local_offset = u32(h + 42);
        EVOSCOPE_CHECK_FORMAT(
            pos + kCentralHeaderSize + name_len + extra_len + comment_len <= cd.size(),
            "'{}': central directory header #{} overruns the directory",
            file,
            k);
        entry.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);
        EVOSCOPE_CHECK_FORMAT((flags & 1U) == 0, "'{}': entry '{}' is encrypted", file, entry.name);

        // ZIP64 extended information: present fields replace the saturated 32-bit ones, in
        // this fixed order.
        const std::byte* extra = h + kCentralHeaderSize + name_len;
        for (std::size_t x = 0; x + 4 <= extra_len;) {
            const std::uint16_t id = u16(extra + x);
            const std::size_t len = u16(extra + x + 2);
            EVOSCOPE_CHECK_FORMAT(x + 4 + len <= extra_len,
                                  "'{}': entry '{}': extra field overruns its header",
                                  file,
                                  entry.name);
            if (id == 0x0001) {
                std::size_t f = x + 4;
                auto take = [&](std::uint64_t& field) {
                    EVOSCOPE_CHECK_FORMAT(f + 8 <= x + 4 + len,
                                          "'{}': entry '{}': short ZIP64 extra field",
                                          file,
                                          entry.name);
                    field = u64(extra + f);
                    f += 8;
                };
                if (entry.size == 0xFFFFFFFF) {
                    take(entry.size);
                }
                if (entry.compressed_size == 0xFFFFFFFF) {
                    take(entry.compressed_size);
                }
                if (local_offset == 0xFFFFFFFF) {
                    take(local_offset);
                }
            }
            x += 4 + len;
        }
        pos += kCentralHeaderSize + name_len + extra_len + comment_len;

        std::array<std::byte, kLocalHeaderSize> local{};
        EVOSCOPE_CHECK_FORMAT(
            local_offset <= cd_offset && cd_offset - local_offset >= kLocalHeaderSize,
            "'{}': entry '{}': local header offset {} is outside the archive data",
            file,
            entry.name,
            local_offset);
        source_.read(local_offset, local);
        EVOSCOPE_CHECK_FORMAT(u32(local.data()) == kLocalHeaderSig,
                              "'{}': entry '{}': bad local header at offset {}",
                              file,
                              entry.name,
                              local_offset);
        entry.data_offset =
            local_offset + kLocalHeaderSize + u16(local.data() + 26) + u16(local.data() + 28);
        EVOSCOPE_CHECK_FORMAT(entry.data_offset <= cd_offset &&
                                  entry.compressed_size <= cd_offset - entry.data_offset,
                              "'{}': entry '{}': data [{}, {}) runs into the central directory",
                              file,
                              entry.name,
                              entry.data_offset,
                              entry.data_offset + entry.compressed_size);
        const auto [it, inserted] = index_.emplace(entry.name, entries_.size());
        EVOSCOPE_CHECK_FORMAT(inserted, "'{}': duplicate entry '{}'", file, entry.name);
        entries_.push_back(std::move(entry));
    }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
}

void ZipReader::check_stored(const ZipEntry& entry) const {
    EVOSCOPE_CHECK_FORMAT(entry.method == 0 && entry.compressed_size == entry.size,
                          "'{}': entry '{}' is compressed (method {}); only stored entries are "
                          "supported, as torch.save writes them (was the archive re-zipped?)",
                          describe(),
                          entry.name,
                          entry.method);
}

std::vector<std::byte> ZipReader::read(const ZipEntry& entry) const {
    check_stored(entry);
    std::vector<std::byte> bytes(static_cast<std::size_t>(entry.size));
    source_.read(entry.data_offset, bytes);
    const std::uint32_t crc = crc32(bytes);
    EVOSCOPE_CHECK_FORMAT(crc == entry.crc32,
                          "'{}': entry '{}' is corrupt (CRC-32 {:08x}, expected {:08x})",
                          describe(),
                          entry.name,
                          crc,
                          entry.crc32);
    return bytes;
}

const std::byte* ZipReader::data(const ZipEntry& entry) const {
    check_stored(entry);
    return source_.contiguous(entry.data_offset, entry.size);
}

}  // namespace evoscope::model
