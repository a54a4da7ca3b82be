#include "model/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.hpp"
#include "core/output_file.hpp"

namespace evoscope::model {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; big-endian hosts are not supported");

/// The reference implementation refuses headers above 100 MB; so do we (a corrupt length
/// field must not make us parse gigabytes).
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeInfo {
    const char* code;
    std::size_t size;
    std::optional<c10::ScalarType> torch;  ///< nullopt: known to safetensors, not to libtorch 1.13
};

// Codes from the safetensors spec. The FP8 and unsigned wide types are recognised for size
// checks but cannot become tensors with Debian's libtorch 1.13.
const std::vector<DtypeInfo>& dtype_table() {
    static const std::vector<DtypeInfo> kTable{
        {"F64", 8, c10::ScalarType::Double},
        {"F32", 4, c10::ScalarType::Float},
        {"F16", 2, c10::ScalarType::Half},
        {"BF16", 2, c10::ScalarType::BFloat16},
        {"I64", 8, c10::ScalarType::Long},
        {"I32", 4, c10::ScalarType::Int},
        {"I16", 2, c10::ScalarType::Short},
        {"I8", 1, c10::ScalarType::Char},
        {"U8", 1, c10::ScalarType::Byte},
        {"BOOL", 1, c10::ScalarType::Bool},
        {"U16", 2, std::nullopt},
        {"U32", 4, std::nullopt},
        {"U64", 8, std::nullopt},
        {"F8_E4M3", 1, std::nullopt},
        {"F8_E5M2", 1, std::nullopt},
    };
    return kTable;
}

const DtypeInfo* find_dtype(const std::string& code) {
    for (const DtypeInfo& info : dtype_table()) {
        if (code == info.code) {
            return &info;
        }
    }
    return nullptr;
}

std::string errno_text() {
    return std::strerror(errno);
}

/// A temporary output file removed unless committed.
class TempFile {
public:
    explicit TempFile(const std::filesystem::path& path) : path_(path), temp_(temp_path_for(path)) {
        file_ = std::fopen(temp_.c_str(), "wb");
        EVOSCOPE_CHECK_IO(file_ != nullptr, "cannot write '{}': {}", path_.string(), errno_text());
    }

    ~TempFile() {
        if (file_ != nullptr) {
            std::fclose(file_);
        }
        if (!committed_) {
            std::error_code ec;
            std::filesystem::remove(temp_, ec);
        }
    }

    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    void write(const void* data, std::size_t n) {
        if (n > 0) {
            EVOSCOPE_CHECK_IO(std::fwrite(data, 1, n, file_) == n,
                              "writing '{}' failed: {}",
                              path_.string(),
                              errno_text());
        }
    }

    void commit() {
        const bool failed = std::fflush(file_) != 0 || std::ferror(file_) != 0;
        const bool close_failed = std::fclose(file_) != 0;
        file_ = nullptr;
        EVOSCOPE_CHECK_IO(
            !failed && !close_failed, "writing '{}' failed: {}", path_.string(), errno_text());
        commit_temp_file(temp_, path_);  // removes the temporary itself on failure
        committed_ = true;
    }

private:
    std::filesystem::path path_;
    std::filesystem::path temp_;
    std::FILE* file_ = nullptr;
    bool committed_ = false;
};

}  // namespace

std::string safetensors_dtype(c10::ScalarType dtype) {
    for (const DtypeInfo& info : dtype_table()) {
        if (info.torch == dtype) {
            return info.code;
        }
    }
    throw InputError(fmt::format("dtype {} cannot be stored in safetensors", c10::toString(dtype)));
}

c10::ScalarType torch_dtype(const std::string& safetensors_code) {
    const DtypeInfo* info = find_dtype(safetensors_code);
    EVOSCOPE_CHECK_FORMAT(info != nullptr, "unknown safetensors dtype '{}'", safetensors_code);
    EVOSCOPE_CHECK_FORMAT(info->torch.has_value(),
                          "safetensors dtype '{}' is not supported by this libtorch",
                          safetensors_code);
    return *info->torch;
}

