#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/torch/options.hpp"
#include "pipelines/torch/stages.hpp"

namespace evoscope::cli {

RunFn setup_model_score(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::ModelScoreOptions>();
    app->footer(
        "Example:\n"
        "  evoscope model score -m model.safetensors -f genome.fa -r chr1:10,001-18,192 --per-base "
        "lp.tsv\n"
        "Each region is upper-cased and scored on its own from its first base. The summary line "
        "gives the\n"
        "mean loss in nats and bits per base over the scored positions (all but the first base of "
        "each\n"
        "region, unless --prepend-eod).");
    add_model_source_options(*app, config->model);
    app->add_option("-f,--fasta", config->fasta, "Reference FASTA")->required();
    app->add_option("-r,--region", config->regions, "Region (1-based inclusive); repeatable")
        ->take_all();
    app->add_option("-R,--regions-file", config->regions_bed, "BED file of regions");
    app->add_option("--rename-contigs", config->rename_contigs, "Contig alias file");
    app->add_option(
        "--logits", config->logits_npy, "Write float32 logits [L, vocab] (.npy; one region)");
    app->add_option("--per-base",
                    config->per_base_tsv,
                    "Write contig, 1-based position, base, log-probability (nats) of that base "
                    "given the prefix");
    app->add_flag(
        "--prepend-eod",
        config->prepend_eod,
        "Score the first base too, conditioned on the end-of-document token (Evo 2 prepend_bos)");
    app->add_flag("--force", config->force, "Overwrite existing outputs");
    return [config] {
        pipelines::run_model_score(*config);
    };
}

}  // namespace evoscope::cli
