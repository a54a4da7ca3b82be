/// @file
/// safetensors files (https://huggingface.co/docs/safetensors) without libtorch: an 8-byte
/// little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin,
/// end]}, "__metadata__": {string: string}}, then the raw little-endian tensor bytes (offsets
/// relative to the end of the header). Reading memory-maps the file and hands out raw bytes per
/// entry (views of a MappedFile); writing is atomic (core/output_file.hpp). model/safetensors.hpp
/// adds at::Tensor conversions on top.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/mapped_file.hpp"

namespace evoscope {

/// One tensor of a safetensors header.
struct SafetensorsEntry {
    std::string name;
    std::string dtype;  ///< F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, U16, U32, U64,
                        ///< F8_E4M3, F8_E5M2
    std::vector<std::int64_t> shape;
    std::size_t begin = 0;  ///< byte offset in the data section
    std::size_t end = 0;    ///< one past the last byte
};

/// Bytes per element of a safetensors dtype code, or 0 for a code the format does not define.
std::size_t safetensors_dtype_size(std::string_view code);

class SafetensorsReader {
public:
    /// Maps `path` and parses and validates its header.
    /// @throws IoError (cannot open/map), FormatError (bad header, offsets out of range,
    ///         overlapping tensors, size not matching dtype x shape), each naming the file and key.
    explicit SafetensorsReader(const std::filesystem::path& path);
    ~SafetensorsReader();
    SafetensorsReader(const SafetensorsReader&) = delete;
    SafetensorsReader& operator=(const SafetensorsReader&) = delete;

    const std::filesystem::path& path() const { return path_; }

    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    /// Entries in file order (ascending offset).
    const std::vector<SafetensorsEntry>& entries() const { return entries_; }

    /// nullptr when absent.
    const SafetensorsEntry* find(const std::string& name) const;
    /// @throws InputError naming the file and the missing key.
    const SafetensorsEntry& at(const std::string& name) const;
    /// Raw little-endian bytes of one tensor, a view of the read-only mapping (valid while this
    /// object lives; not aligned for the dtype when the writer did not pad the header).
    std::span<const std::byte> bytes(const SafetensorsEntry& entry) const;

private:
    std::filesystem::path path_;
    std::map<std::string, std::string> metadata_;
    std::vector<SafetensorsEntry> entries_;
    std::map<std::string, std::size_t> index_;
    MappedFile file_;
    std::size_t data_offset_ = 0;
};

/// Name, dtype code and shape of one tensor to write.
struct SafetensorsSpec {
    std::string name;
    std::string dtype;  ///< a code accepted by safetensors_dtype_size
    std::vector<std::int64_t> shape;
};

/// A tensor to write: spec plus its raw little-endian bytes (row-major, dtype x shape bytes).
struct SafetensorsTensor {
    std::string name;
    std::string dtype;
    std::vector<std::int64_t> shape;
    std::span<const std::byte> data;
};

/// Writes `tensors` in the given order with `metadata` as "__metadata__" (omitted when empty);
/// the header is padded with spaces so that the data section starts 8-byte aligned. Atomic: a
/// failure leaves any previous file at `path` untouched and no temporary behind.
/// @throws InputError (duplicate or reserved names, unknown dtype, negative size, byte count
///         not matching dtype x shape), IoError.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

/// Streaming form for inputs larger than memory: the header is written from `specs`, then
/// `bytes_at(i)` is called once per spec, in order, and its bytes written before the next call
/// (the span need only stay valid until then). Each span must hold exactly dtype x shape bytes.
/// Atomic. @throws as above; exceptions from `bytes_at` propagate (the temporary is removed).
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<SafetensorsSpec>& specs,
                       const std::function<std::span<const std::byte>(std::size_t)>& bytes_at,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace evoscope
