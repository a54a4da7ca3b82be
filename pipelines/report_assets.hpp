/// @file
/// The web assets of `evoscope report`, built into the binary from web/ (and igv.js from
/// node_modules/igv when the build found it) by cmake/EvoscopeEmbed.cmake, so that a report
/// needs nothing but the executable.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace evoscope::pipelines {

struct ReportAsset {
    std::string_view name;   ///< file name in the report folder, e.g. "report.js"
    std::string_view bytes;  ///< its content
};

/// Every asset built in: report.html, report.js, report.css and, when the build found igv.js,
/// igv.min.js and igv-LICENSE.txt.
std::span<const ReportAsset> report_assets();

/// The asset called `name`, if built in.
std::optional<std::string_view> report_asset(std::string_view name);

}  // namespace evoscope::pipelines
