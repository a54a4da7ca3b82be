/// @file
/// Reader for official `torch.save` checkpoints (zip archive + pickle) without libtorch: it
/// yields each tensor's dtype, shape, strides, storage offset and storage bytes (a view of the
/// memory-mapped archive, or a copy), and model/ and sae/ turn those into at::Tensor. Unlike
/// libtorch's unpickler, it accepts state dicts holding non-tensor objects such as Transformer
/// Engine's `io.BytesIO` `_extra_state`: a small pickle machine (protocol 2 and the opcodes
/// of 3-5 that a state dict can contain) evaluates `data.pkl`; any class or function it does
/// not know becomes an opaque value, and entries whose value is not a tensor are skipped and
/// listed. Storages are the `<archive>/data/<key>` entries of the archive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace evoscope {

class ZipReader;
struct ZipEntry;

/// Element types of torch storages (named as c10::ScalarType names them).
enum class TorchDtype : std::uint8_t {
    Double,
    Float,
    Half,
    BFloat16,
    Long,
    Int,
    Short,
    Char,
    Byte,
    Bool,
    ComplexFloat,
    ComplexDouble
};

/// Bytes per element.
std::size_t torch_dtype_size(TorchDtype dtype);
/// "Float", "BFloat16", ... (c10::toString's names).
const char* torch_dtype_name(TorchDtype dtype);

/// One tensor of the state dict, as pickled: a strided view of a typed storage.
struct TorchSaveTensor {
    std::string name;  ///< state-dict key (nested dicts joined with '.')
    TorchDtype dtype = TorchDtype::Float;
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

class TorchSaveFile {
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
    explicit TorchSaveFile(std::vector<std::filesystem::path> parts);
    ~TorchSaveFile();
    TorchSaveFile(const TorchSaveFile&) = delete;
    TorchSaveFile& operator=(const TorchSaveFile&) = delete;

    /// Tensors in pickle order.
    const std::vector<TorchSaveTensor>& tensors() const { return tensors_; }

    /// Keys of the entries whose value is not a tensor (BytesIO blobs, strings, numbers...).
    const std::vector<std::string>& skipped() const { return skipped_; }

    /// nullptr when absent.
    const TorchSaveTensor* find(const std::string& name) const;

    /// The folder of data.pkl inside the zip (torch writes the file stem or "archive").
    const std::string& archive_name() const { return archive_; }

    std::string describe() const;

    /// Pointer to the first byte of `t`'s whole storage in the mapping (storage_numel elements),
    /// whatever its alignment, or nullptr when the storage crosses a part boundary.
    const std::byte* storage_data(const TorchSaveTensor& t) const;
    /// Copies `t`'s whole storage into `dst` (storage_numel x element size bytes).
    void read_storage(const TorchSaveTensor& t, std::span<std::byte> dst) const;
    /// Pointer to the first element of `t` in the mapping, whatever its alignment, or nullptr
    /// when its storage crosses a part boundary. With `t.is_contiguous()`, the nbytes() bytes
    /// from there are the tensor's raw little-endian data.
    const std::byte* mapped_data(const TorchSaveTensor& t) const;
    /// Hint that the pages of `t`'s storage can leave the resident set (see
    /// MappedFile::evict); views of them stay valid.
    void evict(const TorchSaveTensor& t) const;

private:
    const ZipEntry& storage_entry(const TorchSaveTensor& t) const;

    std::unique_ptr<ZipReader> zip_;
    std::string archive_;
    std::vector<TorchSaveTensor> tensors_;
    std::vector<std::string> skipped_;
};

/// The files of one checkpoint: `path` itself when it exists, else `path.part0`, `path.part1`,
/// ... (the hub's byte-split naming) as far as they go.
/// @throws InputError when neither exists.
std::vector<std::filesystem::path> checkpoint_parts(const std::filesystem::path& path);

}  // namespace evoscope
