#include "core/npy.hpp"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <optional>

#include "core/check.hpp"
#include "core/output_file.hpp"
#include "core/strings.hpp"

namespace evoscope {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;

std::string shape_text(const std::vector<std::int64_t>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        s += std::to_string(shape[i]);
        s += (shape.size() == 1 || i + 1 < shape.size()) ? "," : "";
        if (i + 1 < shape.size()) s += " ";
    }
    return s + ")";
}

/// Version 1.0 header padded to a multiple of 64 bytes; the shape field is padded with spaces
/// to a fixed width so that the row count can be patched in place at commit.
std::string make_header(NpyDtype dtype, const std::vector<std::int64_t>& shape) {
    std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", npy_descr(dtype),
                                   shape_text(shape));
    dict.append(24, ' ');  // room for a longer row count
    std::size_t total = kMagicLen + 2 + 2 + dict.size() + 1;
    const std::size_t padded = (total + 63) / 64 * 64;
    dict.append(padded - total, ' ');
    dict.push_back('\n');
    std::string header(kMagic, kMagicLen);
    header.push_back('\x01');
    header.push_back('\x00');
    const auto len = static_cast<std::uint16_t>(dict.size());
    header.push_back(static_cast<char>(len & 0xff));
    header.push_back(static_cast<char>(len >> 8));
    return header + dict;
}

std::optional<NpyDtype> dtype_from_descr(std::string_view d) {
    if (d == "<f4") return NpyDtype::Float32;
    if (d == "<f8") return NpyDtype::Float64;
    if (d == "<u2") return NpyDtype::UInt16;
    if (d == "<i4") return NpyDtype::Int32;
    if (d == "<i8") return NpyDtype::Int64;
    return std::nullopt;
}

std::string value_of(std::string_view dict, std::string_view key, const std::filesystem::path& path) {
    const std::string quoted = fmt::format("'{}'", key);
    const auto pos = dict.find(quoted);
    EVOSCOPE_CHECK_FORMAT(pos != std::string_view::npos, "{}: .npy header has no {}", path.string(), quoted);
    auto rest = dict.substr(pos + quoted.size());
    const auto colon = rest.find(':');
    EVOSCOPE_CHECK_FORMAT(colon != std::string_view::npos, "{}: malformed .npy header", path.string());
    rest = trim(rest.substr(colon + 1));
    if (!rest.empty() && rest.front() == '(') {
        const auto close = rest.find(')');
        EVOSCOPE_CHECK_FORMAT(close != std::string_view::npos, "{}: malformed .npy shape", path.string());
        return std::string(rest.substr(0, close + 1));
    }
    const auto end = rest.find_first_of(",}");
    return std::string(trim(rest.substr(0, end)));
}

}  // namespace

const char* npy_descr(NpyDtype dtype) {
    switch (dtype) {
        case NpyDtype::Float32: return "<f4";
        case NpyDtype::Float64: return "<f8";
        case NpyDtype::UInt16: return "<u2";
        case NpyDtype::Int32: return "<i4";
        case NpyDtype::Int64: return "<i8";
    }
    return "?";
}

std::size_t npy_itemsize(NpyDtype dtype) {
    switch (dtype) {
        case NpyDtype::Float32: return 4;
        case NpyDtype::Float64: return 8;
        case NpyDtype::UInt16: return 2;
        case NpyDtype::Int32: return 4;
        case NpyDtype::Int64: return 8;
    }
    return 0;
}

NpyWriter::NpyWriter(const std::filesystem::path& path, NpyDtype dtype, std::vector<std::int64_t> shape)
    : path_(path), dtype_(dtype), shape_(std::move(shape)) {
    EVOSCOPE_CHECK(!shape_.empty(), "{}: an .npy array needs at least one dimension", path.string());
    row_bytes_ = npy_itemsize(dtype_);
    for (std::size_t i = 1; i < shape_.size(); ++i) {
        EVOSCOPE_CHECK(shape_[i] >= 0, "{}: negative dimension", path.string());
        row_bytes_ *= static_cast<std::size_t>(shape_[i]);
    }
    temp_ = temp_path_for(path_);
    file_ = std::fopen(temp_.c_str(), "wb");
    EVOSCOPE_CHECK_IO(file_ != nullptr, "cannot write '{}': {}", path_.string(), std::strerror(errno));
    auto open_shape = shape_;
    open_shape[0] = shape_[0] < 0 ? 0 : shape_[0];
    const std::string header = make_header(dtype_, open_shape);
    std::fwrite(header.data(), 1, header.size(), file_);
}

