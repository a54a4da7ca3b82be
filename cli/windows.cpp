#include "pipelines/windows.hpp"

#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/options.hpp"

namespace evoscope::cli {

RunFn setup_windows(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::WindowsOptions>();
    app->footer(
        "Examples:\n"
        "  evoscope windows -f genome.fa -w 8192 -s 4096 > windows.bed\n"
        "  evoscope windows -f genome.fa -r chr1:1,000,001-1,100,000 -w 1000 --strand both "
        "--format fasta\n"
        "Output: BED6 (name = contig:begin1-end(strand)), FASTA (>contig:begin1-end(strand), "
        "1-based),\n"
        "or TSV (contig, begin, end, strand, sequence; 0-based half-open) with a header line.");
    add_window_source_options(*app, config->source, true);
    app->add_option("--format", config->format, "Output format: bed, fasta or tsv")
        ->check(CLI::IsMember({"bed", "fasta", "tsv"}));
    app->add_option(
           "--line-width", config->line_width, "FASTA line width, 0 = whole window on one line")
        ->check(CLI::NonNegativeNumber);
    app->add_option("-o,--output", config->output, "Output file, - for stdout");
    app->add_flag("--force", config->force, "Overwrite an existing output file");
    return [config] {
        pipelines::run_windows(*config);
    };
}

}  // namespace evoscope::cli
