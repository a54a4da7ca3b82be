#include "pipelines/main_job.hpp"

#include <cstdlib>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "core/run_info.hpp"
#include "genomics/sequence.hpp"
#include "pipelines/window_source.hpp"

namespace evoscope::pipelines {

std::string bundled_data_dir() {
    if (const char* env = std::getenv("EVOSCOPE_DATA_DIR"); env != nullptr && *env != '\0') {
        return env;
    }
    return EVOSCOPE_DATA_DIR;
}

MainJobResult run_main_job(const MainJobOptions& config) {
    WindowSourceOptions options;
    options.fasta =
        config.fasta.empty() ? bundled_data_dir() + "/genomes/ctrachomatis.fa" : config.fasta;
    options.window_bp = config.window_bp;
    options.stride_bp = config.stride_bp;
    options.strand = "both";
    options.circular = {"all"};
    EVOSCOPE_LOG_INFO("genome {}", options.fasta);
    const WindowSource source(options);

    create_output_dir(config.outdir);
    const auto bed_path = std::filesystem::path(config.outdir) / "windows.bed";
    OutputFile bed(bed_path.string());
    auto stream = source.stream();
    std::int64_t n_bases = 0;
    std::int64_t n_gc = 0;
    std::string line;
    while (auto w = stream.next()) {
        for (const char c : w->sequence) {
            n_gc += (c == 'G' || c == 'C') ? 1 : 0;
        }
        n_bases += w->interval.length();
        line.clear();
        append_bed6_window(line, w->interval);
        bed.write(line);
    }
    bed.commit();

    nlohmann::json summary;
    summary["evoscope_version"] = version_string();
    summary["command"] = command_line();
    summary["fasta"] = options.fasta;
    summary["window_bp"] = config.window_bp;
    summary["stride_bp"] = config.stride_bp;
    summary["n_contigs"] = source.fasta().contigs().size();
    summary["n_windows"] = stream.n_emitted();
    summary["n_window_bases"] = n_bases;
    summary["gc_fraction"] =
        n_bases > 0 ? static_cast<double>(n_gc) / static_cast<double>(n_bases) : 0.0;
    summary["outputs"] = {{"windows", bed_path.filename().string()}};
    const auto summary_path = std::filesystem::path(config.outdir) / "summary.json";
    write_file_atomic(summary_path, summary.dump(2) + "\n");
    EVOSCOPE_LOG_INFO("{} windows ({} bp each, stride {}, both strands) of {} -> {}",
                      stream.n_emitted(),
                      config.window_bp,
                      config.stride_bp,
                      options.fasta,
                      config.outdir);
    return MainJobResult{summary_path, stream.n_emitted()};
}

}  // namespace evoscope::pipelines
