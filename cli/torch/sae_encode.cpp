#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/torch/options.hpp"
#include "pipelines/torch/stages.hpp"

namespace evoscope::cli {

RunFn setup_sae_encode(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::SaeEncodeOptions>();
    app->footer(
        "Examples:\n"
        "  evoscope sae encode --sae sae/ -m model.safetensors -l blocks.4 -f genome.fa -w 8192 -s "
        "4096 -o features/\n"
        "  evoscope sae encode --sae sae-layer26-mixed-expansion_8-k_64.pt --k 64 --acts "
        "acts/blocks.26 -o features/\n"
        "  evoscope sae encode --sae sae/ --acts x.npy --npz codes.npz\n"
        "The feature store holds, per position and strand, the nonzero (feature, value) pairs, in "
        "compressed\n"
        "chunks indexed by contig and coordinate. Overlapping windows are stitched as in `embed`: "
        "on '+' each\n"
        "position comes from the earliest window covering it, on '-' from the latest (the most "
        "context);\n"
        "--drop-first N never takes a window's first N positions when another window covers them.");
    app->add_option("--sae",
                    config->sae,
                    "SAE: a SAELens folder, a Goodfire .pt or a dictionary_learning ae.pt")
        ->required();
    app->add_option("-k,--k", config->k, "k for files that do not store it (Goodfire: k 64)");
    app->add_option(
           "--mode",
           config->mode,
           "default; threshold (BatchTopK with θ); batchtopk (top k x positions per window, as "
           "Goodfire's notebook)")
        ->check(CLI::IsMember({"default", "threshold", "batchtopk"}));
    add_activation_input_options(*app, config->input, true);
    app->add_option(
           "--drop-first",
           config->drop_first,
           "Drop the first N positions of every window (activation spike, evo2 issue #223)")
        ->check(CLI::NonNegativeNumber);
    app->add_option("-b,--batch", config->batch, "Windows per forward pass")
        ->check(CLI::PositiveNumber);
    app->add_option("-o,--output", config->output_dir, "Output feature store folder");
    app->add_option("--npz",
                    config->npz,
                    "For .npy input: write indices [N, k] int32 and values [N, k] float32 (.npz)");
    app->add_flag("--force", config->force, "Overwrite existing outputs");
    return [config] {
        pipelines::run_sae_encode(*config);
    };
}

}  // namespace evoscope::cli
