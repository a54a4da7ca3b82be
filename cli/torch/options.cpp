#include "cli/torch/options.hpp"

#include <CLI/CLI.hpp>

#include "cli/options.hpp"

namespace evoscope::cli {

void add_model_source_options(CLI::App& app, pipelines::ModelSourceOptions& o) {
    app.add_option("-m,--model", o.model, "Model weights (.safetensors, official key layout)")
        ->required();
    app.add_option("--config",
                   o.config_yaml,
                   "Model YAML config (default: the one stored in the weights file)");
    app.add_option("--device", o.device, "cpu, cuda or cuda:N");
}

void add_activation_input_options(CLI::App& app,
                                  pipelines::ActivationInputOptions& o,
                                  bool allow_model) {
    app.add_option(
        "--acts",
        o.acts,
        "Activations: a store folder written by `evoscope model embed` or a .npy [N, d_in] "
        "(float32, float16, float64, or uint16 read as bfloat16)");
    if (!allow_model) {
        return;
    }
    app.add_option("-m,--model",
                   o.model,
                   "Instead of --acts: run this model (.safetensors) over FASTA windows");
    app.add_option("--model-config",
                   o.model_config,
                   "Model YAML config (default: the one stored in the weights)");
    app.add_option("-l,--layer", o.layer, "Activation site for -m, e.g. blocks.4");
    app.add_option("--device", o.device, "cpu, cuda or cuda:N");
    add_window_source_options(app, o.source, false);
}

}  // namespace evoscope::cli
