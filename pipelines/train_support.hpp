/// @file
/// Helpers shared by the training commands (`model train`, `sae train`): number and duration
/// formatting for progress lines, the checkpoints of a run folder (finding the latest, opening it
/// for --resume, writing one atomically), and a small self-contained SVG line chart for loss
/// curves.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace evoscope::pipelines {

/// 1234567 -> "1.23M", 2500 -> "2.5k".
std::string nice_number(double v);
/// 75 -> "1m15s", 3700 -> "1h01m"; "?" for negative or non-finite values.
std::string format_duration(double seconds);
/// DIR/checkpoints/step-N with the largest N that holds a state.json, if any.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& dir);

/// The checkpoint a --resume continues from.
struct ResumePoint {
    std::filesystem::path dir;  ///< RUN_DIR/checkpoints/step-N
    nlohmann::json state;       ///< its parsed state.json
};

/// Opens RUN_DIR's latest checkpoint for --resume: parses its state.json, checks that its
/// "version" is `version` and hands its "options" to `read_options`. A JSON error here or in
/// `read_options` becomes a FormatError "<state.json>: not a valid <what>: ...".
/// @throws InputError when RUN_DIR has no checkpoint.
ResumePoint open_resume_point(
    const std::string& run_dir,
    int version,
    const std::string& what,
    const std::function<void(const nlohmann::json& options)>& read_options);

/// Writes checkpoint RUN_DIR/checkpoints/step-N atomically: `write_files` fills a temporary
/// folder beside it, `state` is written there as state.json, and the folder is renamed into place
/// (replacing an older one of the same step). Returns the checkpoint folder.
std::filesystem::path write_checkpoint(
    const std::filesystem::path& run_dir,
    std::int64_t step,
    const nlohmann::json& state,
    const std::function<void(const std::filesystem::path& tmp)>& write_files);

/// The output folder of a training run. `open()` creates RUN_DIR/checkpoints; if the run then
/// fails (the guard is destroyed by an exception) before any checkpoint was written, the folder
/// is removed again when this run created it, so a failed run leaves nothing behind. A run that
/// already wrote checkpoints keeps them, to be continued with --resume.
class RunFolderGuard {
public:
    explicit RunFolderGuard(std::filesystem::path run_dir);
    ~RunFolderGuard();
    RunFolderGuard(const RunFolderGuard&) = delete;
    RunFolderGuard& operator=(const RunFolderGuard&) = delete;
    /// Creates RUN_DIR/checkpoints. @throws IoError when it cannot.
    void open();

private:
    std::filesystem::path dir_;
    bool existed_;           ///< RUN_DIR existed before this run
    int uncaught_at_start_;  ///< std::uncaught_exceptions() at construction
};

/// The progress line of a training loop on stderr: redrawn in place on a terminal (at most every
/// 0.5 s), one line every 10 s otherwise; "kept" lines (evaluations, the last step) always print
/// on a line of their own. Silent unless Info messages are enabled.
class ProgressLine {
public:
    explicit ProgressLine(std::string tag);
    ~ProgressLine();  ///< ends a redrawn line
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;
    /// Whether a line is due now (always when `keep`); when true, call print().
    bool due(bool keep);
    void print(const std::string& line, bool keep);

private:
    std::string tag_;
    bool enabled_;
    bool tty_;
    bool open_ = false;  ///< a redrawn line is on screen
    std::chrono::steady_clock::time_point last_;
};

struct ChartSeries {
    std::string name;
    std::string colour;                         ///< e.g. "#1f77b4"
    std::vector<std::pair<double, double>> xy;  ///< NaN y values are skipped
    bool dots = false;                          ///< mark each point (sparse series)
};

/// A line chart (x from 0, y range from the data with 5% padding, optional log10 y), at most
/// about 2000 points per series.
std::string line_chart_svg(const std::string& title,
                           const std::string& x_label,
                           const std::string& y_label,
                           const std::vector<ChartSeries>& series,
                           bool log_y = false);

}  // namespace evoscope::pipelines
