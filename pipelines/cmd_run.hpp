/// @file
/// `evoscope run`: the one-command main job on bundled or given data. Until the model, SAE
/// and alignment stages land it runs the windowing stage on the demo genome and writes the
/// windows (BED) and a summary (JSON) into the output folder.
#pragma once

#include <string>

#include "pipelines/cli.hpp"

namespace evoscope::pipelines {

struct RunConfig {
    CommonOptions common;
    std::string fasta;         ///< empty: the bundled demo genome
    std::string outdir = "evoscope-demo";
    std::int64_t window_bp = 8192;
    std::int64_t stride_bp = 4096;
};

/// Folder of the bundled data (data/ in the source tree, or $EVOSCOPE_DATA_DIR).
std::string bundled_data_dir();

Command register_run(CLI::App& root);
int run_run(const RunConfig& config);

}  // namespace evoscope::pipelines
