#include "formats/zip.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <utility>

#include <zlib.h>

#include "core/check.hpp"
#include "core/output_file.hpp"

namespace evoscope {
namespace {

static_assert(std::endian::native == std::endian::little,
              "ZIP readers assume a little-endian host");

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
constexpr std::uint16_t kZipVersion = 20;     // 2.0: the oldest version every reader handles
constexpr std::uint16_t kDosDate1980 = 0x21;  // 1980-01-01 (day 1, month 1, year 0)

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

void put16(std::string& out, std::uint64_t v) {
    out.push_back(static_cast<char>(v & 0xffU));
    out.push_back(static_cast<char>((v >> 8) & 0xffU));
}

void put32(std::string& out, std::uint64_t v) {
    put16(out, v & 0xffffU);
    put16(out, (v >> 16) & 0xffffU);
}

std::vector<std::byte> inflate_raw(std::span<const std::byte> in,
                                   std::size_t out_size,
                                   const std::string& where) {
    std::vector<std::byte> out(out_size);
    z_stream zs{};
    EVOSCOPE_CHECK_FORMAT(inflateInit2(&zs, -MAX_WBITS) == Z_OK, "{}: cannot start inflate", where);
    // zlib's interface is not const-correct; inflate only reads its input.
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&zs, Z_FINISH);
    const auto produced = zs.total_out;
    inflateEnd(&zs);
    EVOSCOPE_CHECK_FORMAT(
        rc == Z_STREAM_END && produced == out_size, "{}: corrupt deflate data", where);
    return out;
}

}  // namespace

std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t crc) {
    // zlib treats a null buffer as "return the initial value", which an empty span may give.
    if (bytes.empty()) {
        return crc;
    }
    return static_cast<std::uint32_t>(
        crc32_z(crc, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
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
                      : ""));
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
        // Deflate expands at most 1032:1 (a 258-byte match per 2 bits): a larger declared size
        // is corrupt, and would otherwise be allocated by read() before inflating.
        EVOSCOPE_CHECK_FORMAT(entry.method != 8 || entry.size / 1032 <= entry.compressed_size,
                              "'{}': entry '{}' declares {} bytes inflated from {} deflated, more "
                              "than deflate can produce",
                              file,
                              entry.name,
                              entry.size,
                              entry.compressed_size);
        const auto [it, inserted] = index_.emplace(entry.name, entries_.size());
        EVOSCOPE_CHECK_FORMAT(inserted, "'{}': duplicate entry '{}'", file, entry.name);
        entries_.push_back(std::move(entry));
    }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
}

std::vector<std::byte> ZipReader::read(const ZipEntry& entry) const {
    const std::string where = fmt::format("'{}': entry '{}'", describe(), entry.name);
    std::vector<std::byte> bytes;
    if (entry.method == 8) {
        std::vector<std::byte> packed(static_cast<std::size_t>(entry.compressed_size));
        source_.read(entry.data_offset, packed);
        bytes = inflate_raw(packed, static_cast<std::size_t>(entry.size), where);
    } else {
        EVOSCOPE_CHECK_FORMAT(entry.is_stored(),
                              "{}: unsupported compression method {} (stored and deflate only)",
                              where,
                              entry.method);
        bytes.resize(static_cast<std::size_t>(entry.size));
        source_.read(entry.data_offset, bytes);
    }
    const std::uint32_t crc = crc32(bytes);
    EVOSCOPE_CHECK_FORMAT(crc == entry.crc32,
                          "{} is corrupt (CRC32 {:08x}, expected {:08x})",
                          where,
                          crc,
                          entry.crc32);
    return bytes;
}

const std::byte* ZipReader::data(const ZipEntry& entry) const {
    EVOSCOPE_CHECK_FORMAT(entry.is_stored(),
                          "'{}': entry '{}' is compressed (method {}); only stored entries can be "
                          "used in place (was the archive re-zipped?)",
                          describe(),
                          entry.name,
                          entry.method);
    return source_.contiguous(entry.data_offset, entry.size);
}

// ---------------------------------------------------------------------------------------------
// ZipWriter

std::uint64_t ZipWriter::overhead(std::string_view name) {
    return kLocalHeaderSize + kCentralHeaderSize + 2 * name.size();
}

ZipWriter::ZipWriter(OutputFile& out) : out_(out) {}

void ZipWriter::add(std::string_view name,
                    std::initializer_list<std::span<const std::byte>> pieces) {
    std::uint64_t size = 0;
    std::uint32_t crc = 0;
    for (const auto piece : pieces) {
        size += piece.size();
        crc = crc32(piece, crc);
    }
    EVOSCOPE_CHECK(n_members_ < kMaxMembers && size <= kMaxSize && offset_ <= kMaxSize,
                   "{}: member '{}' ({} bytes at offset {}) does not fit the 32-bit ZIP format "
                   "(4 GiB, {} members); ZIP64 is not implemented: split the data over several "
                   "files",
                   out_.path(),
                   name,
                   size,
                   offset_,
                   kMaxMembers);
    std::string local;
    put32(local, kLocalHeaderSig);
    put16(local, kZipVersion);
    put16(local, 0);  // flags
    put16(local, 0);  // method: stored
    put16(local, 0);  // time 00:00:00
    put16(local, kDosDate1980);
    put32(local, crc);
    put32(local, size);  // compressed size
    put32(local, size);  // uncompressed size
    put16(local, name.size());
    put16(local, 0);  // extra field length
    local += name;
    out_.write(local);
    for (const auto piece : pieces) {
        out_.write(std::string_view(reinterpret_cast<const char*>(piece.data()), piece.size()));
    }

    put32(central_, kCentralHeaderSig);
    put16(central_, kZipVersion);  // made by (MS-DOS attributes)
    put16(central_, kZipVersion);  // needed to extract
    put16(central_, 0);
    put16(central_, 0);
    put16(central_, 0);
    put16(central_, kDosDate1980);
    put32(central_, crc);
    put32(central_, size);
    put32(central_, size);
    put16(central_, name.size());
    put16(central_, 0);  // extra field length
    put16(central_, 0);  // comment length
    put16(central_, 0);  // disk number
    put16(central_, 0);  // internal attributes
    put32(central_, 0);  // external attributes
    put32(central_, offset_);
    central_ += name;
    offset_ += local.size() + size;
    ++n_members_;
}

void ZipWriter::finish() {
    EVOSCOPE_CHECK(offset_ <= kMaxSize && central_.size() <= kMaxSize,
                   "{}: the archive would be {} bytes, over the 4 GiB limit of the 32-bit ZIP "
                   "format (ZIP64 is not implemented): split the data over several files",
                   out_.path(),
                   offset_ + central_.size() + kEocdSize);
    std::string end;
    put32(end, kEocdSig);
    put16(end, 0);
    put16(end, 0);
    put16(end, n_members_);
    put16(end, n_members_);
    put32(end, central_.size());
    put32(end, offset_);
    put16(end, 0);  // comment length
    out_.write(central_);
    out_.write(end);
}

}  // namespace evoscope
