// at::Tensor conversions over the torch-free safetensors reader and writer in core/.
#include "model/safetensors.hpp"

#include <cstring>
#include <optional>

#include <fmt/ranges.h>
#include <torch/torch.h>

#include "core/check.hpp"

namespace evoscope::model {
namespace {

struct DtypeInfo {
    const char* code;
    std::optional<c10::ScalarType> torch;  ///< nullopt: known to safetensors, not to libtorch 1.13
};

// The FP8 and unsigned wide types are recognised by the reader (for size checks) but cannot
// become tensors with Debian's libtorch 1.13.
const std::vector<DtypeInfo>& dtype_table() {
    static const std::vector<DtypeInfo> kTable{
        {"F64", c10::ScalarType::Double},
        {"F32", c10::ScalarType::Float},
        {"F16", c10::ScalarType::Half},
        {"BF16", c10::ScalarType::BFloat16},
        {"I64", c10::ScalarType::Long},
        {"I32", c10::ScalarType::Int},
        {"I16", c10::ScalarType::Short},
        {"I8", c10::ScalarType::Char},
        {"U8", c10::ScalarType::Byte},
        {"BOOL", c10::ScalarType::Bool},
        {"U16", std::nullopt},
        {"U32", std::nullopt},
        {"U64", std::nullopt},
        {"F8_E4M3", std::nullopt},
        {"F8_E5M2", std::nullopt},
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

std::span<const std::byte> tensor_bytes(const at::Tensor& t) {
    return {static_cast<const std::byte*>(t.data_ptr()), t.nbytes()};
}

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

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : reader_(path) {}

SafetensorsFile::~SafetensorsFile() = default;

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
    const TensorEntry& entry = reader_.at(name);
    const DtypeInfo* info = find_dtype(entry.dtype);
    EVOSCOPE_CHECK_FORMAT(info != nullptr && info->torch.has_value(),
                          "'{}': tensor '{}': dtype {} is not supported by this libtorch",
                          path().string(),
                          name,
                          entry.dtype);
    const auto options = at::TensorOptions().dtype(*info->torch).device(at::kCPU);
    const auto data = bytes(entry);
    if (reinterpret_cast<std::uintptr_t>(data.data()) % c10::elementSize(*info->torch) == 0) {
        // A view of the read-only mapping: writing to it would fault.
        return at::from_blob(const_cast<std::byte*>(data.data()), entry.shape, options);
    }
    // Data misaligned for the element type (no header padding): copy, as one cannot
    // legally read e.g. a float from an odd address.
    at::Tensor copy = at::empty(entry.shape, options);
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
    std::vector<SafetensorsSpec> raw_specs;
    raw_specs.reserve(specs.size());
    for (const TensorSpec& spec : specs) {
        raw_specs.push_back(SafetensorsSpec{
            .name = spec.name, .dtype = safetensors_dtype(spec.dtype), .shape = spec.shape});
    }
    // At most one tensor is materialised (on CPU, contiguous) at a time: `current` keeps the
    // bytes handed to the writer alive until the next call.
    at::Tensor current;
    auto bytes_at = [&](std::size_t i) -> std::span<const std::byte> {
        const TensorSpec& spec = specs[i];
        current = at::Tensor();
        const at::Tensor t = tensor_at(i);
        EVOSCOPE_CHECK(
            t.defined() && t.scalar_type() == spec.dtype && t.sizes().vec() == spec.shape,
            "'{}': tensor '{}' does not match its declared {} [{}]",
            path.string(),
            spec.name,
            c10::toString(spec.dtype),
            fmt::join(spec.shape, ", "));
        current = t.device().is_cpu() && t.is_contiguous() ? t : t.to(at::kCPU).contiguous();
        return tensor_bytes(current);
    };
    evoscope::write_safetensors(path, raw_specs, bytes_at, metadata);
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
