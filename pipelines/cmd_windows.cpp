#include "pipelines/cmd_windows.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <memory>
#include <set>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"
#include "genomics/window.hpp"
#include "pipelines/window_source.hpp"

namespace evoscope::pipelines {

void add_window_source_options(CLI::App& app, WindowSourceOptions& o, bool require_fasta) {
    auto* fasta = app.add_option("-f,--fasta", o.fasta,
                                 "Reference FASTA, plain or bgzip (indexed on first use)");
    if (require_fasta) {
        fasta->required();
    }
    app.add_option("-r,--region", o.regions,
                   "Region contig[:begin-end], 1-based inclusive, commas allowed; repeatable")
        ->take_all();
    app.add_option("-R,--regions-file", o.regions_bed, "BED file of regions (0-based half-open; - = stdin)");
    app.add_option("--rename-contigs", o.rename_contigs,
                   "Alias file, two equivalent contig names per line (chr1 1, chrM MT)");
    app.add_option("--index-cache", o.index_cache_dir,
                   "Folder for FASTA indexes when the FASTA's folder is read-only [~/.cache/evoscope]");
    app.add_option("-w,--window", o.window_bp,
                   "Window length in bp [8192; commands that run a model: its trained context - 1, at most 8192]")
        ->check(CLI::PositiveNumber);
    app.add_option("-s,--stride", o.stride_bp, "Step between window starts in bp [= window]")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--strand", o.strand, "Strand of the windows: +, - or both [+]")
        ->check(CLI::IsMember({"+", "-", "both"}));
    app.add_option("--end", o.end_policy,
                   "Last window of a region: shorter (keep it short), shift (move back to fit), drop [shorter]")
        ->check(CLI::IsMember({"shorter", "shift", "drop"}));
    app.add_option("--circular", o.circular,
                   "Contig to treat as circular (windows wrap around its end); 'all' for every contig; repeatable")
        ->take_all();
    app.add_option("--max-n", o.max_n_fraction, "Skip windows whose fraction of N bases is above this [1]")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--soft-mask", o.soft_mask,
                   "Lower-case (soft-masked) bases: upper (upper-case them, as Evo 2 was trained) or keep [upper]")
        ->check(CLI::IsMember({"upper", "keep"}));
}

namespace {

void write_window(OutputFile& out, const genomics::Window& w, const WindowsConfig& config, std::string& buf) {
    buf.clear();
    const auto& iv = w.interval;
    const char strand = genomics::strand_char(iv.strand);
    if (config.format == "bed") {
        fmt::format_to(std::back_inserter(buf), "{}\t{}\t{}\t{}:{}-{}({})\t0\t{}\n", iv.contig, iv.begin, iv.end,
                       iv.contig, iv.begin + 1, iv.end, strand, strand);
    } else if (config.format == "tsv") {
        fmt::format_to(std::back_inserter(buf), "{}\t{}\t{}\t{}\t{}\n", iv.contig, iv.begin, iv.end, strand,
                       w.sequence);
    } else {
        fmt::format_to(std::back_inserter(buf), ">{}:{}-{}({})\n", iv.contig, iv.begin + 1, iv.end, strand);
        const std::size_t width =
            config.line_width > 0 ? static_cast<std::size_t>(config.line_width) : w.sequence.size();
        for (std::size_t pos = 0; pos < w.sequence.size(); pos += width) {
            buf.append(w.sequence, pos, width);
            buf.push_back('\n');
        }
    }
    out.write(buf);
}

}  // namespace

Command register_windows(CLI::App& root) {
    auto config = std::make_shared<WindowsConfig>();
    auto* app = root.add_subcommand("windows", "Tile a genome or regions into windows (BED, FASTA or TSV)");
    app->footer(
        "Examples:\n"
        "  evoscope windows -f genome.fa -w 8192 -s 4096 > windows.bed\n"
        "  evoscope windows -f genome.fa -r chr1:1,000,001-1,100,000 -w 1000 --strand both --format fasta\n"
        "Output: BED6 (name = contig:begin1-end(strand)), FASTA (>contig:begin1-end(strand), 1-based),\n"
        "or TSV (contig, begin, end, strand, sequence; 0-based half-open) with a header line.");
    add_window_source_options(*app, config->source, true);
    app->add_option("--format", config->format, "Output format: bed, fasta or tsv [bed]")
        ->check(CLI::IsMember({"bed", "fasta", "tsv"}));
    app->add_option("--line-width", config->line_width, "FASTA line width, 0 = whole window on one line [60]")
        ->check(CLI::NonNegativeNumber);
    app->add_option("-o,--output", config->output, "Output file, - for stdout [-]");
    app->add_flag("--force", config->force, "Overwrite an existing output file");
    add_common_options(*app, config->common);
    return Command{app, [config] { return run_windows(*config); }, "windows"};
}

int run_windows(const WindowsConfig& config) {
    apply_common_options(config.common);
    WindowSource source(config.source);
    OutputFile out(config.output, config.force);
    if (config.format == "tsv") {
        out.write("contig\tbegin\tend\tstrand\tsequence\n");
    }
    genomics::WindowStream stream = source.stream();
    std::string buf;
    while (auto window = stream.next()) {
        write_window(out, *window, config, buf);
    }
    out.commit();
    EVOSCOPE_LOG_INFO("{} windows written from {} region(s); {} skipped with N fraction above {}",
                      stream.n_emitted(), source.regions().size(), stream.n_skipped_n(),
                      config.source.max_n_fraction);
    return kExitOk;
}

}  // namespace evoscope::pipelines
