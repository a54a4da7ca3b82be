/// @file
/// NumPy .npy files (format version 1.0/2.0/3.0, little-endian, C order), the one .npy header
/// parser and writer of evoscope (.npz members and activation row files use them too): a streaming
/// writer that knows the shape up front (or patches the row count at the end) and a reader that
/// maps the header and reads rows. Dtypes: float32 '<f4', float16 '<f2', uint16 '<u2' (used for
/// bfloat16 bit patterns), int32 '<i4', int64 '<i8', float64 '<f8'. Writing is atomic (temporary +
/// rename).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace evoscope {

enum class NpyDtype : std::uint8_t { Float32, Float64, UInt16, Int32, Int64, Float16 };

/// '<f4' etc. and the element size in bytes.
const char* npy_descr(NpyDtype dtype);
std::size_t npy_itemsize(NpyDtype dtype);
/// The dtype of a descr such as '<f4', or nullopt for the others ('>f4', '|u1', ...).
std::optional<NpyDtype> npy_dtype(std::string_view descr);

/// The header dictionary of an .npy, whatever its descr.
struct NpyHeader {
    std::string descr;  ///< as written, e.g. "<f4", "|u1", "<U8"
    std::vector<std::int64_t> shape;
    bool fortran_order = false;
    std::size_t data_offset = 0;  ///< byte offset of the first element
};

/// Parses the magic, version and header dictionary at the start of `bytes` (a mapped file or a
/// ZIP member). `where` names the file (and member) in messages.
/// @throws FormatError ("not an .npy file", unsupported version, truncated or malformed header,
///         negative dimension).
NpyHeader parse_npy_header(std::span<const std::byte> bytes, const std::string& where);

/// A version 1.0 header (2.0 when the dictionary does not fit 64 KiB) for `descr` and `shape`,
/// padded with spaces so that the data start at a multiple of 64 bytes; `spare` more spaces leave
/// room to rewrite the shape in place with a longer row count.
std::string make_npy_header(std::string_view descr,
                            const std::vector<std::int64_t>& shape,
                            std::size_t spare = 0);
/// "(3,)", "(3, 4)", "()": the Python tuple of a shape.
std::string npy_shape_text(const std::vector<std::int64_t>& shape);

/// Writes an array row by row. The first dimension may be left open (pass -1) and is fixed
/// at commit from the number of rows written; the other dimensions are fixed.
class NpyWriter {
public:
    NpyWriter(const std::filesystem::path& path, NpyDtype dtype, std::vector<std::int64_t> shape);
    ~NpyWriter();
    NpyWriter(const NpyWriter&) = delete;
    NpyWriter& operator=(const NpyWriter&) = delete;

    /// Appends raw little-endian elements (a whole number of rows).
    void write(std::span<const std::byte> bytes);

    template <typename T>
    void write_values(std::span<const T> values) {
        write(std::as_bytes(values));
    }

    std::int64_t rows_written() const { return rows_; }

    /// Fixes the header, closes and renames into place. @throws IoError, InputError (row count).
    void commit();

private:
    std::filesystem::path path_;
    std::filesystem::path temp_;
    NpyDtype dtype_;
    std::vector<std::int64_t> shape_;
    std::size_t row_bytes_ = 0;
    std::int64_t rows_ = 0;
    std::size_t pending_ = 0;  ///< bytes of an incomplete row
    std::FILE* file_ = nullptr;
    bool committed_ = false;
};

/// Header facts of an .npy file.
struct NpyInfo {
    NpyDtype dtype = NpyDtype::Float32;
    std::vector<std::int64_t> shape;
    std::size_t data_offset = 0;  ///< byte offset of the first element
    bool fortran_order = false;
};

/// Parses the header. @throws IoError, FormatError naming the file ("not an .npy file",
/// unsupported dtype such as '>f4', Fortran order, truncated data).
NpyInfo read_npy_header(const std::filesystem::path& path);

/// Reads `n_rows` rows starting at `row` into `out` (raw bytes). @throws FormatError/IoError.
void read_npy_rows(const std::filesystem::path& path,
                   const NpyInfo& info,
                   std::int64_t row,
                   std::int64_t n_rows,
                   std::span<std::byte> out);

/// Convenience for small files: the whole array as float32 (float64/float16/uint16-as-bf16/ints
/// converted).
std::vector<float> read_npy_float32(const std::filesystem::path& path, NpyInfo* info = nullptr);

/// bfloat16 <-> float32 (round to nearest even; NaN preserved).
std::uint16_t float_to_bf16(float value);
float bf16_to_float(std::uint16_t bits);
/// IEEE 754 binary16 to float32 (exact: every half value is a float value).
float half_to_float(std::uint16_t bits);

}  // namespace evoscope
