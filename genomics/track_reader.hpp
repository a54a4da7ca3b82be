/// @file
/// Per-base signal tracks read into dense arrays for alignment: bigWig (libBigWig) and bedGraph
/// (plain or gzip; "track"/"browser"/"#" lines skipped). Intervals are 0-based half-open in both
/// formats; positions no interval covers are NaN (not covered). Contig names are resolved
/// through a ContigSet (aliases as for regions).
#pragma once

#include <filesystem>
#include <vector>

#include "genomics/regions.hpp"

namespace evoscope::genomics {

enum class TrackFormat { Auto, BigWig, BedGraph };

/// Values per contig, in `contigs` order: an empty vector for a contig the track never names,
/// else contig-length floats with NaN where no interval covers the base.
using TrackValues = std::vector<std::vector<float>>;

/// Reads a track. Auto: ".bw"/".bigwig" (any case) is bigWig, anything else bedGraph.
/// @throws IoError (unreadable file), FormatError "path:line: ..." (malformed bedGraph line),
///         InputError for an unknown contig ("path:line: unknown contig ...", with the closest
///         names) or an interval past the contig's end.
TrackValues read_track(const std::filesystem::path& path,
                       const ContigSet& contigs,
                       TrackFormat format = TrackFormat::Auto);

}  // namespace evoscope::genomics
