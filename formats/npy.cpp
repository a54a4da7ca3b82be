#include "formats/npy.hpp"

#include <bit>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/check.hpp"
#include "core/output_file.hpp"
#include "core/strings.hpp"
#include "formats/mapped_file.hpp"

namespace evoscope {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
/// Room left in a streamed header for a longer row count.
constexpr std::size_t kSpare = 24;

std::uint32_t get16(const std::byte* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8);
}

std::uint32_t get32(const std::byte* p) {
    return get16(p) | (get16(p + 2) << 16);
}

void put16(std::string& out, std::uint64_t v) {
    out.push_back(static_cast<char>(v & 0xffU));
    out.push_back(static_cast<char>((v >> 8) & 0xffU));
}

/// Finds `key` in an .npy header dictionary and returns its raw value text (a quoted value
/// without its quotes), or an empty view when absent.
std::string_view dict_value(std::string_view dict, std::string_view key) {
    for (const char quote : {'\'', '"'}) {
        const std::string quoted = fmt::format("{0}{1}{0}", quote, key);
        const auto pos = dict.find(quoted);
        if (pos == std::string_view::npos) {
            continue;
        }
        auto rest = dict.substr(pos + quoted.size());
        const auto colon = rest.find(':');
        if (colon == std::string_view::npos) {
            return {};
        }
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

}  // namespace

const char* npy_descr(NpyDtype dtype) {
    switch (dtype) {
        case NpyDtype::Float32:
            return "<f4";
        case NpyDtype::Float64:
            return "<f8";
        case NpyDtype::UInt16:
            return "<u2";
        case NpyDtype::Int32:
            return "<i4";
        case NpyDtype::Int64:
            return "<i8";
        case NpyDtype::Float16:
            return "<f2";
    }
    return "?";
}

std::size_t npy_itemsize(NpyDtype dtype) {
    switch (dtype) {
        case NpyDtype::Float32:
            return 4;
        case NpyDtype::Float64:
            return 8;
        case NpyDtype::UInt16:
            return 2;
        case NpyDtype::Int32:
            return 4;
        case NpyDtype::Int64:
            return 8;
        case NpyDtype::Float16:
            return 2;
    }
    return 0;
}

std::optional<NpyDtype> npy_dtype(std::string_view descr) {
    for (const NpyDtype d : {NpyDtype::Float32,
                             NpyDtype::Float64,
                             NpyDtype::UInt16,
                             NpyDtype::Int32,
                             NpyDtype::Int64,
                             NpyDtype::Float16}) {
        if (descr == npy_descr(d)) {
            return d;
        }
    }
    return std::nullopt;
}

std::string npy_shape_text(const std::vector<std::int64_t>& shape) {
    if (shape.size() == 1) {
        return fmt::format("({},)", shape[0]);
    }
    return fmt::format("({})", fmt::join(shape, ", "));
}

std::string make_npy_header(std::string_view descr,
                            const std::vector<std::int64_t>& shape,
                            std::size_t spare) {
    std::string dict = fmt::format(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, npy_shape_text(shape));
    dict.append(spare, ' ');
    // Format 1.0 has a 16-bit header length; 2.0 (NumPy >= 1.9) a 32-bit one.
    const bool v2 = dict.size() + 1 + 64 > 0xffff;
    const std::size_t total = kMagicLen + 2 + (v2 ? 4 : 2) + dict.size() + 1;
    dict.append((total + 63) / 64 * 64 - total, ' ');
    dict.push_back('\n');
    std::string header(kMagic, kMagicLen);
    header.push_back(v2 ? '\x02' : '\x01');
    header.push_back('\x00');
    put16(header, dict.size() & 0xffffU);
    if (v2) {
        put16(header, dict.size() >> 16);
    }
    return header + dict;
}

NpyHeader parse_npy_header(std::span<const std::byte> bytes, const std::string& where) {
    EVOSCOPE_CHECK_FORMAT(bytes.size() >= 10 && std::memcmp(bytes.data(), kMagic, kMagicLen) == 0,
                          "{}: not an .npy file",
                          where);
    const auto major = static_cast<unsigned>(bytes[6]);
    std::size_t prefix = 10;
    std::size_t header_len = get16(bytes.data() + 8);
    if (major == 2 || major == 3) {
        EVOSCOPE_CHECK_FORMAT(bytes.size() >= 12, "{}: truncated .npy header", where);
        prefix = 12;
        header_len = get32(bytes.data() + 8);
    } else {
        EVOSCOPE_CHECK_FORMAT(major == 1, "{}: unsupported .npy version {}", where, major);
    }
    EVOSCOPE_CHECK_FORMAT(header_len <= bytes.size() - prefix, "{}: truncated .npy header", where);
    const std::string_view dict(reinterpret_cast<const char*>(bytes.data() + prefix), header_len);

    NpyHeader header;
    header.data_offset = prefix + header_len;
    header.descr = std::string(dict_value(dict, "descr"));
    EVOSCOPE_CHECK_FORMAT(!header.descr.empty(), "{}: .npy header has no 'descr'", where);
    header.fortran_order = dict_value(dict, "fortran_order") == "True";
    const auto shape = dict_value(dict, "shape");
    EVOSCOPE_CHECK_FORMAT(
        shape.size() >= 2 && shape.front() == '(', "{}: malformed .npy shape {}", where, shape);
    std::int64_t n_elements = 1;
    for (auto part : split(shape.substr(1, shape.size() - 2), ',')) {
        part = trim(part);
        if (part.empty()) {
            continue;
        }
        std::int64_t d = -1;
        try {
            d = parse_int64(part, "npy dimension");
        } catch (const InputError&) {
            d = -1;
        }
        EVOSCOPE_CHECK_FORMAT(d >= 0, "{}: malformed .npy shape {}", where, shape);
        // Element counts fit std::int64_t from here on (callers multiply the dimensions).
        EVOSCOPE_CHECK_FORMAT(!__builtin_mul_overflow(n_elements, d, &n_elements),
                              "{}: .npy shape {} is too large",
                              where,
                              shape);
        header.shape.push_back(d);
    }
    return header;
}

NpyWriter::NpyWriter(const std::filesystem::path& path,
                     NpyDtype dtype,
                     std::vector<std::int64_t> shape)
    : path_(path), dtype_(dtype), shape_(std::move(shape)) {
    EVOSCOPE_CHECK(
        !shape_.empty(), "{}: an .npy array needs at least one dimension", path.string());
    row_bytes_ = npy_itemsize(dtype_);
    for (std::size_t i = 1; i < shape_.size(); ++i) {
        EVOSCOPE_CHECK(shape_[i] >= 0, "{}: negative dimension", path.string());
        row_bytes_ *= static_cast<std::size_t>(shape_[i]);
    }
    temp_ = temp_path_for(path_);
    file_ = std::fopen(temp_.c_str(), "wb");
    EVOSCOPE_CHECK_IO(
        file_ != nullptr, "cannot write '{}': {}", path_.string(), std::strerror(errno));
    auto open_shape = shape_;
    open_shape[0] = shape_[0] < 0 ? 0 : shape_[0];
    const std::string header = make_npy_header(npy_descr(dtype_), open_shape, kSpare);
    std::fwrite(header.data(), 1, header.size(), file_);
}

NpyWriter::~NpyWriter() {
    if (!committed_) {
        if (file_ != nullptr)
            std::fclose(file_);
        std::error_code ec;
        std::filesystem::remove(temp_, ec);
    }
}

void NpyWriter::write(std::span<const std::byte> bytes) {
    std::fwrite(bytes.data(), 1, bytes.size(), file_);
    const std::size_t total = pending_ + bytes.size();
    if (row_bytes_ > 0) {
        rows_ += static_cast<std::int64_t>(total / row_bytes_);
        pending_ = total % row_bytes_;
    }
}

void NpyWriter::commit() {
    EVOSCOPE_CHECK(
        pending_ == 0, "{}: incomplete last row ({} stray bytes)", path_.string(), pending_);
    if (shape_[0] >= 0) {
        EVOSCOPE_CHECK(rows_ == shape_[0] || row_bytes_ == 0,
                       "{}: {} rows written, {} declared",
                       path_.string(),
                       rows_,
                       shape_[0]);
    } else {
        auto final_shape = shape_;
        final_shape[0] = rows_;
        const std::string header = make_npy_header(npy_descr(dtype_), final_shape, kSpare);
        std::fseek(file_, 0, SEEK_SET);
        std::fwrite(header.data(), 1, header.size(), file_);
    }
    const bool failed = std::ferror(file_) != 0;
    const bool close_failed = std::fclose(file_) != 0;
    file_ = nullptr;
    if (failed || close_failed) {
        std::error_code ec;
        std::filesystem::remove(temp_, ec);
        committed_ = true;
        throw IoError(fmt::format("writing '{}' failed: {}", path_.string(), std::strerror(errno)));
    }
    committed_ = true;
    commit_temp_file(temp_, path_);
}

NpyInfo read_npy_header(const std::filesystem::path& path) {
    const MappedFile file(path);
    const std::string where = path.string();
    const NpyHeader header = parse_npy_header(file.bytes(), where);
    const auto dtype = npy_dtype(header.descr);
    EVOSCOPE_CHECK_FORMAT(
        dtype.has_value(),
        "{}: unsupported .npy dtype '{}' (supported: <f4, <f2, <f8, <u2 as bfloat16, <i4, <i8)",
        where,
        header.descr);
    EVOSCOPE_CHECK_FORMAT(!header.fortran_order,
                          "{}: Fortran-order .npy arrays are not supported; save with C order",
                          where);
    NpyInfo info;
    info.dtype = *dtype;
    info.shape = header.shape;
    info.data_offset = header.data_offset;
    info.fortran_order = header.fortran_order;
    std::uint64_t n_elements = 1;  // cannot overflow: parse_npy_header checked the product
    for (const auto d : info.shape) {
        n_elements *= static_cast<std::uint64_t>(d);
    }
    const std::size_t itemsize = npy_itemsize(info.dtype);
    const auto present = static_cast<std::uint64_t>(file.size()) - info.data_offset;
    EVOSCOPE_CHECK_FORMAT(
        n_elements <= present / itemsize,
        "{}: truncated .npy data ({} elements of {} bytes expected after the header, {} bytes "
        "present)",
        where,
        n_elements,
        itemsize,
        present);
    return info;
}

void read_npy_rows(const std::filesystem::path& path,
                   const NpyInfo& info,
                   std::int64_t row,
                   std::int64_t n_rows,
                   std::span<std::byte> out) {
    std::size_t row_bytes = npy_itemsize(info.dtype);
    for (std::size_t i = 1; i < info.shape.size(); ++i)
        row_bytes *= static_cast<std::size_t>(info.shape[i]);
    EVOSCOPE_CHECK(!info.shape.empty() && row >= 0 && n_rows >= 0 && row + n_rows <= info.shape[0],
                   "{}: rows {}..{} outside the array",
                   path.string(),
                   row,
                   row + n_rows);
    EVOSCOPE_CHECK(out.size() == row_bytes * static_cast<std::size_t>(n_rows),
                   "{}: output buffer size mismatch",
                   path.string());
    std::FILE* f = std::fopen(path.c_str(), "rb");
    EVOSCOPE_CHECK_IO(f != nullptr, "cannot open '{}': {}", path.string(), std::strerror(errno));
    std::fseek(f,
               static_cast<long>(info.data_offset + row_bytes * static_cast<std::size_t>(row)),
               SEEK_SET);
    const std::size_t got = std::fread(out.data(), 1, out.size(), f);
    std::fclose(f);
    EVOSCOPE_CHECK_FORMAT(got == out.size(), "{}: truncated .npy data", path.string());
}

std::vector<float> read_npy_float32(const std::filesystem::path& path, NpyInfo* info_out) {
    const NpyInfo info = read_npy_header(path);
    std::int64_t n = 1;
    for (const auto d : info.shape)
        n *= d;
    const std::int64_t rows = info.shape.empty() ? 1 : info.shape[0];
    std::vector<std::byte> raw(static_cast<std::size_t>(n) * npy_itemsize(info.dtype));
    if (!info.shape.empty()) {
        read_npy_rows(path, info, 0, rows, raw);
    }
    std::vector<float> out(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < out.size(); ++i) {
        const std::byte* p = raw.data() + i * npy_itemsize(info.dtype);
        switch (info.dtype) {
            case NpyDtype::Float32:
                std::memcpy(&out[i], p, 4);
                break;
            case NpyDtype::Float64: {
                double d = 0;
                std::memcpy(&d, p, 8);
                out[i] = static_cast<float>(d);
                break;
            }
            case NpyDtype::UInt16: {
                std::uint16_t b = 0;
                std::memcpy(&b, p, 2);
                out[i] = bf16_to_float(b);
                break;
            }
            case NpyDtype::Float16: {
                std::uint16_t b = 0;
                std::memcpy(&b, p, 2);
                out[i] = half_to_float(b);
                break;
            }
            case NpyDtype::Int32: {
                std::int32_t v = 0;
                std::memcpy(&v, p, 4);
                out[i] = static_cast<float>(v);
                break;
            }
            case NpyDtype::Int64: {
                std::int64_t v = 0;
                std::memcpy(&v, p, 8);
                out[i] = static_cast<float>(v);
                break;
            }
        }
    }
    if (info_out != nullptr)
        *info_out = info;
    return out;
}

std::uint16_t float_to_bf16(float value) {
    auto bits = std::bit_cast<std::uint32_t>(value);
    if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
        return static_cast<std::uint16_t>((bits >> 16) | 0x40u);  // quiet NaN
    }
    const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
    bits += rounding;
    return static_cast<std::uint16_t>(bits >> 16);
}

float bf16_to_float(std::uint16_t bits) {
    return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

float half_to_float(std::uint16_t bits) {
    const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000U) << 16;
    const std::uint32_t exponent = (bits >> 10) & 0x1fU;
    const std::uint32_t mantissa = bits & 0x3ffU;
    if (exponent == 0) {
        // zero or subnormal: mantissa * 2^-24
        const float magnitude = static_cast<float>(mantissa) * 0x1p-24F;
        return sign != 0 ? -magnitude : magnitude;
    }
    if (exponent == 31) {
        return std::bit_cast<float>(sign | 0x7f800000U | (mantissa << 13));
    }
    return std::bit_cast<float>(sign | ((exponent + 112U) << 23) | (mantissa << 13));
}

}  // namespace evoscope
