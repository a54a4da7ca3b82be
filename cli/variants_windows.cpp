#include "pipelines/variants_windows.hpp"

#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/options.hpp"

namespace evoscope::cli {

RunFn setup_variants_windows(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::VariantsWindowsOptions>();
    app->footer(
        "Example:\n"
        "  evoscope variants windows --vcf calls.vcf.gz --fasta genome.fa --window 8192 > "
        "pairs.fa\n"
        "Output: two FASTA records per ALT allele, headers\n"
        "  >CONTIG:POS:REF:ALT/ref window=CONTIG:BEGIN-END id=ID   (1-based coordinates)\n"
        "  >CONTIG:POS:REF:ALT/alt window=CONTIG:BEGIN-END id=ID\n"
        "Both windows are exactly --window bases; multi-allelic records are split; symbolic and\n"
        "breakend alleles are skipped and counted in the summary on stderr.");
    app->add_option("--vcf", config->vcf, "VCF or BCF, plain or bgzip (index needed with -r)")
        ->required();
    app->add_option("-f,--fasta", config->fasta, "Reference FASTA the VCF was called against")
        ->required();
    app->add_option(
        "--index-cache", config->index_cache_dir, "Folder for FASTA indexes when needed");
    app->add_option(
           "-r,--region", config->regions, "Only variants in this region (1-based); repeatable")
        ->take_all();
    app->add_option("-w,--window", config->window_bp, "Window length in bp")
        ->check(CLI::PositiveNumber);
    app->add_flag("--skip-ref-mismatch",
                  config->skip_ref_mismatch,
                  "Skip (and count) variants whose REF differs from the FASTA instead of failing");
    app->add_option("--line-width", config->line_width, "FASTA line width, 0 = one line")
        ->check(CLI::NonNegativeNumber);
    app->add_option("-o,--output", config->output, "Output file, - for stdout");
    app->add_flag("--force", config->force, "Overwrite an existing output file");
    return [config] {
        pipelines::run_variants_windows(*config);
    };
}

}  // namespace evoscope::cli
