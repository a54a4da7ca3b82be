#include "pipelines/motifs_discover.hpp"

#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"

namespace evoscope::cli {

RunFn setup_motifs_discover(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::MotifsDiscoverOptions>();
    app->footer(
        "Example:\n"
        "  evoscope motifs discover --features features/ --feature 123 \\\n"
        "      -f data/genomes/ecoli536.fa --motifs data/motifs/jaspar_vertebrates.pfm -o f123/\n"
        "Output folder: motif.meme (the discovered motif, MEME format), logo.svg (sequence logo),\n"
        "tomtom.tsv (database matches: Query_ID Target_ID Optimal_offset p-value E-value q-value\n"
        "Overlap Query_consensus Target_consensus Orientation), peaks.bed (the peaks used).\n"
        "Method: peaks of the feature (local maxima >= --min-fraction of its maximum), seqlets\n"
        "around them (reverse-complemented on '-' rows), OOPS EM over offsets and strands (MEME),\n"
        "flanks below --min-ic bits trimmed, Tomtom-style comparison (Pearson columns).");
    app->add_option("--features", config->features, "Feature store folder (sae encode)")
        ->required();
    app->add_option("--feature", config->feature, "Feature id")->required();
    app->add_option("-f,--fasta", config->fasta, "Reference FASTA the store was encoded from")
        ->required();
    app->add_option("--motifs", config->motifs, "Motif database to compare with (JASPAR or MEME)");
    app->add_option("-o,--output", config->output_dir, "Output folder")->required();
    app->add_option("--n-peaks", config->n_peaks, "At most this many peaks");
    app->add_option(
        "--min-fraction", config->min_fraction, "Peaks at >= this fraction of the feature's max");
    app->add_option("--width", config->width, "Motif width before trimming, bp");
    app->add_option("--slack", config->slack, "Extra bp on each side for EM to shift the motif");
    app->add_option("--em-iterations", config->em_iterations, "OOPS EM iterations at most");
    app->add_option("--min-ic", config->min_ic, "Trim flanks below this information (bits)");
    app->add_option(
        "--match-thresh", config->match_thresh, "tomtom.tsv keeps matches with q <= this");
    app->add_option("--min-overlap", config->min_overlap, "Tomtom minimum overlap (columns)");
    app->add_flag("--force", config->force, "Replace files in an existing output folder");
    return [config] {
        pipelines::run_motifs_discover(*config);
    };
}

}  // namespace evoscope::cli
