/// @file
/// A minimal read-only ZIP reader for `torch.save` archives. The archive may be one file or
/// a list of part files whose concatenation is the archive (the hub's `.pt.part0`, `.part1`,
/// ...); parts are memory-mapped and treated as one virtual byte range, never concatenated on
/// disk or in memory. Handles ZIP64 (checkpoints over 4 GiB). Entry data is readable only for
/// stored (uncompressed) entries, which is what torch's writer produces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace evoscope::model {

/// The files of one byte range, memory-mapped read-only. When every part but the last is a
/// multiple of the page size, the parts are mapped back to back into one contiguous address
/// range (then every byte range is contiguous); otherwise each part has its own mapping and
/// ranges crossing a part boundary must be copied with `read`.
class MappedParts {
public:
    /// @throws IoError (cannot open, stat or map a part), InputError (no parts),
    ///         FormatError (all parts empty).
    explicit MappedParts(std::vector<std::filesystem::path> parts);
    ~MappedParts();
    MappedParts(const MappedParts&) = delete;
    MappedParts& operator=(const MappedParts&) = delete;

    std::uint64_t size() const { return size_; }

    const std::vector<std::filesystem::path>& paths() const { return paths_; }

    /// "a.pt", or "a.pt.part0 (+2 parts)" for messages.
    std::string describe() const;
    /// Pointer to bytes [offset, offset + n) when they lie in one mapping, else nullptr.
    /// @throws FormatError when the range is beyond the end.
    const std::byte* contiguous(std::uint64_t offset, std::uint64_t n) const;
    /// Copies bytes [offset, offset + dst.size()) into `dst`.
    /// @throws FormatError when the range is beyond the end.
    void read(std::uint64_t offset, std::span<std::byte> dst) const;
    /// Tells the kernel the pages of [offset, offset + n) are not needed any more, so they
    /// leave this process's resident set (file-backed, re-read on the next access).
    void evict(std::uint64_t offset, std::uint64_t n) const;

    /// True when all parts share one contiguous mapping.
    bool is_contiguous() const { return base_ != nullptr; }

private:
    struct Part {
        std::uint64_t begin = 0;  ///< offset of the part in the virtual range
        std::uint64_t size = 0;
        std::byte* map = nullptr;  ///< nullptr for an empty part
    };

    void check_range(std::uint64_t offset, std::uint64_t n) const;

    std::vector<std::filesystem::path> paths_;
    std::vector<Part> parts_;
    std::uint64_t size_ = 0;
    std::byte* base_ = nullptr;  ///< the single reservation when contiguous
    std::size_t base_size_ = 0;
};

struct ZipEntry {
    std::string name;
    std::uint16_t method = 0;       ///< 0 stored, 8 deflate
    std::uint64_t data_offset = 0;  ///< absolute offset of the entry data in the archive
    std::uint64_t compressed_size = 0;
    std::uint64_t size = 0;  ///< uncompressed size
    std::uint32_t crc32 = 0;
};

class ZipReader {
public:
    /// Maps the parts and reads the central directory and every local header.
    /// @throws IoError, FormatError (not a zip archive, truncated, inconsistent headers,
    ///         encrypted or multi-disk archives), naming the file.
    explicit ZipReader(std::vector<std::filesystem::path> parts);

    const std::vector<ZipEntry>& entries() const { return entries_; }

    /// nullptr when absent.
    const ZipEntry* find(const std::string& name) const;
    /// The whole data of a stored entry, copied, CRC-checked.
    /// @throws FormatError for a compressed entry or a CRC mismatch.
    std::vector<std::byte> read(const ZipEntry& entry) const;
    /// Pointer to the data of a stored entry in the mapping, or nullptr when it crosses
    /// a part boundary. @throws FormatError for a compressed entry.
    const std::byte* data(const ZipEntry& entry) const;

    const MappedParts& source() const { return source_; }

    std::string describe() const { return source_.describe(); }

private:
    void check_stored(const ZipEntry& entry) const;

    MappedParts source_;
    std::vector<ZipEntry> entries_;
    std::map<std::string, std::size_t> index_;
};

/// CRC-32 (ISO 3309, the ZIP checksum) of `bytes`, continuing from `crc`.
std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t crc = 0);

}  // namespace evoscope::model
