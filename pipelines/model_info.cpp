#include "pipelines/model_info.hpp"

#include <charconv>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string_view>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/output_file.hpp"
#include "core/strings.hpp"
#include "formats/safetensors.hpp"

namespace evoscope::pipelines {
namespace {

// The metadata keys written by model/checkpoint.cpp (kept in step by the e2e test that reads
// the shipped model, whose file model/ wrote).
constexpr const char* kConfigKey = "evoscope.config";
constexpr const char* kTrainedContextKey = "evoscope.trained_context";

std::optional<std::int64_t> parse_int(std::string_view text) {
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

/// A top-level `key: value` of the config YAML (the flat layout of the official configs).
std::string yaml_value(const std::string& yaml, std::string_view key) {
    std::istringstream in(yaml);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(std::string(key) + ":", 0) != 0) {
            continue;
        }
        std::string value(trim(std::string_view(line).substr(key.size() + 1)));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        }
        return value;
    }
    return {};
}

}  // namespace

ModelInfo read_model_info(const std::string& model) {
    const ModelInfoOptions options{model};
    const SafetensorsReader reader(options.model);
    ModelInfo info;
    for (const auto& entry : reader.entries()) {
        std::int64_t n = 1;
        for (const auto d : entry.shape)
            n *= d;
        info.n_elements += n;
        info.dtype_elements[entry.dtype] += n;
        ++info.n_tensors;
    }
    const auto& meta = reader.metadata();
    std::string yaml;
    if (const auto it = meta.find(kConfigKey); it != meta.end()) {
        yaml = it->second;
    }
    const auto int_of = [&](std::string_view key) {
        return parse_int(yaml_value(yaml, key)).value_or(0);
    };
    info.model_name = yaml_value(yaml, "model_name");
    if (info.model_name.empty()) {
        info.model_name = std::filesystem::path(options.model).filename().string();
    }
    info.hidden_size = int_of("hidden_size");
    info.num_layers = int_of("num_layers");
    info.max_seqlen = int_of("max_seqlen");
    if (const auto it = meta.find(kTrainedContextKey); it != meta.end()) {
        const auto value = parse_int(it->second);
        EVOSCOPE_CHECK_FORMAT(value.has_value() && *value > 0,
                              "{}: metadata {} is '{}', not a positive integer",
                              options.model,
                              kTrainedContextKey,
                              it->second);
        info.trained_context = *value;
        info.trained_context_source = kTrainedContextKey;
    } else if (info.max_seqlen > 0) {
        info.trained_context = info.max_seqlen;
        info.trained_context_source = "config max_seqlen";
    } else {
        info.trained_context_source = "unknown";
    }
    info.config_yaml = yaml;
    return info;
}

ModelInfo run_model_info(const ModelInfoOptions& options) {
    const ModelInfo info = read_model_info(options.model);
    std::string text;
    const auto row = [&](std::string_view key, const auto& value) {
        text += fmt::format("{}\t{}\n", key, value);
    };
    row("file", options.model);
    row("model_name", info.model_name);
    row("n_tensors", info.n_tensors);
    row("n_elements", info.n_elements);
    for (const auto& [dtype, n] : info.dtype_elements) {
        row("elements_" + dtype, n);
    }
    row("hidden_size", info.hidden_size);
    row("num_layers", info.num_layers);
    row("max_seqlen", info.max_seqlen);
    row("trained_context", info.trained_context);
    row("trained_context_source", info.trained_context_source);
    OutputFile out(options.output, options.force);
    out.write(text);
    out.commit();
    return info;
}

}  // namespace evoscope::pipelines
