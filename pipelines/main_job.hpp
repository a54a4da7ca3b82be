/// @file
/// The main job behind `evoscope run`, on bundled or given data. Until the model, SAE and
/// alignment stages land it runs the windowing stage on the demo genome and writes the windows
/// (BED) and a summary (JSON) into the output folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace evoscope::pipelines {

struct MainJobOptions {
    std::string fasta;                     ///< empty: the bundled demo genome
    std::string outdir = "evoscope-demo";  ///< created if missing
    std::int64_t window_bp = 8192;
    std::int64_t stride_bp = 4096;
};

struct MainJobResult {
    std::filesystem::path summary_json;  ///< OUTDIR/summary.json
    std::int64_t n_windows = 0;
};

/// Folder of the bundled data (data/ in the source tree, or $EVOSCOPE_DATA_DIR).
std::string bundled_data_dir();

/// Runs the job. @throws evoscope::Error on bad input.
MainJobResult run_main_job(const MainJobOptions& options);

}  // namespace evoscope::pipelines
