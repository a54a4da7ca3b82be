#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/torch/options.hpp"
#include "pipelines/torch/stages.hpp"

namespace evoscope::cli {

RunFn setup_sae_convert(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::SaeConvertOptions>();
    app->footer(
        "Examples:\n"
        "  evoscope sae convert sae-layer26-mixed-expansion_8-k_64.pt --k 64 --hook blocks.26 -o "
        "goodfire-l26/\n"
        "  evoscope sae convert sae/ --to dictionary_learning -o ae.pt\n"
        "Formats: saelens (folder: sae_weights.safetensors + cfg.json), goodfire (.pt: W [d_in, "
        "d_sae], b_enc,\n"
        "b_dec; tied, ReLU then batch top-k), dictionary_learning (ae.pt: encoder.weight, "
        "encoder.bias,\n"
        "decoder.weight, b_dec, k, threshold).");
    app->add_option("input", config->input, "SAE to convert")->required();
    app->add_option("--from", config->from, "auto, saelens, goodfire, dictionary_learning")
        ->check(CLI::IsMember({"auto", "saelens", "goodfire", "dictionary_learning"}));
    app->add_option("--to", config->to, "saelens, goodfire, dictionary_learning")
        ->check(CLI::IsMember({"saelens", "goodfire", "dictionary_learning"}));
    app->add_option("-k,--k", config->k, "k for files that do not store it");
    app->add_option("--d-model", config->d_model, "Check that d_in equals this");
    app->add_option("-m,--model", config->model, "Or check d_in against this model's hidden size");
    app->add_option(
        "--hook", config->hook, "Activation site to record in cfg.json (e.g. blocks.26)");
    app->add_option("-o,--output", config->output, "Output folder (saelens) or .pt file")
        ->required();
    app->add_flag("--force", config->force, "Overwrite an existing output");
    return [config] {
        pipelines::run_sae_convert(*config);
    };
}

}  // namespace evoscope::cli
