/// @file
/// `evoscope windows`: tiles regions (or whole genomes) of a FASTA into model-ready windows
/// and prints them as BED, FASTA or TSV.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipelines/cli.hpp"

namespace evoscope::pipelines {

/// Window length of `windows` (and of WindowSource) when --window is not given.
inline constexpr std::int64_t kDefaultWindowBp = 8192;

/// Where the windows come from; shared by every subcommand that tiles a genome.
struct WindowSourceOptions {
    std::string fasta;
    std::vector<std::string> regions;   ///< -r, 1-based inclusive region strings
    std::string regions_bed;            ///< -R, BED file (0-based half-open), "-" = stdin
    std::string rename_contigs;         ///< alias file: two names per line
    std::string index_cache_dir;
    /// 0 (-w not given) = the default: kDefaultWindowBp for `windows`; for commands that run a
    /// model, from its trained context (pipelines/torch_model_source.hpp resolves it)
    std::int64_t window_bp = 0;
    std::int64_t stride_bp = 0;         ///< 0 = window_bp (no overlap)
    std::string strand = "+";
    std::string end_policy = "shorter";
    std::vector<std::string> circular;  ///< contig names, or "all"
    double max_n_fraction = 1.0;
    std::string soft_mask = "upper";
};

struct WindowsConfig {
    CommonOptions common;
    WindowSourceOptions source;
    std::string format = "bed";         ///< bed, fasta or tsv
    int line_width = 60;                ///< FASTA line width, 0 = one line
    std::string output = "-";
    bool force = false;
};

/// Adds the window-source options (--fasta, -r, -R, --window, --stride, ...) to `app`.
void add_window_source_options(CLI::App& app, WindowSourceOptions& options, bool require_fasta);

Command register_windows(CLI::App& root);
/// Runs `evoscope windows`. @return exit code. @throws evoscope::Error on bad input.
int run_windows(const WindowsConfig& config);

}  // namespace evoscope::pipelines
