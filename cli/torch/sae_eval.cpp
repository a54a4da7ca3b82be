#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/torch/options.hpp"
#include "pipelines/torch/stages.hpp"

namespace evoscope::cli {

RunFn setup_sae_eval(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::SaeEvalOptions>();
    app->footer(
        "Examples:\n"
        "  evoscope sae eval --sae sae/ --acts acts/blocks.4 --rows 950000: -o eval/\n"
        "  evoscope sae eval --sae sae/ -m model.safetensors -l blocks.4 -f genome.fa -r "
        "chr:1-100,000 \\\n"
        "      --loss-recovered -o eval/\n"
        "Output: DIR/metrics.tsv (explained variance, normalised MSE, L0, dead and dense "
        "fractions, cosine,\n"
        "and with --loss-recovered the clean, spliced and zero-ablated next-base cross-entropy),\n"
        "DIR/feature_density.tsv and DIR/feature_density.svg (log10 firing frequency per latent).");
    app->add_option("--sae",
                    config->sae,
                    "SAE: a SAELens folder, a Goodfire .pt or a dictionary_learning ae.pt")
        ->required();
    app->add_option(
        "-k,--k", config->k, "k for files that do not store it (Goodfire: from the file name)");
    add_activation_input_options(*app, config->input, true);
    app->add_option("--rows",
                    config->rows,
                    "Rows B:E of --acts (0-based, half-open; either side may be empty)");
    app->add_option("--max-rows", config->max_rows, "At most this many rows")
        ->check(CLI::PositiveNumber);
    app->add_flag(
        "--loss-recovered",
        config->loss_recovered,
        "Splice the reconstruction into the model at its site and compare next-base cross-entropy "
        "(needs -m and FASTA input)");
    app->add_option("-b,--batch", config->batch, "Rows per batch")->check(CLI::PositiveNumber);
    app->add_option("-o,--output", config->output_dir, "Output folder")->required();
    app->add_flag("--force", config->force, "Overwrite existing outputs");
    return [config] {
        pipelines::run_sae_eval(*config);
    };
}

}  // namespace evoscope::cli