NpyWriter::~NpyWriter() {
    if (!committed_) {
        if (file_ != nullptr) std::fclose(file_);
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
    EVOSCOPE_CHECK(pending_ == 0, "{}: incomplete last row ({} stray bytes)", path_.string(), pending_);
    if (shape_[0] >= 0) {
        EVOSCOPE_CHECK(rows_ == shape_[0] || row_bytes_ == 0, "{}: {} rows written, {} declared", path_.string(),
                       rows_, shape_[0]);
    } else {
        auto final_shape = shape_;
        final_shape[0] = rows_;
        const std::string header = make_header(dtype_, final_shape);
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
    std::FILE* f = std::fopen(path.c_str(), "rb");
    EVOSCOPE_CHECK_IO(f != nullptr, "cannot open '{}': {}", path.string(), std::strerror(errno));
    unsigned char pre[12] = {};
    const std::size_t got = std::fread(pre, 1, sizeof(pre), f);
    if (got < 10 || std::memcmp(pre, kMagic, kMagicLen) != 0) {
        std::fclose(f);
        throw FormatError(fmt::format("{}: not an .npy file", path.string()));
    }
    const int major = pre[6];
    std::size_t header_len = 0;
    std::size_t prefix = 0;
    if (major == 1) {
        header_len = static_cast<std::size_t>(pre[8]) | (static_cast<std::size_t>(pre[9]) << 8);
        prefix = 10;
    } else if (major == 2 || major == 3) {
        header_len = static_cast<std::size_t>(pre[8]) | (static_cast<std::size_t>(pre[9]) << 8) |
                     (static_cast<std::size_t>(pre[10]) << 16) | (static_cast<std::size_t>(pre[11]) << 24);
        prefix = 12;
    } else {
        std::fclose(f);
        throw FormatError(fmt::format("{}: unsupported .npy version {}", path.string(), major));
    }
    std::string dict(header_len, '\0');
    std::fseek(f, static_cast<long>(prefix), SEEK_SET);
    const std::size_t got_dict = std::fread(dict.data(), 1, header_len, f);
    std::fseek(f, 0, SEEK_END);
    const auto file_size = static_cast<std::size_t>(std::ftell(f));
    std::fclose(f);
    EVOSCOPE_CHECK_FORMAT(got_dict == header_len, "{}: truncated .npy header", path.string());

    NpyInfo info;
    info.data_offset = prefix + header_len;
    std::string descr = value_of(dict, "descr", path);
    if (descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"')) {
        descr = descr.substr(1, descr.size() - 2);
    }
    if (descr == "|u1" || descr == "<u1") descr = "?";  // not supported: falls through to the error
    const auto dtype = dtype_from_descr(descr);
    EVOSCOPE_CHECK_FORMAT(dtype.has_value(),
                          "{}: unsupported .npy dtype '{}' (supported: <f4, <f8, <u2 as bfloat16, <i4, <i8)",
                          path.string(), descr);
    info.dtype = *dtype;
    info.fortran_order = value_of(dict, "fortran_order", path) == "True";
    EVOSCOPE_CHECK_FORMAT(!info.fortran_order, "{}: Fortran-order .npy arrays are not supported; save with C order",
                          path.string());
    const std::string shape = value_of(dict, "shape", path);
    const auto inner = std::string_view(shape).substr(1, shape.size() - 2);
    for (auto part : split(inner, ',')) {
        part = trim(part);
        if (!part.empty()) {
            info.shape.push_back(parse_int64(part, "npy dimension"));
        }
    }
    std::size_t n_bytes = npy_itemsize(info.dtype);
    for (const auto d : info.shape) n_bytes *= static_cast<std::size_t>(d);
    EVOSCOPE_CHECK_FORMAT(file_size >= info.data_offset + n_bytes,
                          "{}: truncated .npy data ({} bytes expected after the header, {} present)", path.string(),
                          n_bytes, file_size - info.data_offset);
    return info;
}

void read_npy_rows(const std::filesystem::path& path,
                   const NpyInfo& info,
                   std::int64_t row,
                   std::int64_t n_rows,
                   std::span<std::byte> out) {
    std::size_t row_bytes = npy_itemsize(info.dtype);
    for (std::size_t i = 1; i < info.shape.size(); ++i) row_bytes *= static_cast<std::size_t>(info.shape[i]);
    EVOSCOPE_CHECK(!info.shape.empty() && row >= 0 && n_rows >= 0 && row + n_rows <= info.shape[0],
                   "{}: rows {}..{} outside the array", path.string(), row, row + n_rows);
    EVOSCOPE_CHECK(out.size() == row_bytes * static_cast<std::size_t>(n_rows), "{}: output buffer size mismatch",
                   path.string());
    std::FILE* f = std::fopen(path.c_str(), "rb");
    EVOSCOPE_CHECK_IO(f != nullptr, "cannot open '{}': {}", path.string(), std::strerror(errno));
    std::fseek(f, static_cast<long>(info.data_offset + row_bytes * static_cast<std::size_t>(row)), SEEK_SET);
    const std::size_t got = std::fread(out.data(), 1, out.size(), f);
    std::fclose(f);
    EVOSCOPE_CHECK_FORMAT(got == out.size(), "{}: truncated .npy data", path.string());
}

std::vector<float> read_npy_float32(const std::filesystem::path& path, NpyInfo* info_out) {
    const NpyInfo info = read_npy_header(path);
    std::int64_t n = 1;
    for (const auto d : info.shape) n *= d;
    const std::int64_t rows = info.shape.empty() ? 1 : info.shape[0];
    std::vector<std::byte> raw(static_cast<std::size_t>(n) * npy_itemsize(info.dtype));
    if (!info.shape.empty()) {
        read_npy_rows(path, info, 0, rows, raw);
    }
    std::vector<float> out(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < out.size(); ++i) {
        const std::byte* p = raw.data() + i * npy_itemsize(info.dtype);
        switch (info.dtype) {
            case NpyDtype::Float32: std::memcpy(&out[i], p, 4); break;
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
    if (info_out != nullptr) *info_out = info;
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

}  // namespace evoscope
