#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/options.hpp"
#include "pipelines/main_job.hpp"

namespace evoscope::cli {

RunFn setup_run(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::MainJobOptions>();
    app->footer(
        "Example:\n"
        "  evoscope run                      # bundled C. trachomatis genome -> ./evoscope-demo/\n"
        "  evoscope run -f genome.fa -o out/\n"
        "Today this runs the windowing stage; the model, SAE and annotation stages join as they "
        "land.");
    app->add_option("-f,--fasta",
                    config->fasta,
                    "Genome FASTA (default: the bundled data/genomes/ctrachomatis.fa)");
    app->add_option("-o,--outdir", config->outdir, "Output folder");
    app->add_option("-w,--window", config->window_bp, "Window length in bp")
        ->check(CLI::PositiveNumber);
    app->add_option("-s,--stride", config->stride_bp, "Stride in bp")->check(CLI::PositiveNumber);
    return [config] {
        pipelines::run_main_job(*config);
    };
}

}  // namespace evoscope::cli
