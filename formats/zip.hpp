/// @file
/// ZIP archives, the container of `torch.save` checkpoints and NumPy `.npz` files: one CRC-32
/// (zlib's), one reader and one writer. The reader memory-maps the archive (one file, or the part
/// files whose concatenation is the archive, see MappedFile), handles ZIP64 (archives over 4 GiB)
/// and reads stored and deflated entries; stored entries can also be used in place. The writer
/// stores members uncompressed with a fixed 1980-01-01 timestamp (same input, same bytes) in the
/// 32-bit format (no ZIP64).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/mapped_file.hpp"

namespace evoscope {

class OutputFile;

/// CRC-32 (ISO 3309, the ZIP checksum) of `bytes`, continuing from `crc`.
std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t crc = 0);

struct ZipEntry {
    std::string name;
    std::uint16_t method = 0;       ///< 0 stored, 8 deflate
    std::uint64_t data_offset = 0;  ///< absolute offset of the entry data in the archive
    std::uint64_t compressed_size = 0;
    std::uint64_t size = 0;  ///< uncompressed size
    std::uint32_t crc32 = 0;

    bool is_stored() const { return method == 0 && compressed_size == size; }
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
    /// The whole data of an entry (stored or deflated), copied, CRC-checked.
    /// @throws FormatError for another compression method, corrupt data or a CRC mismatch.
    std::vector<std::byte> read(const ZipEntry& entry) const;
    /// Pointer to the data of a stored entry in the mapping, or nullptr when it crosses
    /// a part boundary. @throws FormatError for a compressed entry.
    const std::byte* data(const ZipEntry& entry) const;

    const MappedFile& source() const { return source_; }

    std::string describe() const { return source_.describe(); }

private:
    MappedFile source_;
    std::vector<ZipEntry> entries_;
    std::map<std::string, std::size_t> index_;
};

/// Writes stored members to an OutputFile (the caller commits it after `finish`). Refuses, with
/// InputError naming the file, an archive that would need ZIP64 (members or offsets reaching
/// 4 GiB, more than 65,534 members).
class ZipWriter {
public:
    /// Largest member, offset or central directory size of the 32-bit format.
    static constexpr std::uint64_t kMaxSize = 0xfffffffeULL;
    static constexpr std::size_t kMaxMembers = 0xfffe;
    /// Bytes a member adds besides its data: local header + central directory entry.
    static std::uint64_t overhead(std::string_view name);

    explicit ZipWriter(OutputFile& out);

    /// Appends member `name` whose data is the concatenation of `pieces`.
    void add(std::string_view name, std::initializer_list<std::span<const std::byte>> pieces);
    /// Writes the central directory and end record.
    void finish();

private:
    OutputFile& out_;
    std::string central_;
    std::uint64_t offset_ = 0;
    std::size_t n_members_ = 0;
};

}  // namespace evoscope
