#include "core/npz.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include <zlib.h>

#include "core/check.hpp"
#include "core/output_file.hpp"
#include "core/strings.hpp"

namespace evoscope {
namespace {

constexpr std::uint32_t kLocalHeaderSig = 0x04034b50;
constexpr std::uint32_t kCentralHeaderSig = 0x02014b50;
constexpr std::uint32_t kEndOfCentralSig = 0x06054b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::size_t kLocalHeaderLen = 30;
constexpr std::size_t kCentralHeaderLen = 46;
constexpr std::size_t kEndOfCentralLen = 22;
constexpr std::uint16_t kZipVersion = 20;     // 2.0: the oldest version every reader handles
constexpr std::uint16_t kDosDate1980 = 0x21;  // 1980-01-01 (day 1, month 1, year 0)
// 0xffffffff and 0xffff are the ZIP64 escape values, so the largest usable values are one less.
constexpr std::uint64_t kMaxZip32 = 0xfffffffeULL;
constexpr std::size_t kMaxMembers = 0xfffe;
constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr std::size_t kNpyMagicLen = 6;

void put16(std::string& out, std::uint64_t v) {
    out.push_back(static_cast<char>(v & 0xffU));
    out.push_back(static_cast<char>((v >> 8) & 0xffU));
}

void put32(std::string& out, std::uint64_t v) {
    put16(out, v & 0xffffU);
    put16(out, (v >> 16) & 0xffffU);
}

std::uint32_t get16(const unsigned char* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8);
}

std::uint32_t get32(const unsigned char* p) {
    return get16(p) | (get16(p + 2) << 16);
}

std::uint32_t crc32_of(std::uint32_t crc, const void* data, std::size_t n) {
    // zlib treats a null buffer as "return the initial value", which an empty span may give.
    if (n == 0)
        return crc;
    return static_cast<std::uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), n));
}

