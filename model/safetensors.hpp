/// @file
/// safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian
/// header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
/// "__metadata__": {string: string}}, then the raw little-endian tensor bytes (offsets are
/// relative to the end of the header). Reading memory-maps the file: tensors are views of the
/// mapping until copied. Writing is atomic (temporary file + rename). The file handling lives in
/// formats/safetensors.hpp (no libtorch); this layer converts between entries and at::Tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "formats/safetensors.hpp"

namespace evoscope::model {

/// One tensor of the header (the torch-free reader's entry type).
using TensorEntry = evoscope::SafetensorsEntry;

class SafetensorsFile {
public:
    /// Maps `path` and parses its header.
    /// @throws IoError (cannot open/map), FormatError (bad header, offsets out of range,
    ///         overlapping tensors, size not matching dtype x shape), each naming the file and key.
    explicit SafetensorsFile(const std::filesystem::path& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::filesystem::path& path() const { return reader_.path(); }

    const std::map<std::string, std::string>& metadata() const { return reader_.metadata(); }

    /// Entries in file order (ascending offset).
    const std::vector<TensorEntry>& entries() const { return reader_.entries(); }

    /// nullptr when absent.
    const TensorEntry* find(const std::string& name) const { return reader_.find(name); }

    /// Raw bytes of one tensor (valid while this object lives).
    std::span<const std::byte> bytes(const TensorEntry& entry) const {
        return reader_.bytes(entry);
    }

    /// A CPU tensor viewing the mapping (no copy; valid while this object lives; read-only use).
    /// Exception: data not aligned for its dtype (writers that do not pad the header) is
    /// copied into a tensor that owns its memory.
    /// @throws FormatError for an unsupported dtype, InputError for an unknown name.
    at::Tensor tensor(const std::string& name) const;

private:
    evoscope::SafetensorsReader reader_;
};

/// Writes `tensors` (any dtype above, CPU or not: copied to CPU contiguous) in the given order,
/// with `metadata` as "__metadata__". Atomic. @throws IoError, InputError (duplicate names,
/// unsupported dtype).
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

/// Name, dtype and shape of one tensor to write, known before its data (streaming writes).
struct TensorSpec {
    std::string name;
    c10::ScalarType dtype = c10::ScalarType::Float;
    std::vector<std::int64_t> shape;
};

/// Streaming form of write_safetensors for inputs larger than memory: the header is written
/// from `specs`, then `tensor_at(i)` is called once per spec, in order, and its bytes written
/// before the next call, so only one tensor needs to be materialised at a time. Each returned
/// tensor must match its spec's dtype and shape (any device and strides). Atomic.
/// @throws IoError, InputError (duplicate names, unsupported dtype, a tensor not matching its
///         spec); exceptions from `tensor_at` propagate (the temporary file is removed).
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<TensorSpec>& specs,
                       const std::function<at::Tensor(std::size_t)>& tensor_at,
                       const std::map<std::string, std::string>& metadata = {});

/// safetensors dtype code for a torch dtype ("F32", "BF16", ...); throws for unsupported.
std::string safetensors_dtype(c10::ScalarType dtype);
c10::ScalarType torch_dtype(const std::string& safetensors_code);

}  // namespace evoscope::model
