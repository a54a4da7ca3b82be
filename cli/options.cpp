#include "cli/options.hpp"

#include <CLI/CLI.hpp>

#include "pipelines/concepts.hpp"

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

void add_concept_source_options(CLI::App& app, pipelines::ConceptSourceOptions& source) {
    app.add_option("-a,--annotations",
                   source.annotations,
                   "Annotation: GFF3, GTF, BED3-12 or GenBank (plain or gzip)")
        ->required();
    app.add_option("-f,--fasta", source.fasta, "Reference FASTA the annotation describes")
        ->required();
    app.add_option("--format", source.format, "Annotation format")
        ->check(CLI::IsMember({"auto", "gff3", "gtf", "bed", "genbank"}));
    app.add_option(
        "--rename-contigs", source.rename_contigs, "Contig alias file (two names a line)");
    app.add_flag("--lenient",
                 source.lenient,
                 "Skip malformed annotation lines (counted, first ones logged) instead of failing");
    app.add_flag("--skip-unknown-contigs",
                 source.skip_unknown_contigs,
                 "Skip features on contigs the FASTA lacks (counted) instead of failing");
    auto& c = source.concept_options;
    app.add_option(
        "--promoter-bp", c.promoter_bp, "Promoter-proximal span upstream of gene starts");
    app.add_option("--rbs-far", c.rbs_far, "RBS window: farthest base upstream of a CDS start");
    app.add_option("--rbs-near", c.rbs_near, "RBS window: nearest base upstream (exclusive)");
    app.add_option("--splice-flank", c.splice_flank, "Bases each side of exon-intron boundaries");
    app.add_flag("!--no-generic",
                 c.generic_types,
                 "No generic concepts for the other feature types of the file");
}

}  // namespace evoscope::cli
