/// @file
/// Turns the window-source options of the CLI into an open FASTA, a validated region list
/// and a WindowStream. Shared by `windows`, `run` and (later) `embed` and `encode`.
#pragma once

#include <memory>
#include <vector>

#include "genomics/fasta_reader.hpp"
#include "genomics/interval.hpp"
#include "genomics/regions.hpp"
#include "genomics/window.hpp"
#include "pipelines/cmd_windows.hpp"

namespace evoscope::pipelines {

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
