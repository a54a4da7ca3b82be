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
        "Each region (default: every contig) is upper-cased and scored on its own from its first "
        "base.\n"
        "The summary line gives the mean loss in nats and bits per base over the scored positions "
        "(all\n"
        "but the first base of each region, unless --prepend-eod).\n"
        "A region longer than --window tokens (default: the context the model was trained at, from "
        "its\n"
        "evoscope.trained_context metadata, else its config's max_seqlen; at most 8192) is scored "
        "in\n"
        "windows overlapping by window - stride tokens, each base taken from the earliest window "
        "that\n"
        "has it past its first window - stride tokens (the most preceding context, as model embed\n"
        "stitches).");
    add_model_source_options(*app, config->model);
    app->add_option("-f,--fasta", config->fasta, "Reference FASTA")->required();
    app->add_option("-r,--region",
                    config->regions,
                    "Region (1-based inclusive); repeatable (default: every contig)")
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
    app->add_option("-w,--window",
                    config->window,
                    "Tokens per scoring window, 0 = the model's trained context (at most 8192)")
        ->check(CLI::NonNegativeNumber);
    app->add_option(
           "-s,--stride", config->stride, "Tokens between scoring windows (0 = window / 2)")
        ->check(CLI::NonNegativeNumber);
    app->add_flag("--no-tiling",
                  config->no_tiling,
                  "Score each region in one pass, however long (warns past the trained context)");
    app->add_flag("--force", config->force, "Overwrite existing outputs");
    return [config] {
        pipelines::run_model_score(*config);
    };
}

}  // namespace evoscope::cli
