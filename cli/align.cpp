#include "pipelines/align.hpp"

#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/options.hpp"

namespace evoscope::cli {

RunFn setup_align(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::AlignOptions>();
    app->footer(
        "Examples:\n"
        "  evoscope align --features feats/ --annotations genes.gff3 --fasta ref.fa -o align/\n"
        "  evoscope align --tracks cds.bw gc.bedGraph:+ --annotations genes.gff3 --fasta ref.fa "
        "-o align/\n"
        "Per feature x concept x threshold (fractions of the feature's max) x sense: nucleotide\n"
        "precision/recall/F1, domain F1, AUROC/AUPRC, log odds; best per concept chosen on the\n"
        "validation split, reported on test, with a p-value from circular shifts of the concept\n"
        "tracks. Outputs: concepts.tsv, features.tsv, alignment.tsv.gz, summary.json (method:\n"
        "docs/alignment.md).");
    auto* features = app->add_option("--features", config->features, "SAE feature store folder");
    auto* tracks = app->add_option("--tracks",
                                   config->tracks,
                                   "Per-base tracks (bigWig, bedGraph); PATH:+ or PATH:- for one "
                                   "strand, else the same values on both");
    features->excludes(tracks);
    add_concept_source_options(*app, config->source);  // -a/--annotations, -f/--fasta, ...
    app->add_option("-o,--output", config->output, "Output folder")->required();
    app->add_option("--motifs",
                    config->motifs,
                    "JASPAR or MEME motifs: their genome-wide hits become motif:<ID> concepts");
    app->add_option("--motif-thresh", config->motif_thresh, "p-value threshold of the motif hits")
        ->capture_default_str();
    app->add_option("--neurons", config->neurons, "Activation store: raw-neuron baseline");
    app->add_option("--control-features",
                    config->control_features,
                    "Feature store of a control SAE (same training on a random model)");
    app->add_option("--labels-out",
                    config->labels_out,
                    "labels.tsv path (default: beside the SAE's cfg.json when the store names it)");
    app->add_option("--shifts", config->shifts, "Circular shifts for the chance bound")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app->add_option("--seed", config->seed, "Seed of the shift offsets")->capture_default_str();
    app->add_option("--split-block-bp",
                    config->split_block_bp,
                    "Alternating validation/test blocks when contigs cannot split; 0: 100 kb, at "
                    "least 20 blocks")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app->add_option("--bins", config->bins, "value/max histogram bins for AUROC/AUPRC")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    app->add_option("--shift-top",
                    config->shift_top,
                    "Chance bound candidates per concept: best features on validation")
        ->capture_default_str();
    app->add_option(
           "--shift-dense", config->shift_dense, "Chance bound candidates: the densest features")
        ->capture_default_str();
    app->add_flag("--force", config->force, "Replace an existing output folder or labels.tsv");
    return [config, app] {
        // --threads belongs to the driver's common options.
        if (const auto* threads = app->get_option_no_throw("--threads"); threads != nullptr) {
            config->threads = threads->as<int>();
        }
        pipelines::run_align(*config);
    };
}

}  // namespace evoscope::cli
