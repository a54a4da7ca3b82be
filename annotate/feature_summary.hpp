/// @file
/// Summaries of a few SAE features over a whole feature store, for reports: the histogram of
/// each feature's nonzero values, and each feature's activation per strand as runs of bins
/// (power-of-two bins of the largest value, the finest size that fits a budget of runs), which
/// is what a genome browser can embed. Both read the store in one pass (scan, or dense blocks
/// through feature_tracks), whatever the number of features.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "store/feature_store.hpp"

namespace evoscope::annotate {

struct FeatureHistogram {
    std::uint32_t feature = 0;
    float max_value = 0.0F;            ///< the feature's largest stored value
    std::int64_t n_covered = 0;        ///< positions in the store, both strands
    std::int64_t n_active = 0;         ///< of those, positions where the value is > 0
    std::vector<std::int64_t> counts;  ///< bin i: values in (i, i + 1] x max_value / n_bins
};

/// Histograms of the values > 0 of `features` (n_bins equal bins over (0, max]).
/// @throws InputError for a feature id >= d_sae or n_bins < 1.
std::vector<FeatureHistogram> feature_histograms(const sae::FeatureStore& store,
                                                 std::span<const std::uint32_t> features,
                                                 int n_bins);

/// [begin, end) on a contig (0-based half-open) where the track has `value`.
struct TrackRun {
    std::int64_t begin = 0;
    std::int64_t end = 0;
    float value = 0.0F;
};

/// One feature on one strand: for each bin of bin_bp bases (bins start at multiples of bin_bp)
/// the largest value among its covered positions; bins with no value > 0 are left out and
/// neighbouring bins with equal values are merged into one run.
struct BinnedTrack {
    std::uint32_t feature = 0;
    char strand = '+';
    std::int64_t bin_bp = 1;
    bool over_budget = false;  ///< even the coarsest bins gave more runs than the budget
    std::vector<std::vector<TrackRun>> runs;  ///< per contig of the store, in its order

    std::size_t n_runs() const;
};

/// The tracks of `features` on both strands (result: feature-major, '+' then '-'), each at the
/// finest bin size of 1, 2, 4, ... max_bin_bp bp whose runs number at most max_runs.
/// @throws InputError for a feature id >= d_sae or given twice, max_runs < 1, or max_bin_bp not a
///         power of two.
std::vector<BinnedTrack> binned_tracks(const sae::FeatureStore& store,
                                       std::span<const std::uint32_t> features,
                                       std::size_t max_runs,
                                       std::int64_t max_bin_bp = std::int64_t{1} << 20);

}  // namespace evoscope::annotate
