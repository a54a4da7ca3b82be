#include "pipelines/report.hpp"

#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"

namespace evoscope::cli {

RunFn setup_report(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::ReportOptions>();
    app->footer(
        "Examples:\n"
        "  evoscope report --run run/                 # writes run/report/index.html\n"
        "  evoscope report --align align/ --features features/ --fasta ref.fa "
        "--annotations genes.gff3 -o report/\n"
        "A folder that opens from disk (file://) with no network request: igv.js genome browser\n"
        "(annotation and the top features' tracks), the sortable concept table, one view per\n"
        "feature (histogram, top examples with bases, motif logo and match), SAE training figures\n"
        "and provenance. align and features are required; missing optional parts are stated in\n"
        "the page (docs/report.md).");
    app->add_option(
        "--run", config->run, "Run folder (align/, features/, sae/, motifs/, run.json)");
    app->add_option("--align", config->align, "align output folder (default RUN/align)");
    app->add_option("--features", config->features, "Feature store (default RUN/features)");
    app->add_option("--sae", config->sae, "SAE folder: cfg.json, train_log.tsv (default RUN/sae)");
    app->add_option("--motifs-dir",
                    config->motifs_dir,
                    "Folder of f<ID>/ motifs discover outputs (default RUN/motifs)");
    app->add_option("-f,--fasta",
                    config->fasta,
                    "Reference FASTA (default: the one in run.json or align's command)");
    app->add_option("-a,--annotations",
                    config->annotations,
                    "GFF3/GTF/BED/GenBank for the browser (default: as for --fasta)");
    app->add_option("-o,--output", config->output, "Output folder (default RUN/report)");
    app->add_option("--igv-js", config->igv_js, "igv.min.js to copy instead of the built-in one");
    app->add_option("--max-features", config->max_features, "Feature views at most")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app->add_option("--browser-features",
                    config->browser_features,
                    "Features with tracks in the genome browser")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app->add_option("--track-runs",
                    config->track_runs,
                    "Runs per browser track and strand: the finest power-of-two bins that fit")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app->add_option("--max-sequence-bp",
                    config->max_sequence_bp,
                    "Embed the reference's bases up to this genome size")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app->add_option("--max-annotation-features",
                    config->max_annotation_features,
                    "Annotation records in the browser at most")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app->add_option("--examples", config->examples, "Top examples per feature")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app->add_option("--flank", config->flank_bp, "Bases each side of an example's peak")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    app->add_option("--histogram-bins", config->histogram_bins, "Bins of the activation histograms")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app->add_flag("--force", config->force, "Replace an existing output folder");
    return [config] {
        pipelines::run_report(*config);
    };
}

}  // namespace evoscope::cli