// ---------------------------------------------------------------------------------------------
// Reading

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : path_(path) {
    const std::string file = path_.string();
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    EVOSCOPE_CHECK_IO(fd >= 0, "cannot open '{}': {}", file, errno_text());

    struct stat st {};

    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        const std::string reason = errno_text();
        ::close(fd);
        throw IoError(fmt::format(
            "cannot read '{}': {}", file, S_ISREG(st.st_mode) ? reason : "not a regular file"));
    }
    map_size_ = static_cast<std::size_t>(st.st_size);
    if (map_size_ > 0) {
        void* m = ::mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
        const std::string reason = errno_text();
        ::close(fd);
        EVOSCOPE_CHECK_IO(m != MAP_FAILED, "cannot map '{}': {}", file, reason);
        map_ = static_cast<const std::byte*>(m);
    } else {
        ::close(fd);
    }
    try {
        EVOSCOPE_CHECK_FORMAT(map_size_ >= 8,
                              "'{}': not a safetensors file ({} bytes, shorter than the 8-byte "
                              "header length)",
                              file,
                              map_size_);
        std::uint64_t header_size = 0;
        std::memcpy(&header_size, map_, sizeof(header_size));
        EVOSCOPE_CHECK_FORMAT(header_size <= kMaxHeaderBytes && header_size <= map_size_ - 8,
                              "'{}': header length {} is beyond the end of the file ({} bytes): "
                              "truncated, or not a safetensors file",
                              file,
                              header_size,
                              map_size_);
        data_offset_ = 8 + static_cast<std::size_t>(header_size);
        const std::size_t data_size = map_size_ - data_offset_;

        const auto* text = reinterpret_cast<const char*>(map_ + 8);
        nlohmann::json header;
        try {
            header = nlohmann::json::parse(text, text + header_size);
        } catch (const nlohmann::json::parse_error& e) {
            throw FormatError(fmt::format("'{}': header is not valid JSON: {}", file, e.what()));
        }
        EVOSCOPE_CHECK_FORMAT(header.is_object(), "'{}': header is not a JSON object", file);

        for (const auto& [name, value] : header.items()) {
            if (name == "__metadata__") {
                EVOSCOPE_CHECK_FORMAT(
                    value.is_object(), "'{}': __metadata__ is not an object", file);
                for (const auto& [k, v] : value.items()) {
                    EVOSCOPE_CHECK_FORMAT(
                        v.is_string(), "'{}': __metadata__ value '{}' is not a string", file, k);
                    metadata_.emplace(k, v.get<std::string>());
                }
                continue;
            }
            EVOSCOPE_CHECK_FORMAT(
                value.is_object(), "'{}': tensor '{}': entry is not an object", file, name);
            const auto dtype = value.find("dtype");
            const auto shape = value.find("shape");
            const auto offsets = value.find("data_offsets");
            EVOSCOPE_CHECK_FORMAT(dtype != value.end() && dtype->is_string(),
                                  "'{}': tensor '{}': missing or non-string 'dtype'",
                                  file,
                                  name);
            const DtypeInfo* info = find_dtype(dtype->get<std::string>());
            EVOSCOPE_CHECK_FORMAT(info != nullptr,
                                  "'{}': tensor '{}': unknown dtype '{}'",
                                  file,
                                  name,
                                  dtype->get<std::string>());
            EVOSCOPE_CHECK_FORMAT(shape != value.end() && shape->is_array(),
                                  "'{}': tensor '{}': missing or non-array 'shape'",
                                  file,
                                  name);
            EVOSCOPE_CHECK_FORMAT(offsets != value.end() && offsets->is_array() &&
                                      offsets->size() == 2 && (*offsets)[0].is_number_unsigned() &&
                                      (*offsets)[1].is_number_unsigned(),
                                  "'{}': tensor '{}': 'data_offsets' is not [begin, end]",
                                  file,
                                  name);
            TensorEntry entry;
            entry.name = name;
            entry.dtype = info->code;
            std::uint64_t n_bytes = info->size;
            for (const auto& d : *shape) {
                EVOSCOPE_CHECK_FORMAT(d.is_number_unsigned(),
                                      "'{}': tensor '{}': shape holds {}, not a size",
                                      file,
                                      name,
                                      d.dump());
                const auto dim = d.get<std::uint64_t>();
                EVOSCOPE_CHECK_FORMAT(
                    dim <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) &&
                        !__builtin_mul_overflow(n_bytes, dim, &n_bytes),
                    "'{}': tensor '{}': shape is too large",
                    file,
                    name);
                entry.shape.push_back(static_cast<std::int64_t>(dim));
            }
            const auto begin = (*offsets)[0].get<std::uint64_t>();
            const auto end = (*offsets)[1].get<std::uint64_t>();
            EVOSCOPE_CHECK_FORMAT(begin <= end && end <= data_size,
                                  "'{}': tensor '{}': data_offsets [{}, {}] out of range (data "
                                  "section has {} bytes; truncated file?)",
                                  file,
                                  name,
                                  begin,
                                  end,
                                  data_size);
            EVOSCOPE_CHECK_FORMAT(end - begin == n_bytes,
                                  "'{}': tensor '{}': {} bytes in the file, but {} x [{}] needs {}",
                                  file,
                                  name,
                                  end - begin,
                                  entry.dtype,
                                  fmt::join(entry.shape, ", "),
                                  n_bytes);
            entry.begin = static_cast<std::size_t>(begin);
            entry.end = static_cast<std::size_t>(end);
            entries_.push_back(std::move(entry));
        }
        std::sort(entries_.begin(), entries_.end(), [](const TensorEntry& a, const TensorEntry& b) {
            return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
        });
        for (std::size_t i = 1; i < entries_.size(); ++i) {
            EVOSCOPE_CHECK_FORMAT(entries_[i].begin >= entries_[i - 1].end,
                                  "'{}': tensors '{}' and '{}' overlap ([{}, {}) and [{}, {}))",
                                  file,
                                  entries_[i - 1].name,
                                  entries_[i].name,
                                  entries_[i - 1].begin,
                                  entries_[i - 1].end,
                                  entries_[i].begin,
                                  entries_[i].end);
        }
        for (std::size_t i = 0; i < entries_.size(); ++i) {
            index_.emplace(entries_[i].name, i);
        }
    } catch (...) {
        if (map_ != nullptr) {
            ::munmap(const_cast<std::byte*>(map_), map_size_);
        }
        throw;
    }
}

