/// @file
/// The one read-only memory-mapped file of evoscope. A MappedFile is one file, or a list of part
/// files whose concatenation is the logical file (the hub's `.pt.part0`, `.part1`, ...): parts are
/// mapped and treated as one virtual byte range, never concatenated on disk or in memory. Empty
/// files are allowed (size 0, nothing mapped).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace evoscope {

/// When every part but the last is a multiple of the page size, the parts are mapped back to back
/// into one contiguous address range (then every byte range is contiguous); otherwise each part
/// has its own mapping and ranges crossing a part boundary must be copied with `read`.
class MappedFile {
public:
    /// @throws IoError (cannot open, stat or map).
    explicit MappedFile(const std::filesystem::path& path);
    /// @throws IoError (cannot open, stat or map a part), InputError (no parts).
    explicit MappedFile(std::vector<std::filesystem::path> parts);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::uint64_t size() const { return size_; }

    const std::vector<std::filesystem::path>& paths() const { return paths_; }

    /// "a.pt", or "a.pt.part0 (+2 parts)" for messages.
    std::string describe() const;
    /// The whole file when it is contiguous (always for one file), else an empty span.
    std::span<const std::byte> bytes() const;
    /// Pointer to bytes [offset, offset + n) when they lie in one mapping, else nullptr.
    /// @throws FormatError when the range is beyond the end.
    const std::byte* contiguous(std::uint64_t offset, std::uint64_t n) const;
    /// Copies bytes [offset, offset + dst.size()) into `dst`.
    /// @throws FormatError when the range is beyond the end.
    void read(std::uint64_t offset, std::span<std::byte> dst) const;
    /// Tells the kernel the pages of [offset, offset + n) are not needed any more, so they
    /// leave this process's resident set (file-backed, re-read on the next access).
    void evict(std::uint64_t offset, std::uint64_t n) const;
    /// Asks the kernel to read [offset, offset + n) ahead in one go (advisory).
    void prefetch(std::uint64_t offset, std::uint64_t n) const;

    /// True when all parts share one contiguous mapping.
    bool is_contiguous() const { return contiguous_; }

private:
    struct Part {
        std::uint64_t begin = 0;  ///< offset of the part in the virtual range
        std::uint64_t size = 0;
        std::byte* map = nullptr;  ///< nullptr for an empty part
    };

    void check_range(std::uint64_t offset, std::uint64_t n) const;
    void advise(std::uint64_t offset, std::uint64_t n, int advice) const;

    std::vector<std::filesystem::path> paths_;
    std::vector<Part> parts_;
    std::uint64_t size_ = 0;
    bool contiguous_ = false;
    std::byte* base_ = nullptr;  ///< the single reservation when contiguous
    std::size_t base_size_ = 0;
};

}  // namespace evoscope
