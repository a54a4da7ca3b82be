#include "pipelines/torch/model_source.hpp"

#include <optional>

#include "core/log.hpp"
#include "model/checkpoint.hpp"

namespace evoscope::pipelines {

model::Evo2Model open_model(const ModelSourceOptions& options) {
    std::optional<std::filesystem::path> config;
    if (!options.config_yaml.empty()) {
        config = options.config_yaml;
    }
    auto model = model::load_model(options.model, config, options.device);
    EVOSCOPE_LOG_INFO("model {}: {} blocks, d_model {}, {} parameters, on {}", options.model,
                      model.config().num_layers, model.config().hidden_size, model.n_params(), model.device());
    return model;
}

}  // namespace evoscope::pipelines
