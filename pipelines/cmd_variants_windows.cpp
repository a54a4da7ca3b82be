#include "pipelines/cmd_variants_windows.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <memory>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/variants.hpp"

namespace evoscope::pipelines {
namespace {

void write_record(std::string& buf, const std::string& header, const std::string& seq, int line_width) {
    buf += '>';
    buf += header;
    buf += '\n';
    const std::size_t width = line_width > 0 ? static_cast<std::size_t>(line_width) : seq.size();
    for (std::size_t pos = 0; pos < seq.size(); pos += width) {
        buf.append(seq, pos, width);
        buf += '\n';
    }
}

}  // namespace

Command register_variants_windows(CLI::App& root) {
    auto config = std::make_shared<VariantsWindowsConfig>();
    auto* app = root.add_subcommand("variants-windows",
                                    "Reference/alternate window pairs centred on each VCF variant (FASTA)");
    app->footer(
        "Example:\n"
        "  evoscope variants-windows --vcf calls.vcf.gz --fasta genome.fa --window 8192 > pairs.fa\n"
        "Output: two FASTA records per ALT allele, headers\n"
        "  >CONTIG:POS:REF:ALT/ref window=CONTIG:BEGIN-END id=ID   (1-based coordinates)\n"
        "  >CONTIG:POS:REF:ALT/alt window=CONTIG:BEGIN-END id=ID\n"
        "Both windows are exactly --window bases; multi-allelic records are split; symbolic and\n"
        "breakend alleles are skipped and counted in the summary on stderr.");
    app->add_option("--vcf", config->vcf, "VCF or BCF, plain or bgzip (index needed with -r)")->required();
    app->add_option("-f,--fasta", config->fasta, "Reference FASTA the VCF was called against")->required();
    app->add_option("--index-cache", config->index_cache_dir, "Folder for FASTA indexes when needed");
    app->add_option("-r,--region", config->regions, "Only variants in this region (1-based); repeatable")
        ->take_all();
    app->add_option("-w,--window", config->window_bp, "Window length in bp [8192]")->check(CLI::PositiveNumber);
    app->add_flag("--skip-ref-mismatch", config->skip_ref_mismatch,
                  "Skip (and count) variants whose REF differs from the FASTA instead of failing");
    app->add_option("--line-width", config->line_width, "FASTA line width, 0 = one line [60]")
        ->check(CLI::NonNegativeNumber);
    app->add_option("-o,--output", config->output, "Output file, - for stdout [-]");
    app->add_flag("--force", config->force, "Overwrite an existing output file");
    add_common_options(*app, config->common);
    return Command{app, [config] { return run_variants_windows(*config); }, "variants-windows"};
}

int run_variants_windows(const VariantsWindowsConfig& config) {
    apply_common_options(config.common);
    genomics::FastaOptions fasta_options;
    fasta_options.index_cache_dir = config.index_cache_dir;
    const genomics::FastaReader fasta(config.fasta, fasta_options);
    genomics::VcfOptions options;
    options.regions = config.regions;
    options.skip_ref_mismatch = config.skip_ref_mismatch;
    genomics::VcfReader reader(config.vcf, fasta, options);
    OutputFile out(config.output, config.force);
    std::string buf;
    std::int64_t n_unwindowable = 0;
    while (auto variant = reader.next()) {
        genomics::VariantWindowPair pair;
        try {
            pair = genomics::make_variant_windows(fasta, *variant, config.window_bp);
        } catch (const InputError& e) {
            // A REF longer than the window, or a contig shorter than it: skip, count, say so.
            EVOSCOPE_LOG_WARN("skipping {}:{} {}>{}: {}", variant->contig, variant->pos + 1, variant->ref,
                              variant->alt, e.what());
            ++n_unwindowable;
            continue;
        }
        const std::string name =
            fmt::format("{}:{}:{}:{}", variant->contig, variant->pos + 1, variant->ref, variant->alt);
        const std::string where = fmt::format("window={}:{}-{} id={}", pair.ref_window.contig,
                                              pair.ref_window.begin + 1, pair.ref_window.end, variant->id);
        buf.clear();
        write_record(buf, name + "/ref " + where, pair.ref_seq, config.line_width);
        write_record(buf, name + "/alt " + where, pair.alt_seq, config.line_width);
        out.write(buf);
    }
    out.commit();
    EVOSCOPE_LOG_INFO("{}; {} variants skipped that no {}-bp window can hold", reader.summary_line(),
                      n_unwindowable, config.window_bp);
    return kExitOk;
}

}  // namespace evoscope::pipelines
