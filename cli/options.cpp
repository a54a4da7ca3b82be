#include "cli/options.hpp"

#include <CLI/CLI.hpp>

namespace evoscope::cli {

void add_window_source_options(CLI::App& app,
                               pipelines::WindowSourceOptions& o,
                               bool require_fasta) {
    auto* fasta = app.add_option(
        "-f,--fasta", o.fasta, "Reference FASTA, plain or bgzip (indexed on first use)");
    if (require_fasta) {
        fasta->required();
    }
    app.add_option("-r,--region",
                   o.regions,
                   "Region contig[:begin-end], 1-based inclusive, commas allowed; repeatable")
        ->take_all();
    app.add_option(
        "-R,--regions-file", o.regions_bed, "BED file of regions (0-based half-open; - = stdin)");
    app.add_option("--rename-contigs",
                   o.rename_contigs,
                   "Alias file, two equivalent contig names per line (chr1 1, chrM MT)");
    app.add_option("--index-cache",
                   o.index_cache_dir,
                   "Folder for FASTA indexes when the FASTA's folder is read-only (default: "
                   "~/.cache/evoscope)");
    app.add_option("-w,--window",
                   o.window_bp,
                   "Window length in bp (0: 8192; for commands that run a model, its trained "
                   "context - 1, at most 8192)")
        ->check(CLI::PositiveNumber);
    app.add_option(
           "-s,--stride", o.stride_bp, "Step between window starts in bp (0 = the window length)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--strand", o.strand, "Strand of the windows: +, - or both")
        ->check(CLI::IsMember({"+", "-", "both"}));
    app.add_option(
           "--end",
           o.end_policy,
           "Last window of a region: shorter (keep it short), shift (move back to fit), drop")
        ->check(CLI::IsMember({"shorter", "shift", "drop"}));
    app.add_option("--circular",
                   o.circular,
                   "Contig to treat as circular (windows wrap around its end); 'all' for every "
                   "contig; repeatable")
        ->take_all();
    app.add_option(
           "--max-n", o.max_n_fraction, "Skip windows whose fraction of N bases is above this")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option(
           "--soft-mask",
           o.soft_mask,
           "Lower-case (soft-masked) bases: upper (upper-case them, as Evo 2 was trained) or keep")
        ->check(CLI::IsMember({"upper", "keep"}));
}

}  // namespace evoscope::cli
