#include "core/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <utility>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.hpp"
#include "core/output_file.hpp"

namespace evoscope {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; big-endian hosts are not supported");

/// The reference implementation refuses headers above 100 MB; so do we (a corrupt length
/// field must not make us parse gigabytes).
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeSize {
    std::string_view code;
    std::size_t size;
};

// Codes from the safetensors spec.
constexpr DtypeSize kDtypes[] = {
    {"F64", 8},
    {"F32", 4},
    {"F16", 2},
    {"BF16", 2},
    {"I64", 8},
    {"I32", 4},
    {"I16", 2},
    {"I8", 1},
    {"U8", 1},
    {"BOOL", 1},
    {"U16", 2},
    {"U32", 4},
    {"U64", 8},
    {"F8_E4M3", 1},
    {"F8_E5M2", 1},
};

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

std::size_t safetensors_dtype_size(std::string_view code) {
    for (const DtypeSize& d : kDtypes) {
        if (d.code == code) {
            return d.size;
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Reading

SafetensorsReader::SafetensorsReader(const std::filesystem::path& path) : path_(path) {
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
            const auto code = dtype->get<std::string>();
            const std::size_t element_size = safetensors_dtype_size(code);
            EVOSCOPE_CHECK_FORMAT(
                element_size != 0, "'{}': tensor '{}': unknown dtype '{}'", file, name, code);
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
            SafetensorsEntry entry;
            entry.name = name;
            entry.dtype = code;
            std::uint64_t n_bytes = element_size;
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
        std::sort(entries_.begin(),
                  entries_.end(),
                  [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
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

SafetensorsReader::~SafetensorsReader() {
    if (map_ != nullptr) {
        ::munmap(const_cast<std::byte*>(map_), map_size_);
    }
}

const SafetensorsEntry* SafetensorsReader::find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
}

const SafetensorsEntry& SafetensorsReader::at(const std::string& name) const {
    const SafetensorsEntry* entry = find(name);
    EVOSCOPE_CHECK(entry != nullptr, "'{}': no tensor named '{}'", path_.string(), name);
    return *entry;
}

std::span<const std::byte> SafetensorsReader::bytes(const SafetensorsEntry& entry) const {
    return {map_ + data_offset_ + entry.begin, entry.end - entry.begin};
}

// ---------------------------------------------------------------------------------------------
// Writing

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<SafetensorsSpec>& specs,
                       const std::function<std::span<const std::byte>(std::size_t)>& bytes_at,
                       const std::map<std::string, std::string>& metadata) {
    // Header first (sizes are known from the specs), then each tensor's bytes.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        header["__metadata__"] = metadata;
    }
    std::set<std::string> names;
    std::uint64_t offset = 0;
    std::vector<std::uint64_t> sizes;
    sizes.reserve(specs.size());
    for (const SafetensorsSpec& spec : specs) {
        EVOSCOPE_CHECK(spec.name != "__metadata__",
                       "'{}': a tensor cannot be named __metadata__",
                       path.string());
        EVOSCOPE_CHECK(names.insert(spec.name).second,
                       "'{}': duplicate tensor name '{}'",
                       path.string(),
                       spec.name);
        const std::size_t element_size = safetensors_dtype_size(spec.dtype);
        EVOSCOPE_CHECK(element_size != 0,
                       "'{}': tensor '{}': unknown safetensors dtype '{}'",
                       path.string(),
                       spec.name,
                       spec.dtype);
        std::uint64_t n_bytes = element_size;
        for (const std::int64_t d : spec.shape) {
            EVOSCOPE_CHECK(
                d >= 0, "'{}': tensor '{}' has a negative size", path.string(), spec.name);
            EVOSCOPE_CHECK(
                !__builtin_mul_overflow(n_bytes, static_cast<std::uint64_t>(d), &n_bytes),
                "'{}': tensor '{}': shape is too large",
                path.string(),
                spec.name);
        }
        header[spec.name] = {{"dtype", spec.dtype},
                             {"shape", spec.shape},
                             {"data_offsets", {offset, offset + n_bytes}}};
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
        const std::span<const std::byte> data = bytes_at(i);
        EVOSCOPE_CHECK(data.size() == sizes[i],
                       "'{}': tensor '{}': {} bytes given, but {} x [{}] needs {}",
                       path.string(),
                       specs[i].name,
                       data.size(),
                       specs[i].dtype,
                       fmt::join(specs[i].shape, ", "),
                       sizes[i]);
        out.write(data.data(), data.size());
    }
    out.commit();
}

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<SafetensorsSpec> specs;
    specs.reserve(tensors.size());
    for (const SafetensorsTensor& t : tensors) {
        specs.push_back(SafetensorsSpec{.name = t.name, .dtype = t.dtype, .shape = t.shape});
    }
    write_safetensors(
        path, specs, [&tensors](std::size_t i) { return tensors[i].data; }, metadata);
}

}  // namespace evoscope
