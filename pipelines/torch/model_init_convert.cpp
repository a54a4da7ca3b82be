// The libtorch side of `evoscope model init` and `evoscope model convert` (runs in evoscope-torch).
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/check.hpp"
#include "core/log.hpp"
#include "model/checkpoint.hpp"
#include "model/config.hpp"
#include "model/convert.hpp"
#include "model/evo2_model.hpp"
#include "pipelines/torch/stages.hpp"

namespace evoscope::pipelines {
namespace {

void check_new_output(const std::string& path, bool force) {
    EVOSCOPE_CHECK(force || !std::filesystem::exists(path),
                   "output '{}' exists (use --force to overwrite)",
                   path);
}

}  // namespace

ModelInitResult run_model_init(const ModelInitOptions& config) {
    check_new_output(config.output, config.force);
    auto model_config = model::ModelConfig::from_yaml_file(config.config_yaml);
    const auto model = model::Evo2Model::init_random(model_config, config.seed, "cpu");
    model::save_model(model, config.output);
    EVOSCOPE_LOG_INFO("wrote {} ({} parameters, {} blocks, seed {})",
                      config.output,
                      model.n_params(),
                      model.config().num_layers,
                      config.seed);
    return ModelInitResult{model.n_params()};
}

ModelConvertResult run_model_convert(const ModelConvertOptions& config) {
    check_new_output(config.output, config.force);
    std::vector<std::filesystem::path> parts(config.checkpoint_parts.begin(),
                                             config.checkpoint_parts.end());
    // The YAML text travels verbatim in the metadata, after checking that it is a valid config.
    std::ifstream in(config.config_yaml);
    EVOSCOPE_CHECK_IO(in.good(), "cannot read config '{}'", config.config_yaml);
    const std::string yaml_text((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
    (void)model::ModelConfig::from_yaml(yaml_text, config.config_yaml);
    model::ConvertOptions options;
    options.overwrite = config.force;
    const auto summary = model::convert_checkpoint(parts, yaml_text, config.output, options);
    EVOSCOPE_LOG_INFO(
        "{} tensors written ({:.1f} MB); {} non-tensor entries skipped, {} extra tensors dropped",
        summary.n_tensors,
        static_cast<double>(summary.bytes_written) / 1e6,
        summary.n_skipped_non_tensor,
        summary.n_dropped_extra);
    for (const auto& key : summary.skipped) {
        EVOSCOPE_LOG_DEBUG("skipped non-tensor entry {}", key);
    }
    return ModelConvertResult{static_cast<std::int64_t>(summary.n_tensors),
                              static_cast<std::int64_t>(summary.n_skipped_non_tensor)};
}

}  // namespace evoscope::pipelines
