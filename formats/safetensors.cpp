#include "formats/safetensors.hpp"

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

SafetensorsReader::SafetensorsReader(const std::filesystem::path& path) : path_(path), file_(path) {
    const std::string file = path_.string();
    const std::byte* map = file_.bytes().data();
    const auto map_size = static_cast<std::size_t>(file_.size());
    {
        EVOSCOPE_CHECK_FORMAT(map_size >= 8,
                              "'{}': not a safetensors file ({} bytes, shorter than the 8-byte "
                              "header length)",
                              file,
                              map_size);
        std::uint64_t header_size = 0;
        std::memcpy(&header_size, map, sizeof(header_size));
        EVOSCOPE_CHECK_FORMAT(header_size <= kMaxHeaderBytes && header_size <= map_size - 8,
                              "'{}': header length {} is beyond the end of the file ({} bytes): "
                              "truncated, or not a safetensors file",
                              file,
                              header_size,
                              map_size);
        data_offset_ = 8 + static_cast<std::size_t>(header_size);
        const std::size_t data_size = map_size - data_offset_;

        const auto* text = reinterpret_cast<const char*>(map + 8);
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
    }
}

SafetensorsReader::~SafetensorsReader() = default;

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
    return file_.bytes().subspan(data_offset_ + entry.begin, entry.end - entry.begin);
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

    OutputFile out(path.string());
    out.write(std::string_view(reinterpret_cast<const char*>(&header_size), sizeof(header_size)));
    out.write(text);
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
        out.write(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
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