/// Element size of a NumPy descr such as "<f4", "|u1", "<U8" (UCS-4: 4 bytes per character),
/// or nullopt for descrs this module does not handle (structured, datetime, object).
std::optional<std::size_t> descr_itemsize(std::string_view descr) {
    if (descr.size() < 3 || std::string_view("<>|=").find(descr[0]) == std::string_view::npos ||
        std::string_view("biufcSUV").find(descr[1]) == std::string_view::npos) {
        return std::nullopt;
    }
    std::size_t n = 0;
    for (const char c : descr.substr(2)) {
        if (c < '0' || c > '9' || n > 1'000'000)
            return std::nullopt;
        n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    if (n == 0)
        return std::nullopt;
    return descr[1] == 'U' ? 4 * n : n;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
    if (shape.size() == 1)
        return fmt::format("({},)", shape[0]);
    return fmt::format("({})", fmt::join(shape, ", "));
}

/// The .npy header (format 1.0, or 2.0 if the dictionary does not fit 64 KiB), padded so that
/// the data starts at a multiple of 64 bytes as the NumPy format specification asks.
std::string npy_header(const std::string& descr, const std::vector<std::int64_t>& shape) {
    std::string dict = fmt::format(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape_text(shape));
    // Format 1.0 has a 16-bit header length; 2.0 (NumPy >= 1.9) a 32-bit one.
    const bool v2 = dict.size() + 1 + 64 > 0xffff;
    const std::size_t total = kNpyMagicLen + 2 + (v2 ? 4 : 2) + dict.size() + 1;
    dict.append((total + 63) / 64 * 64 - total, ' ');
    dict.push_back('\n');
    std::string header(kNpyMagic, kNpyMagicLen);
    header.push_back(v2 ? '\x02' : '\x01');
    header.push_back('\x00');
    if (v2) {
        put32(header, dict.size());
    } else {
        put16(header, dict.size());
    }
    return header + dict;
}

std::uint64_t n_elements_of(const std::vector<std::int64_t>& shape) {
    std::uint64_t n = 1;
    for (const auto d : shape)
        n *= static_cast<std::uint64_t>(d);
    return n;
}

void validate_entries(const std::filesystem::path& path, std::span<const NpzEntry> entries) {
    EVOSCOPE_CHECK(entries.size() <= kMaxMembers,
                   "{}: {} arrays; the 32-bit ZIP format holds at most {}",
                   path.string(),
                   entries.size(),
                   kMaxMembers);
    std::set<std::string> names;
    for (const NpzEntry& e : entries) {
        EVOSCOPE_CHECK(!e.name.empty() &&
                           e.name.find_first_of(std::string_view("/\\\0", 3)) == std::string::npos,
                       "{}: invalid array name '{}' (empty or containing '/', '\\' or NUL)",
                       path.string(),
                       e.name);
        EVOSCOPE_CHECK(
            names.insert(e.name).second, "{}: array name '{}' given twice", path.string(), e.name);
        const auto itemsize = descr_itemsize(e.descr);
        EVOSCOPE_CHECK(itemsize.has_value(),
                       "{}: array '{}' has unsupported dtype descr '{}' (expected e.g. '<f4')",
                       path.string(),
                       e.name,
                       e.descr);
        for (const auto d : e.shape) {
            EVOSCOPE_CHECK(d >= 0,
                           "{}: array '{}' has a negative dimension in shape {}",
                           path.string(),
                           e.name,
                           shape_text(e.shape));
        }
        const std::uint64_t expected = n_elements_of(e.shape) * *itemsize;
        EVOSCOPE_CHECK(expected == e.data.size(),
                       "{}: array '{}' of shape {} and dtype {} needs {} bytes, got {}",
                       path.string(),
                       e.name,
                       shape_text(e.shape),
                       e.descr,
                       expected,
                       e.data.size());
    }
}

/// Finds `key` in an .npy header dictionary and returns its raw value text.
std::string_view dict_value(std::string_view dict, std::string_view key) {
    for (const char quote : {'\'', '"'}) {
        const std::string quoted = fmt::format("{0}{1}{0}", quote, key);
        const auto pos = dict.find(quoted);
        if (pos == std::string_view::npos)
            continue;
        auto rest = dict.substr(pos + quoted.size());
        const auto colon = rest.find(':');
        if (colon == std::string_view::npos)
            return {};
        rest = trim(rest.substr(colon + 1));
        if (!rest.empty() && rest.front() == '(') {
            const auto close = rest.find(')');
            return close == std::string_view::npos ? std::string_view{} : rest.substr(0, close + 1);
        }
        if (!rest.empty() && (rest.front() == '\'' || rest.front() == '"')) {
            const auto close = rest.find(rest.front(), 1);
            return close == std::string_view::npos ? std::string_view{} : rest.substr(1, close - 1);
        }
        return trim(rest.substr(0, rest.find_first_of(",}")));
    }
    return {};
}

NpzArray parse_npy_member(const std::filesystem::path& path,
                          const std::string& member,
                          std::span<const unsigned char> bytes) {
    const auto where = fmt::format("{}: member '{}'", path.string(), member);
    EVOSCOPE_CHECK_FORMAT(
        bytes.size() >= 10 && std::memcmp(bytes.data(), kNpyMagic, kNpyMagicLen) == 0,
        "{} is not an .npy array",
        where);
    const unsigned major = bytes[6];
    std::size_t prefix = 10;
    std::size_t header_len = get16(bytes.data() + 8);
    if (major == 2 || major == 3) {
        EVOSCOPE_CHECK_FORMAT(bytes.size() >= 12, "{}: truncated .npy header", where);
        prefix = 12;
        header_len = get32(bytes.data() + 8);
    } else {
        EVOSCOPE_CHECK_FORMAT(major == 1, "{}: unsupported .npy version {}", where, major);
    }
    EVOSCOPE_CHECK_FORMAT(bytes.size() >= prefix + header_len, "{}: truncated .npy header", where);
    const std::string_view dict(reinterpret_cast<const char*>(bytes.data() + prefix), header_len);

    NpzArray array;
    array.name = member.substr(0, member.size() - 4);
    array.descr = std::string(dict_value(dict, "descr"));
    EVOSCOPE_CHECK_FORMAT(
        descr_itemsize(array.descr).has_value(), "{}: unsupported dtype '{}'", where, array.descr);
    EVOSCOPE_CHECK_FORMAT(
        dict_value(dict, "fortran_order") == "False", "{}: Fortran order is not supported", where);
    const auto shape = dict_value(dict, "shape");
    EVOSCOPE_CHECK_FORMAT(
        shape.size() >= 2 && shape.front() == '(', "{}: malformed shape in .npy header", where);
    for (auto part : split(shape.substr(1, shape.size() - 2), ',')) {
        part = trim(part);
        if (!part.empty()) {
            const auto d = parse_int64(part, "npy dimension");
            EVOSCOPE_CHECK_FORMAT(d >= 0, "{}: negative dimension {}", where, d);
            array.shape.push_back(d);
        }
    }
    const std::uint64_t n_bytes = n_elements_of(array.shape) * array.itemsize();
    EVOSCOPE_CHECK_FORMAT(bytes.size() - prefix - header_len == n_bytes,
                          "{}: {} data bytes after the .npy header, shape {} and dtype {} need {}",
                          where,
                          bytes.size() - prefix - header_len,
                          shape_text(array.shape),
                          array.descr,
                          n_bytes);
    const auto* first = reinterpret_cast<const std::byte*>(bytes.data() + prefix + header_len);
    array.data.assign(first, first + n_bytes);
    return array;
}

std::vector<unsigned char> inflate_raw(std::span<const unsigned char> in,
                                       std::size_t out_size,
                                       const std::string& where) {
    std::vector<unsigned char> out(out_size);
    z_stream zs{};
    EVOSCOPE_CHECK_FORMAT(inflateInit2(&zs, -MAX_WBITS) == Z_OK, "{}: cannot start inflate", where);
    zs.next_in = const_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&zs, Z_FINISH);
    const auto produced = zs.total_out;
    inflateEnd(&zs);
    EVOSCOPE_CHECK_FORMAT(
        rc == Z_STREAM_END && produced == out_size, "{}: corrupt deflate data", where);
    return out;
}

}  // namespace

