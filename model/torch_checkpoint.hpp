/// @file
/// Reader for official `torch.save` checkpoints (zip archive + pickle) without libtorch's
/// unpickler, which rejects state dicts holding non-tensor objects such as Transformer
/// Engine's `io.BytesIO` `_extra_state`. A small pickle machine (protocol 2 and the opcodes
/// of 3-5 that a state dict can contain) evaluates `data.pkl`; any class or function it does
/// not know becomes an opaque value, and entries whose value is not a tensor are skipped and
/// listed. Tensors are views of the memory-mapped storages (`<archive>/data/<key>` entries).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

namespace evoscope::model {

class ZipReader;
struct ZipEntry;

/// One tensor of the state dict, as pickled: a strided view of a typed storage.
struct CheckpointTensor {
    std::string name;  ///< state-dict key (nested dicts joined with '.')
    c10::ScalarType dtype = c10::ScalarType::Float;
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> stride;  ///< in elements
    std::int64_t storage_offset = 0;   ///< in elements
    std::string storage_key;           ///< zip entry `<archive>/data/<storage_key>`
    std::int64_t storage_numel = 0;    ///< elements in the whole storage

    std::int64_t numel() const;
    /// numel() x element size.
    std::uint64_t nbytes() const;
    /// True when the elements are dense in row-major order (shape/stride as from .contiguous()).
    bool is_contiguous() const;
};

class TorchCheckpoint {
public:
    /// Opens the archive (one file, or the parts whose concatenation is the file, in order)
    /// and evaluates its pickle. The state dict is the top-level dict, except that a top-level
    /// dict holding no tensors directly but a dict under the key `state_dict`, `model` or
    /// `module` (the first of these present) is unwrapped to that dict; its other entries are
    /// skipped (e.g. {"model": {...}, "epoch": 3}). Dicts nested inside
    /// the state dict are flattened with '.'-joined keys. Every storage and view is checked
    /// against its zip entry here, so `tensor()` cannot fail on a well-formed object.
    /// @throws IoError, FormatError (not a zip or truncated, compressed storages, missing
    ///         storage entries, views out of range, unsupported pickle opcodes, top level not a
    ///         dict, duplicate keys after flattening), naming the file and the key.
    explicit TorchCheckpoint(std::vector<std::filesystem::path> parts);
    ~TorchCheckpoint();
    TorchCheckpoint(const TorchCheckpoint&) = delete;
    TorchCheckpoint& operator=(const TorchCheckpoint&) = delete;

    /// Tensors in pickle order.
    const std::vector<CheckpointTensor>& tensors() const { return tensors_; }

    /// Keys of the entries whose value is not a tensor (BytesIO blobs, strings, numbers...).
    const std::vector<std::string>& skipped() const { return skipped_; }

    /// nullptr when absent.
    const CheckpointTensor* find(const std::string& name) const;

    /// The folder of data.pkl inside the zip (torch writes the file stem or "archive").
    const std::string& archive_name() const { return archive_; }

    std::string describe() const;

    /// CPU tensor with the pickled shape, stride and offset. Zero copy (a read-only view of
    /// the mapping, valid while this object lives) when the storage lies in one mapping and is
    /// aligned for its dtype; otherwise the storage is copied into a tensor that owns it.
    at::Tensor tensor(const CheckpointTensor& t) const;
    /// Pointer to the first element of `t` in the mapping, whatever its alignment, or nullptr
    /// when its storage crosses a part boundary. With `t.is_contiguous()`, the nbytes() bytes
    /// from there are the tensor's raw little-endian data (for copying bytes, e.g. into a file;
    /// not for typed access, which needs tensor()).
    const std::byte* mapped_data(const CheckpointTensor& t) const;
    /// Hint that the pages of `t`'s storage can leave the resident set (see
    /// MappedParts::evict); tensors viewing them stay valid.
    void evict(const CheckpointTensor& t) const;

private:
    const ZipEntry& storage_entry(const CheckpointTensor& t) const;

    std::unique_ptr<ZipReader> zip_;
    std::string archive_;
    std::vector<CheckpointTensor> tensors_;
    std::vector<std::string> skipped_;
};

/// The files of one checkpoint: `path` itself when it exists, else `path.part0`, `path.part1`,
/// ... (the hub's byte-split naming) as far as they go.
/// @throws InputError when neither exists.
std::vector<std::filesystem::path> checkpoint_parts(const std::filesystem::path& path);

}  // namespace evoscope::model
