#include "pipelines/tracks.hpp"

#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"

namespace evoscope::cli {

RunFn setup_tracks(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::TracksOptions>();
    app->footer(
        "Examples:\n"
        "  evoscope tracks --features feats/ -f genome.fa --align align/ -o tracks/\n"
        "  evoscope tracks --features feats/ -f genome.fa --feature-ids 12,57,100-103 \\\n"
        "      -a genes.gff3 --bin-size 10 --bedgraph -o tracks/\n"
        "Per feature: bigwig/fN.plus.bw and fN.minus.bw (activations of the + and - strand rows,\n"
        "float32; positions where the feature is 0 or not in the store are absent, not zero),\n"
        "peaks/fN.peaks.bed (BED9, colour = the feature's concept from --align, grey when\n"
        "unlabelled; bgzip + tabix when large or with --bgzip). With -a: deepTools matrices\n"
        "(matrix/gene_start.matrix.gz, gene_end; plotHeatmap -m). Always: manifest.tsv/.json,\n"
        "igv_session.xml, igv_tracks.json, a UCSC hub (hub.txt; genome.2bit for an assembly hub).\n"
        "--feature-ids, not --features, takes the ids: --features names the store, as in align.\n"
        "Formats and how to open them: docs/tracks.md.");
    app->add_option("--features", config->features, "SAE feature store folder (sae encode)")
        ->required();
    app->add_option("-f,--fasta", config->fasta, "Reference FASTA the store was encoded from")
        ->required();
    app->add_option("-o,--output", config->output, "Output folder")->required();
    auto* align = app->add_option(
        "--align", config->align, "evoscope align output folder: labels, colours, selection");
    auto* ids = app->add_option(
        "--feature-ids", config->feature_ids, "Features to draw: ids and ranges, 12,57,100-103");
    auto* all = app->add_flag("--all", config->all, "Every feature active in the store");
    ids->excludes(all);
    app->add_option("--top-per-concept",
                    config->top_per_concept,
                    "With --align alone: this many labelled features per concept, best test "
                    "score first")
        ->check(CLI::PositiveNumber)
        ->needs(align)
        ->excludes(ids)
        ->excludes(all)
        ->capture_default_str();
    app->add_flag("--force", config->force, "Replace an existing output folder");

    const char* signal = "Signal tracks";
    app->add_option("--bin-size", config->bin_size, "bigWig/bedGraph: mean over bins of N bp")
        ->check(CLI::PositiveNumber)
        ->capture_default_str()
        ->group(signal);
    app->add_flag("--bedgraph", config->bedgraph, "Also write bedGraph files")->group(signal);
    app->add_flag("--bgzip", config->bgzip, "bgzip + tabix-index every BED/bedGraph file")
        ->group(signal);
    app->add_option("--bgzip-above",
                    config->bgzip_above_mib,
                    "bgzip + tabix-index BED/bedGraph files larger than this many MiB")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str()
        ->group(signal);
    app->add_option("--max-open",
                    config->max_open,
                    "Files open at once while streaming the store (more features: more passes)")
        ->check(CLI::Range(4, 100000))
        ->capture_default_str()
        ->group(signal);

    const char* peaks = "Peaks";
    app->add_option("--peak-fraction",
                    config->peak_fraction,
                    "Peaks are local maxima at >= this fraction of the feature's maximum")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str()
        ->group(peaks);
    app->add_option("--peak-min-distance", config->peak_min_distance, "bp between peaks")
        ->check(CLI::PositiveNumber)
        ->capture_default_str()
        ->group(peaks);
    app->add_option("--max-peaks", config->max_peaks, "Peaks per feature, highest first")
        ->check(CLI::PositiveNumber)
        ->capture_default_str()
        ->group(peaks);

    const char* matrix = "deepTools matrices";
    app->add_option("-a,--annotations",
                    config->annotations,
                    "GFF3, GTF, BED or GenBank: computeMatrix reference-point files around the "
                    "starts and ends of its --region-type features")
        ->group(matrix);
    app->add_option("--format", config->annotation_format, "Annotation format")
        ->check(CLI::IsMember({"auto", "gff3", "gtf", "bed", "genbank"}))
        ->capture_default_str()
        ->group(matrix);
    app->add_option(
           "--rename-contigs", config->rename_contigs, "Contig alias file (two names a line)")
        ->group(matrix);
    app->add_flag("--lenient", config->lenient, "Skip malformed annotation lines")->group(matrix);
    app->add_option("--region-type", config->region_type, "Annotation feature type of the rows")
        ->capture_default_str()
        ->group(matrix);
    app->add_option("--upstream", config->upstream, "bp before the reference point (-b)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str()
        ->group(matrix);
    app->add_option("--downstream", config->downstream, "bp after it (-a of computeMatrix)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str()
        ->group(matrix);
    app->add_option("--matrix-bin-size", config->matrix_bin_size, "Matrix bin size, bp")
        ->check(CLI::PositiveNumber)
        ->capture_default_str()
        ->group(matrix);
    app->add_option("--matrix-strand",
                    config->matrix_strand,
                    "Activations of the region's strand rows (sense) or of the other strand")
        ->check(CLI::IsMember({"sense", "antisense"}))
        ->capture_default_str()
        ->group(matrix);

    const char* browsers = "Browsers";
    app->add_option("--ucsc-genome",
                    config->ucsc_genome,
                    "UCSC assembly the contigs belong to (hg38, ...): a hub on it, no .2bit")
        ->group(browsers);
    app->add_option("--genome-name",
                    config->genome_name,
                    "Assembly hub genome name (default: the FASTA's file name without extension)")
        ->group(browsers);
    app->add_flag("--no-2bit", config->no_twobit, "Do not write genome.2bit")->group(browsers);
    app->add_option("--hub-email", config->hub_email, "Contact in hub.txt")
        ->capture_default_str()
        ->group(browsers);
    return [config] {
        pipelines::run_tracks(*config);
    };
}

}  // namespace evoscope::cli
