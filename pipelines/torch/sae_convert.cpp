// `evoscope sae convert`: SAE files between SAELens, Goodfire and dictionary_learning (runs in
// evoscope-torch; formats in sae/formats.hpp).
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "formats/safetensors.hpp"
#include "model/checkpoint.hpp"
#include "model/config.hpp"
#include "model/torch_checkpoint.hpp"
#include "pipelines/torch/stages.hpp"
#include "sae/formats.hpp"
#include "sae/sae.hpp"

namespace evoscope::pipelines {

namespace fs = std::filesystem;

namespace {

/// The hidden size from the model config kept in the weights' metadata (header only).
std::int64_t model_hidden_size(const std::string& model_path) {
    const SafetensorsReader file(model_path);
    const auto it = file.metadata().find(model::kConfigMetadataKey);
    EVOSCOPE_CHECK(it != file.metadata().end(),
                   "'{}' has no '{}' metadata: pass --d-model instead",
                   model_path,
                   model::kConfigMetadataKey);
    return model::ModelConfig::from_yaml(it->second,
                                         model_path + " metadata " + model::kConfigMetadataKey)
        .hidden_size;
}

/// The same SAE with other provenance fields (bit-exact copy of the tensors).
sae::Sae with_provenance(const sae::Sae& s, std::string model_name, std::string hook_name) {
    sae::SaeConfig config = s.config();
    config.model_name = std::move(model_name);
    config.hook_name = std::move(hook_name);
    std::map<std::string, at::Tensor> t;
    for (auto& [name, tensor] : s.saelens_tensors()) {
        t.emplace(name, tensor);
    }
    const at::Tensor threshold = t.count("threshold") != 0 ? t.at("threshold") : at::Tensor();
    sae::Sae out = sae::Sae::from_tensors(config,
                                          config.tied ? at::Tensor() : t.at("W_enc"),
                                          t.at("W_dec"),
                                          t.at("b_enc"),
                                          t.at("b_dec"),
                                          threshold,
                                          s.device());
    out.set_normalization(s.config().normalization, s.norm_mean(), s.norm_scale());
    return out;
}

std::string describe(const sae::Sae& s) {
    const auto& c = s.config();
    return fmt::format("d_in {}, d_sae {}, arch {}, k {}, tied {}, b_dec subtracted {}{}",
                       c.d_in,
                       c.d_sae,
                       sae::arch_name(c.arch),
                       c.k > 0 ? std::to_string(c.k) : std::string("unknown"),
                       c.tied ? "yes" : "no",
                       c.apply_b_dec_to_input ? "yes" : "no",
                       s.has_threshold() ? ", threshold yes" : "");
}

}  // namespace

SaeConvertResult run_sae_convert(const SaeConvertOptions& config) {
    EVOSCOPE_CHECK(config.force || !fs::exists(config.output),
                   "output '{}' exists (use --force to overwrite)",
                   config.output);
    const fs::path input = config.input;
    EVOSCOPE_CHECK(fs::weakly_canonical(input) != fs::weakly_canonical(config.output),
                   "the output '{}' is the input",
                   config.output);

    std::int64_t d_model = config.d_model;
    if (!config.model.empty()) {
        const std::int64_t hidden = model_hidden_size(config.model);
        EVOSCOPE_CHECK(d_model == 0 || d_model == hidden,
                       "--d-model {} contradicts the hidden size {} of '{}'",
                       d_model,
                       hidden,
                       config.model);
        d_model = hidden;
    }
    sae::LoadOptions options;
    if (config.from != "auto") {
        options.format = sae::parse_format(config.from);
    }
    options.k_override = config.k;
    options.expected_d_in = d_model;
    options.site = config.hook;
    sae::SaeFormat from{};
    sae::Sae s = sae::load_sae(input, options, &from);

    std::string model_name = s.config().model_name;
    std::string hook_name = s.config().hook_name;
    if (!config.hook.empty() && config.hook != hook_name) {
        if (!hook_name.empty()) {
            EVOSCOPE_LOG_WARN("{} records hook '{}'; --hook {} replaces it",
                              input.string(),
                              hook_name,
                              config.hook);
        }
        hook_name = config.hook;
    }
    if (!config.model.empty() && model_name.empty()) {
        model_name = fs::path(config.model).filename().string();
    }
    if (model_name != s.config().model_name || hook_name != s.config().hook_name) {
        s = with_provenance(s, model_name, hook_name);
    }
    const sae::SaeFormat to = sae::parse_format(config.to);
    sae::save_sae(s, config.output, to, config.force);
    EVOSCOPE_LOG_INFO("{} {} -> {} {}: {}",
                      sae::format_name(from),
                      input.string(),
                      sae::format_name(to),
                      config.output,
                      describe(s));
    return SaeConvertResult{config.output};
}

}  // namespace evoscope::pipelines
