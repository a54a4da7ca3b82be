/// @file
/// Helpers shared by the training commands (`model train`, `train-sae`): number and duration
/// formatting for progress lines, finding the latest checkpoint of a run folder, and a small
/// self-contained SVG line chart for loss curves.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace evoscope::pipelines {

/// 1234567 -> "1.23M", 2500 -> "2.5k".
std::string nice_number(double v);
/// 75 -> "1m15s", 3700 -> "1h01m"; "?" for negative or non-finite values.
std::string format_duration(double seconds);
/// DIR/checkpoints/step-N with the largest N that holds a state.json, if any.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& dir);

struct ChartSeries {
    std::string name;
    std::string colour;                         ///< e.g. "#1f77b4"
    std::vector<std::pair<double, double>> xy;  ///< NaN y values are skipped
    bool dots = false;                          ///< mark each point (sparse series)
};

/// A line chart (x from 0, y range from the data with 5% padding, optional log10 y), at most
/// about 2000 points per series.
std::string line_chart_svg(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<ChartSeries>& series, bool log_y = false);

}  // namespace evoscope::pipelines
