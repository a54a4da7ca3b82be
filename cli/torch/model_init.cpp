#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/torch/options.hpp"
#include "pipelines/torch/stages.hpp"

namespace evoscope::cli {

RunFn setup_model_init(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::ModelInitOptions>();
    app->footer("Example:\n  evoscope model init --config tiny.yml --seed 1 -o tiny.safetensors");
    app->add_option("--config", config->config_yaml, "Model YAML config (official field names)")
        ->required();
    app->add_option("--seed", config->seed, "Random seed");
    app->add_option("-o,--output", config->output, "Output .safetensors")->required();
    app->add_flag("--force", config->force, "Overwrite an existing output");
    return [config] {
        pipelines::run_model_init(*config);
    };
}

}  // namespace evoscope::cli
