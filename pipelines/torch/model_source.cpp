#include "pipelines/torch/model_source.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "core/log.hpp"
#include "model/checkpoint.hpp"

namespace evoscope::pipelines {

model::Evo2Model open_model(const ModelSourceOptions& options) {
    std::optional<std::filesystem::path> config;
    if (!options.config_yaml.empty()) {
        config = options.config_yaml;
    }
    auto model = model::load_model(options.model, config, options.device);
    const auto context = model.trained_context();
    EVOSCOPE_LOG_INFO(
        "model {}: {} blocks, d_model {}, {} parameters, on {}; trained context {} tokens ({})",
        options.model,
        model.config().num_layers,
        model.config().hidden_size,
        model.n_params(),
        model.device(),
        context.tokens,
        context.source());
    return model;
}

void warn_past_context(const model::Evo2Model& model,
                       const std::string& model_path,
                       const std::string& what,
                       const std::string& detail) {
    const auto context = model.trained_context();
    EVOSCOPE_LOG_WARN(
        "{} exceeds the {}-token context model {} was trained at{}; results past it are "
        "unreliable{}",
        what,
        context.tokens,
        model_path,
        context.recorded ? "" : " (its config max_seqlen)",
        detail.empty() ? std::string() : fmt::format(" ({})", detail));
}

std::int64_t model_window_bases(const model::Evo2Model& model,
                                const std::string& model_path,
                                std::int64_t requested) {
    const std::int64_t fit = model.trained_context().tokens - 1;
    if (requested <= 0) {
        const std::int64_t window = std::min(fit, kMaxDefaultModelWindow);
        EVOSCOPE_LOG_INFO(
            "window {} bp (from the model's {}-token trained context)", window, fit + 1);
        return window;
    }
    if (requested > fit) {
        warn_past_context(model,
                          model_path,
                          fmt::format("window {}", requested),
                          fmt::format("at most {} bases per forward pass", fit));
    }
    return requested;
}

std::int64_t model_window_tokens(const model::Evo2Model& model,
                                 const std::string& model_path,
                                 std::int64_t requested) {
    const std::int64_t fit = model.trained_context().tokens;
    if (requested <= 0) {
        return std::min(fit, kMaxDefaultModelWindow);
    }
    if (requested > fit) {
        warn_past_context(model, model_path, fmt::format("window {}", requested));
    }
    return requested;
}

WindowSourceOptions with_model_window(WindowSourceOptions options,
                                      const model::Evo2Model& model,
                                      const std::string& model_path) {
    options.window_bp = model_window_bases(model, model_path, options.window_bp);
    return options;
}

}  // namespace evoscope::pipelines
