/// @file
/// Turns the window-source options of the CLI into an open FASTA, a validated region list
/// and a WindowStream. Shared by `windows`, `run` and (later) `embed` and `encode`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "genomics/fasta_reader.hpp"
#include "genomics/interval.hpp"
#include "genomics/regions.hpp"
#include "genomics/window.hpp"

namespace evoscope::pipelines {

/// Window length of `windows` (and of WindowSource) when --window is not given.
inline constexpr std::int64_t kDefaultWindowBp = 8192;

/// Where the windows come from; shared by every subcommand that tiles a genome.
struct WindowSourceOptions {
    std::string fasta;
    std::vector<std::string> regions;  ///< -r, 1-based inclusive region strings
    std::string regions_bed;           ///< -R, BED file (0-based half-open), "-" = stdin
    std::string rename_contigs;        ///< alias file: two names per line
    std::string index_cache_dir;
    /// 0 (-w not given) = the default: kDefaultWindowBp for `windows`; for commands that run a
    /// model, from its trained context (pipelines/torch/model_source.hpp resolves it)
    std::int64_t window_bp = 0;
    std::int64_t stride_bp = 0;  ///< 0 = window_bp (no overlap)
    std::string strand = "+";
    std::string end_policy = "shorter";
    std::vector<std::string> circular;  ///< contig names, or "all"
    double max_n_fraction = 1.0;
    std::string soft_mask = "upper";
};

/// Appends the BED6 line of a window: `contig begin end contig:begin1-end(strand) 0 strand`.
void append_bed6_window(std::string& out, const genomics::Interval& window);

class WindowSource {
public:
    /// Opens the FASTA, reads aliases and regions (whole genome when none are given) and
    /// validates the window settings. @throws InputError/FormatError/IoError naming the culprit.
    explicit WindowSource(const WindowSourceOptions& options);

    const genomics::FastaReader& fasta() const { return fasta_; }

    const genomics::ContigSet& contigs() const { return *contigs_; }

    const std::vector<genomics::Interval>& regions() const { return regions_; }

    const genomics::WindowConfig& window_config() const { return config_; }

    /// A fresh stream over all regions.
    genomics::WindowStream stream() const;

private:
    genomics::FastaReader fasta_;
    std::unique_ptr<genomics::ContigSet> contigs_;
    std::vector<genomics::Interval> regions_;
    genomics::WindowConfig config_;
};

}  // namespace evoscope::pipelines
