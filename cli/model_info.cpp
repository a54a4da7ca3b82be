#include "pipelines/model_info.hpp"

#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"

namespace evoscope::cli {

RunFn setup_model_info(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::ModelInfoOptions>();
    app->footer(
        "Example:\n"
        "  evoscope model info -m data/models/evoscope-small.safetensors\n"
        "Output: key<TAB>value lines (file, model_name, n_tensors, n_elements, elements per\n"
        "dtype, hidden_size, num_layers, max_seqlen, trained_context and where it comes from). "
        "Reads the\n"
        "file's header only: no libtorch, no tensor bytes.");
    app->add_option("-m,--model", config->model, "Model weights (.safetensors)")->required();
    app->add_option("-o,--output", config->output, "Output TSV, - for stdout");
    app->add_flag("--force", config->force, "Overwrite an existing output file");
    return [config] {
        pipelines::run_model_info(*config);
    };
}

}  // namespace evoscope::cli
