#include "model/checkpoint.hpp"

#include <array>
#include <charconv>
#include <fstream>
#include <map>
#include <vector>

#include <torch/torch.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "model/safetensors.hpp"

namespace evoscope::model {

namespace {

// Same T1 extras as Evo2Model (spec §3.4): tolerated even when their dtype is exotic.
bool is_extra_key(const std::string& name) {
    return name == "unembed.weight" || name.ends_with("._extra_state") ||
           name.ends_with(".filter.t");
}

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

void fnv1a(std::uint64_t& h, const char* data, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        h ^= static_cast<std::uint8_t>(data[i]);
        h *= kFnvPrime;
    }
}

}  // namespace

Evo2Model load_model(const std::filesystem::path& safetensors,
                     const std::optional<std::filesystem::path>& config_yaml,
                     const std::string& device) {
    const SafetensorsFile file(safetensors);
    ModelConfig config;
    if (config_yaml) {
        config = ModelConfig::from_yaml_file(*config_yaml);
    } else {
        const auto it = file.metadata().find(kConfigMetadataKey);
        EVOSCOPE_CHECK(it != file.metadata().end(),
                       "{} has no '{}' metadata and no model config (--config) was given",
                       safetensors.string(),
                       kConfigMetadataKey);
        config = ModelConfig::from_yaml(it->second,
                                        safetensors.string() + " metadata " + kConfigMetadataKey);
    }
    std::map<std::string, at::Tensor> tensors;
    for (const auto& entry : file.entries()) {
        try {
            tensors.emplace(entry.name, file.tensor(entry.name));
        } catch (const FormatError&) {
            if (!is_extra_key(entry.name)) {
                throw;
            }
            EVOSCOPE_LOG_DEBUG("{}: skipping extra tensor '{}' of dtype {}",
                               safetensors.string(),
                               entry.name,
                               entry.dtype);
        }
    }
    std::optional<std::int64_t> trained_context;
    if (const auto it = file.metadata().find(kTrainedContextMetadataKey);
        it != file.metadata().end()) {
        std::int64_t value = 0;
        const auto* end = it->second.data() + it->second.size();
        const auto [ptr, ec] = std::from_chars(it->second.data(), end, value);
        EVOSCOPE_CHECK_FORMAT(ec == std::errc() && ptr == end && value >= 2,
                              "{}: metadata '{}' must be a whole number of tokens >= 2, got '{}'",
                              safetensors.string(),
                              kTrainedContextMetadataKey,
                              it->second);
        trained_context = value;
    }
    try {
        auto model = Evo2Model::from_state_dict(std::move(config), tensors, device);
        if (trained_context) {
            model.set_trained_context(*trained_context);
        }
        return model;
    } catch (const ModelError& e) {
        throw ModelError(fmt::format("while loading {}: {}", safetensors.string(), e.what()));
    }
}

void save_model(const Evo2Model& model, const std::filesystem::path& path) {
    std::map<std::string, std::string> metadata{
        {kConfigMetadataKey, model.config().to_yaml()},
        {kFormatVersionMetadataKey, kFormatVersion},
    };
    if (const auto context = model.trained_context(); context.recorded) {
        metadata[kTrainedContextMetadataKey] = std::to_string(context.tokens);
    }
    write_safetensors(path, model.official_state_dict(), metadata);
}

std::string content_hash(const std::filesystem::path& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    EVOSCOPE_CHECK_IO(!ec, "cannot read {}: {}", path.string(), ec.message());
    std::ifstream in(path, std::ios::binary);
    EVOSCOPE_CHECK_IO(in.good(), "cannot open {}", path.string());
    std::uint64_t h = kFnvOffset;
    const std::uint64_t size64 = size;
    fnv1a(h, reinterpret_cast<const char*>(&size64), sizeof size64);
    std::vector<char> buf;
    auto hash_range = [&](std::uint64_t begin, std::uint64_t n) {
        buf.resize(n);
        in.seekg(static_cast<std::streamoff>(begin));
        in.read(buf.data(), static_cast<std::streamsize>(n));
        EVOSCOPE_CHECK_IO(in.good() || (in.eof() && in.gcount() == static_cast<std::streamsize>(n)),
                          "cannot read {} bytes at offset {} of {}",
                          n,
                          begin,
                          path.string());
        fnv1a(h, buf.data(), n);
    };
    constexpr std::uint64_t kWhole = 8ULL << 20;
    constexpr std::uint64_t kHead = 1ULL << 20;
    constexpr std::uint64_t kSample = 64ULL << 10;
    constexpr std::uint64_t kSamples = 64;
    if (size <= kWhole) {
        hash_range(0, size);
    } else {
        hash_range(0, kHead);
        const std::uint64_t rest = size - kHead;
        for (std::uint64_t i = 0; i < kSamples; ++i) {
            // Sample i starts at kHead + i/(n-1) of the remaining span, the last one ending at EOF.
            const std::uint64_t begin = kHead + (rest - kSample) * i / (kSamples - 1);
            hash_range(begin, kSample);
        }
    }
    return fmt::format("fnv1a64s:{:016x}", h);
}

}  // namespace evoscope::model
