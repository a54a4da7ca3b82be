/// @file
/// The `windows` stage: tiles regions (or whole genomes) of a FASTA into model-ready windows
/// and writes them as BED, FASTA or TSV.
#pragma once

#include <cstdint>
#include <string>

#include "pipelines/window_source.hpp"

namespace evoscope::pipelines {

struct WindowsOptions {
    WindowSourceOptions source;
    std::string format = "bed";  ///< bed, fasta or tsv
    int line_width = 60;         ///< FASTA line width, 0 = one line
    std::string output = "-";    ///< file, or - for stdout
    bool force = false;          ///< overwrite an existing output
};

struct WindowsResult {
    std::int64_t n_windows = 0;    ///< windows written
    std::int64_t n_skipped_n = 0;  ///< windows skipped for their N fraction
    std::size_t n_regions = 0;
};

/// Writes the windows. @throws evoscope::Error on bad input (nothing is left behind).
WindowsResult run_windows(const WindowsOptions& options);

}  // namespace evoscope::pipelines