SafetensorsFile::~SafetensorsFile() {
    if (map_ != nullptr) {
        ::munmap(const_cast<std::byte*>(map_), map_size_);
    }
}

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
}

std::span<const std::byte> SafetensorsFile::bytes(const TensorEntry& entry) const {
    return {map_ + data_offset_ + entry.begin, entry.end - entry.begin};
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
    const TensorEntry* entry = find(name);
    EVOSCOPE_CHECK(entry != nullptr, "'{}': no tensor named '{}'", path_.string(), name);
    const DtypeInfo* info = find_dtype(entry->dtype);
    EVOSCOPE_CHECK_FORMAT(info != nullptr && info->torch.has_value(),
                          "'{}': tensor '{}': dtype {} is not supported by this libtorch",
                          path_.string(),
                          name,
                          entry->dtype);
    const auto options = at::TensorOptions().dtype(*info->torch).device(at::kCPU);
    const auto data = bytes(*entry);
    if (reinterpret_cast<std::uintptr_t>(data.data()) % info->size == 0) {
        // A view of the read-only mapping: writing to it would fault.
        return at::from_blob(const_cast<std::byte*>(data.data()), entry->shape, options);
    }
    // Data misaligned for the element type (no header padding): copy, as one cannot
    // legally read e.g. a float from an odd address.
    at::Tensor copy = at::empty(entry->shape, options);
    if (!data.empty()) {
        std::memcpy(copy.data_ptr(), data.data(), data.size());
    }
    return copy;
}

// ---------------------------------------------------------------------------------------------
// Writing

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<TensorSpec>& specs,
                       const std::function<at::Tensor(std::size_t)>& tensor_at,
                       const std::map<std::string, std::string>& metadata) {
    // Header first (sizes are known from the specs), then each tensor's bytes: at most one
    // tensor is ever materialised (on CPU, contiguous) at a time.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        header["__metadata__"] = metadata;
    }
    std::set<std::string> names;
    std::uint64_t offset = 0;
    std::vector<std::uint64_t> sizes;
    for (const TensorSpec& spec : specs) {
        EVOSCOPE_CHECK(spec.name != "__metadata__",
                       "'{}': a tensor cannot be named __metadata__",
                       path.string());
        EVOSCOPE_CHECK(names.insert(spec.name).second,
                       "'{}': duplicate tensor name '{}'",
                       path.string(),
                       spec.name);
        const std::string code = safetensors_dtype(spec.dtype);
        std::uint64_t n_bytes = c10::elementSize(spec.dtype);
        for (const std::int64_t d : spec.shape) {
            EVOSCOPE_CHECK(
                d >= 0, "'{}': tensor '{}' has a negative size", path.string(), spec.name);
            n_bytes *= static_cast<std::uint64_t>(d);
        }
        header[spec.name] = {
            {"dtype", code}, {"shape", spec.shape}, {"data_offsets", {offset, offset + n_bytes}}};
        offset += n_bytes;
        sizes.push_back(n_bytes);
    }
    std::string text = header.dump();
    // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
    text.append((8 - text.size() % 8) % 8, ' ');
    const std::uint64_t header_size = text.size();

    TempFile out(path);
    out.write(&header_size, sizeof(header_size));
    out.write(text.data(), text.size());
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const TensorSpec& spec = specs[i];
        const at::Tensor t = tensor_at(i);
        EVOSCOPE_CHECK(
            t.defined() && t.scalar_type() == spec.dtype && t.sizes().vec() == spec.shape,
            "'{}': tensor '{}' does not match its declared {} [{}]",
            path.string(),
            spec.name,
            c10::toString(spec.dtype),
            fmt::join(spec.shape, ", "));
        const at::Tensor c =
            t.device().is_cpu() && t.is_contiguous() ? t : t.to(at::kCPU).contiguous();
        out.write(c.data_ptr(), static_cast<std::size_t>(sizes[i]));
    }
    out.commit();
}

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<TensorSpec> specs;
    specs.reserve(tensors.size());
    for (const auto& [name, t] : tensors) {
        EVOSCOPE_CHECK(t.defined(), "'{}': tensor '{}' is undefined", path.string(), name);
        specs.push_back(
            TensorSpec{.name = name, .dtype = t.scalar_type(), .shape = t.sizes().vec()});
    }
    write_safetensors(
        path, specs, [&tensors](std::size_t i) { return tensors[i].second; }, metadata);
}

}  // namespace evoscope::model