std::size_t NpzArray::itemsize() const {
    return descr_itemsize(descr).value_or(0);
}

std::int64_t NpzArray::n_elements() const {
    return static_cast<std::int64_t>(n_elements_of(shape));
}

void write_npz(const std::filesystem::path& path,
               std::span<const NpzEntry> entries,
               bool overwrite) {
    EVOSCOPE_CHECK(path != "-", "an .npz archive cannot be written to standard output");
    validate_entries(path, entries);

    // Everything is sized before the first byte is written, so an archive that would need ZIP64
    // fails here and not after gigabytes of output.
    std::vector<std::string> headers;
    std::uint64_t offset = 0;
    std::uint64_t central_size = 0;
    for (const NpzEntry& e : entries) {
        headers.push_back(npy_header(e.descr, e.shape));
        const std::uint64_t member = headers.back().size() + e.data.size();
        EVOSCOPE_CHECK(
            member <= kMaxZip32 && offset <= kMaxZip32,
            "{}: array '{}' ({} bytes) does not fit the 32-bit ZIP format (4 GiB); ZIP64 is not "
            "implemented: split the data over several files",
            path.string(),
            e.name,
            e.data.size());
        offset += kLocalHeaderLen + e.name.size() + 4 + member;
        central_size += kCentralHeaderLen + e.name.size() + 4;
    }
    EVOSCOPE_CHECK(offset <= kMaxZip32 && central_size <= kMaxZip32,
                   "{}: the archive would be {} bytes, over the 4 GiB limit of the 32-bit ZIP "
                   "format (ZIP64 is not "
                   "implemented): split the data over several files",
                   path.string(),
                   offset + central_size + kEndOfCentralLen);

    OutputFile out(path.string(), overwrite);
    std::string central;
    offset = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const NpzEntry& e = entries[i];
        const std::string& header = headers[i];
        const std::string member = e.name + ".npy";
        const std::uint64_t size = header.size() + e.data.size();
        const std::uint32_t crc =
            crc32_of(crc32_of(0, header.data(), header.size()), e.data.data(), e.data.size());

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
        put16(local, member.size());
        put16(local, 0);  // extra field length
        local += member;
        out.write(local);
        out.write(header);
        out.write(std::string_view(reinterpret_cast<const char*>(e.data.data()), e.data.size()));

        put32(central, kCentralHeaderSig);
        put16(central, kZipVersion);  // made by (MS-DOS attributes)
        put16(central, kZipVersion);  // needed to extract
        put16(central, 0);
        put16(central, 0);
        put16(central, 0);
        put16(central, kDosDate1980);
        put32(central, crc);
        put32(central, size);
        put32(central, size);
        put16(central, member.size());
        put16(central, 0);  // extra field length
        put16(central, 0);  // comment length
        put16(central, 0);  // disk number
        put16(central, 0);  // internal attributes
        put32(central, 0);  // external attributes
        put32(central, offset);
        central += member;
        offset += local.size() + size;
    }
    std::string end;
    put32(end, kEndOfCentralSig);
    put16(end, 0);
    put16(end, 0);
    put16(end, entries.size());
    put16(end, entries.size());
    put32(end, central.size());
    put32(end, offset);
    put16(end, 0);  // comment length
    out.write(central);
    out.write(end);
    out.commit();
}

