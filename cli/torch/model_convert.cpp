#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/torch/options.hpp"
#include "pipelines/torch/stages.hpp"

namespace evoscope::cli {

RunFn setup_model_convert(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::ModelConvertOptions>();
    app->footer(
        "Example:\n"
        "  evoscope model convert --config evo2-7b-262k.yml --checkpoint evo2_7b_262k.pt -o "
        "evo2_7b_262k.safetensors\n"
        "  evoscope model convert --config evo2-40b-1m.yml --checkpoint evo2_40b.pt.part0 "
        "evo2_40b.pt.part1 ... -o out.safetensors\n"
        "Non-tensor entries (Transformer Engine _extra_state blobs) are skipped and counted.");
    app->add_option(
           "--config", config->config_yaml, "Model YAML config, stored in the output's metadata")
        ->required();
    app->add_option("--checkpoint",
                    config->checkpoint_parts,
                    "The .pt file, or its parts in order (they are read as one concatenated file)")
        ->required()
        ->take_all();
    app->add_option("-o,--output", config->output, "Output .safetensors")->required();
    app->add_flag("--force", config->force, "Overwrite an existing output");
    return [config] {
        pipelines::run_model_convert(*config);
    };
}

}  // namespace evoscope::cli
