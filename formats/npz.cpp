#include "formats/npz.hpp"

#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/output_file.hpp"
#include "formats/npy.hpp"
#include "formats/zip.hpp"

namespace evoscope {
namespace {

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

std::uint64_t n_elements_of(const std::vector<std::int64_t>& shape) {
    std::uint64_t n = 1;
    for (const auto d : shape) {
        n *= static_cast<std::uint64_t>(d);
    }
    return n;
}

void validate_entries(const std::filesystem::path& path, std::span<const NpzEntry> entries) {
    EVOSCOPE_CHECK(entries.size() <= ZipWriter::kMaxMembers,
                   "{}: {} arrays; the 32-bit ZIP format holds at most {}",
                   path.string(),
                   entries.size(),
                   ZipWriter::kMaxMembers);
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
                           npy_shape_text(e.shape));
        }
        const std::uint64_t expected = n_elements_of(e.shape) * *itemsize;
        EVOSCOPE_CHECK(expected == e.data.size(),
                       "{}: array '{}' of shape {} and dtype {} needs {} bytes, got {}",
                       path.string(),
                       e.name,
                       npy_shape_text(e.shape),
                       e.descr,
                       expected,
                       e.data.size());
    }
}

NpzArray parse_npy_member(const std::string& where,
                          const std::string& member,
                          std::span<const std::byte> bytes) {
    const NpyHeader header = parse_npy_header(bytes, where);
    NpzArray array;
    array.name = member.substr(0, member.size() - 4);
    array.descr = header.descr;
    array.shape = header.shape;
    EVOSCOPE_CHECK_FORMAT(
        descr_itemsize(array.descr).has_value(), "{}: unsupported dtype '{}'", where, array.descr);
    EVOSCOPE_CHECK_FORMAT(!header.fortran_order, "{}: Fortran order is not supported", where);
    // n_elements fits std::int64_t (parse_npy_header checks), the byte count may not.
    const std::uint64_t n_elements = n_elements_of(array.shape);
    const std::uint64_t present = bytes.size() - header.data_offset;
    EVOSCOPE_CHECK_FORMAT(
        n_elements <= present / array.itemsize() && n_elements * array.itemsize() == present,
        "{}: {} data bytes after the .npy header, shape {} and dtype {} need {} "
        "elements of {} bytes",
        where,
        present,
        npy_shape_text(array.shape),
        array.descr,
        n_elements,
        array.itemsize());
    const auto first = bytes.begin() + static_cast<std::ptrdiff_t>(header.data_offset);
    array.data.assign(first, bytes.end());
    return array;
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
    for (const NpzEntry& e : entries) {
        headers.push_back(make_npy_header(e.descr, e.shape));
        const std::uint64_t member = headers.back().size() + e.data.size();
        EVOSCOPE_CHECK(
            member <= ZipWriter::kMaxSize && offset <= ZipWriter::kMaxSize,
            "{}: array '{}' ({} bytes) does not fit the 32-bit ZIP format (4 GiB); ZIP64 is not "
            "implemented: split the data over several files",
            path.string(),
            e.name,
            e.data.size());
        offset += ZipWriter::overhead(e.name + ".npy") + member;
    }
    EVOSCOPE_CHECK(offset <= ZipWriter::kMaxSize,
                   "{}: the archive would be {} bytes, over the 4 GiB limit of the 32-bit ZIP "
                   "format (ZIP64 is not implemented): split the data over several files",
                   path.string(),
                   offset);

    OutputFile out(path.string(), overwrite);
    ZipWriter zip(out);
    for (std::size_t i = 0; i < entries.size(); ++i) {
        zip.add(entries[i].name + ".npy", {std::as_bytes(std::span(headers[i])), entries[i].data});
    }
    zip.finish();
    out.commit();
}

std::vector<NpzArray> read_npz(const std::filesystem::path& path) {
    std::optional<ZipReader> zip;
    try {
        zip.emplace(std::vector<std::filesystem::path>{path});
    } catch (const FormatError& e) {
        throw FormatError(fmt::format("{}: not an .npz (ZIP) file: {}", path.string(), e.what()));
    }
    std::vector<NpzArray> arrays;
    for (const ZipEntry& entry : zip->entries()) {
        const auto where = fmt::format("{}: member '{}'", path.string(), entry.name);
        EVOSCOPE_CHECK_FORMAT(
            entry.name.size() > 4 && entry.name.ends_with(".npy"), "{} is not an .npy file", where);
        arrays.push_back(parse_npy_member(where, entry.name, zip->read(entry)));
    }
    return arrays;
}

}  // namespace evoscope
