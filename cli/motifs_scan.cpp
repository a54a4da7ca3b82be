#include "pipelines/motifs_scan.hpp"

#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"

namespace evoscope::cli {

RunFn setup_motifs_scan(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::MotifsScanOptions>();
    app->footer(
        "Example:\n"
        "  evoscope motifs scan --motifs data/motifs/jaspar_vertebrates.pfm \\\n"
        "      -f data/genomes/ecoli536.fa -r NC_008253.1:1-100,000 -o hits.tsv\n"
        "Output: FIMO's TSV (motif_id motif_alt_id sequence_name start stop strand score p-value\n"
        "q-value matched_sequence; 1-based start/stop, score in bits, matched_sequence read on "
        "the\n"
        "hit's strand), or BED6 with --bed (0-based; name = motif id, score = -10 log10 p).\n"
        "Background: base composition of the scanned regions, strand-symmetric. p-values are "
        "exact\n"
        "for scores rounded to 0.01 bit (dynamic programming, as FIMO); q-values are\n"
        "Benjamini-Hochberg per motif over all positions x strands tested.");
    app->add_option("--motifs", config->motifs, "Motif file: JASPAR (.jaspar, .pfm) or MEME")
        ->required();
    app->add_option("-f,--fasta", config->fasta, "Reference FASTA, plain or bgzip")->required();
    app->add_option("-r,--region",
                    config->regions,
                    "Region contig[:begin-end], 1-based inclusive, commas allowed; repeatable")
        ->take_all();
    app->add_option("-R,--regions,--regions-file",
                    config->regions_bed,
                    "BED file of regions (0-based half-open; - = stdin)");
    app->add_option("--thresh", config->thresh, "Report hits with p-value <= this");
    app->add_option("--max-hits",
                    config->max_hits,
                    "Keep at most this many hits per motif, the most significant; 0 = all")
        ->check(CLI::NonNegativeNumber);
    app->add_option("--pseudocount",
                    config->pseudocount,
                    "Pseudocount per column, spread by the background (FIMO's --motif-pseudo)")
        ->check(CLI::NonNegativeNumber);
    app->add_flag("--bed", config->bed, "Write BED6 instead of the FIMO TSV");
    app->add_option("-o,--output", config->output, "Output file, - for stdout");
    app->add_flag("--force", config->force, "Overwrite an existing output file");
    return [config] {
        pipelines::run_motifs_scan(*config);
    };
}

}  // namespace evoscope::cli
