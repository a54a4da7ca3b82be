/// @file
/// NumPy .npz archives: a ZIP file with one `<name>.npy` member per array, as `numpy.savez`
/// writes and `numpy.load` reads, through formats/zip.hpp and formats/npy.hpp. The writer stores
/// members uncompressed (ZIP method 0, the `numpy.savez` layout) with a fixed 1980-01-01
/// timestamp (same input, same bytes) and the 32-bit ZIP format only: an archive whose members or
/// offsets reach 4 GiB, or with more than 65,534 members, is refused (no ZIP64 writing). Writing
/// is atomic (temporary + rename).
/// Dtypes are plain descrs of kind b, i, u, f, c, S, U or V ("<f4", "|u1", "<U8"); structured,
/// datetime and object arrays are not handled. The reader accepts stored and deflated members
/// (`numpy.savez_compressed`) and ZIP64 archives, C order only; it copies every member into
/// memory and is meant for tests and small files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace evoscope {

/// One array to write. `data` is borrowed for the duration of `write_npz`.
struct NpzEntry {
    std::string name;   ///< member name without ".npy": no '/', '\\', NUL, not empty
    std::string descr;  ///< NumPy dtype descr: "<f4", "<i4", "<i8", "<u4", "|u1", "|b1", ...
    std::vector<std::int64_t> shape;  ///< C order; empty for a scalar (one element)
    /// product(shape) * itemsize raw bytes, C order, in the byte order descr names.
    std::span<const std::byte> data;
};

/// Builds an entry from a typed span (the caller names the matching descr, e.g. "<f4" for float).
template <typename T>
NpzEntry npz_entry(std::string name,
                   std::string descr,
                   std::vector<std::int64_t> shape,
                   std::span<const T> values) {
    return NpzEntry{std::move(name), std::move(descr), std::move(shape), std::as_bytes(values)};
}

/// Writes `entries` as an .npz at `path` (members in the given order).
/// @throws InputError on a malformed entry (bad name or descr, duplicate name, data size not
///         matching shape and itemsize), when `path` exists and `overwrite` is false, and when
///         the archive would need ZIP64 (4 GiB); IoError on write failure. Nothing is left at
///         `path` (or its temporary) when it throws.
void write_npz(const std::filesystem::path& path,
               std::span<const NpzEntry> entries,
               bool overwrite = true);

/// One array read back from an .npz.
struct NpzArray {
    std::string name;   ///< member name without ".npy"
    std::string descr;  ///< as written in the .npy header, e.g. "<f4"
    std::vector<std::int64_t> shape;
    std::vector<std::byte> data;  ///< product(shape) * itemsize bytes

    /// Size in bytes of one element, from descr.
    std::size_t itemsize() const;
    std::int64_t n_elements() const;
};

/// Reads every member of an .npz (all members must be .npy files), in archive order.
/// @throws IoError (cannot open/read), FormatError naming the file and member (not a ZIP,
///         CRC mismatch, unsupported compression method, malformed .npy header,
///         Fortran order, size mismatch).
std::vector<NpzArray> read_npz(const std::filesystem::path& path);

}  // namespace evoscope