std::vector<NpzArray> read_npz(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    EVOSCOPE_CHECK_IO(in.good(), "cannot open '{}': {}", path.string(), std::strerror(errno));
    const std::vector<unsigned char> file((std::istreambuf_iterator<char>(in)),
                                          std::istreambuf_iterator<char>());
    EVOSCOPE_CHECK_IO(!in.bad(), "reading '{}' failed", path.string());
    const std::string name = path.string();

    EVOSCOPE_CHECK_FORMAT(file.size() >= kEndOfCentralLen, "{}: not an .npz (ZIP) file", name);
    std::optional<std::size_t> end_pos;
    const std::size_t lowest =
        file.size() >= kEndOfCentralLen + 0xffff ? file.size() - kEndOfCentralLen - 0xffff : 0;
    for (std::size_t p = file.size() - kEndOfCentralLen + 1; p-- > lowest;) {
        if (get32(file.data() + p) == kEndOfCentralSig) {
            end_pos = p;
            break;
        }
    }
    EVOSCOPE_CHECK_FORMAT(end_pos.has_value(),
                          "{}: not an .npz (ZIP) file: no end-of-central-directory record",
                          name);
    const unsigned char* end = file.data() + *end_pos;
    const std::size_t n_members = get16(end + 10);
    const std::size_t central_size = get32(end + 12);
    const std::size_t central_offset = get32(end + 16);
    const bool zip64 = n_members == 0xffff || central_size == 0xffffffff ||
                       central_offset == 0xffffffff ||
                       (*end_pos >= 20 && get32(end - 20) == kZip64LocatorSig);
    EVOSCOPE_CHECK_FORMAT(!zip64, "{}: ZIP64 archives are not supported", name);
    EVOSCOPE_CHECK_FORMAT(
        central_offset + central_size <= *end_pos, "{}: central directory out of bounds", name);

    std::vector<NpzArray> arrays;
    std::size_t p = central_offset;
    for (std::size_t i = 0; i < n_members; ++i) {
        EVOSCOPE_CHECK_FORMAT(
            p + kCentralHeaderLen <= *end_pos && get32(file.data() + p) == kCentralHeaderSig,
            "{}: malformed central directory entry {}",
            name,
            i);
        const unsigned char* c = file.data() + p;
        const std::uint32_t method = get16(c + 10);
        const std::uint32_t crc = get32(c + 16);
        const std::size_t packed_size = get32(c + 20);
        const std::size_t size = get32(c + 24);
        const std::size_t name_len = get16(c + 28);
        const std::size_t extra_len = get16(c + 30);
        const std::size_t comment_len = get16(c + 32);
        const std::size_t local_offset = get32(c + 42);
        EVOSCOPE_CHECK_FORMAT(
            p + kCentralHeaderLen + name_len <= *end_pos, "{}: truncated central directory", name);
        const std::string member(reinterpret_cast<const char*>(c + kCentralHeaderLen), name_len);
        p += kCentralHeaderLen + name_len + extra_len + comment_len;

        const auto where = fmt::format("{}: member '{}'", name, member);
        EVOSCOPE_CHECK_FORMAT(
            member.size() > 4 && member.ends_with(".npy"), "{} is not an .npy file", where);
        EVOSCOPE_CHECK_FORMAT(local_offset + kLocalHeaderLen <= file.size() &&
                                  get32(file.data() + local_offset) == kLocalHeaderSig,
                              "{}: bad local header",
                              where);
        const unsigned char* l = file.data() + local_offset;
        const std::size_t data_offset =
            local_offset + kLocalHeaderLen + get16(l + 26) + get16(l + 28);
        EVOSCOPE_CHECK_FORMAT(data_offset + packed_size <= file.size(),
                              "{}: data runs past the end of the file",
                              where);
        const std::span<const unsigned char> packed(file.data() + data_offset, packed_size);
        std::vector<unsigned char> inflated;
        std::span<const unsigned char> bytes = packed;
        if (method == 8) {
            inflated = inflate_raw(packed, size, where);
            bytes = inflated;
        } else {
            EVOSCOPE_CHECK_FORMAT(method == 0,
                                  "{}: unsupported compression method {} (stored and deflate only)",
                                  where,
                                  method);
            EVOSCOPE_CHECK_FORMAT(packed_size == size, "{}: stored sizes disagree", where);
        }
        const std::uint32_t actual = crc32_of(0, bytes.data(), bytes.size());
        EVOSCOPE_CHECK_FORMAT(actual == crc,
                              "{}: CRC32 mismatch (stored {:08x}, computed {:08x})",
                              where,
                              crc,
                              actual);
        arrays.push_back(parse_npy_member(path, member, bytes));
    }
    return arrays;
}

}  // namespace evoscope
