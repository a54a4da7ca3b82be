/// @file
/// Peaks of SAE features' activations along the genome, for motif discovery and browser tracks:
/// positions whose value is at least `min_fraction` of the feature's largest value and at least
/// that of both neighbours on the same strand row (local maxima; on a plateau the leftmost),
/// taken greedily from the highest down and kept at least `min_distance` bp from every peak
/// already kept on the same contig (either strand), up to `max_peaks`. Each peak also carries
/// its run: the positions around it on its row whose value stays at or above the cut. Reads the
/// store chunk by chunk (store/feature_store.hpp); memory is the positions at or above the cut.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "store/feature_store.hpp"

namespace evoscope::annotate {

struct FeaturePeak {
    std::string contig;
    std::int64_t position = 0;  ///< 0-based
    char strand = '+';          ///< the activation row's strand
    float value = 0.0F;
    /// [run_begin, run_end): consecutive positions of the row around `position` with values at
    /// or above min_fraction x the feature's maximum (contains `position`).
    std::int64_t run_begin = 0;
    std::int64_t run_end = 0;
};

struct FeaturePeakOptions {
    double min_fraction = 0.5;       ///< of the feature's maximum
    std::int64_t min_distance = 20;  ///< bp between kept peaks
    std::int64_t max_peaks = 500;
};

/// Peaks sorted by value, highest first (ties: contig order, position, '+' first).
/// @throws InputError for a feature id >= d_sae or a feature that is never active.
std::vector<FeaturePeak> feature_peaks(const sae::FeatureStore& store,
                                       std::uint32_t feature,
                                       const FeaturePeakOptions& options);

/// The peaks of several features from one pass over the store, for callers that already read
/// every chunk (tracks): feed each chunk once, in any order, then finish().
class FeaturePeakCollector {
public:
    /// @throws InputError for an id >= d_sae or an id given twice.
    FeaturePeakCollector(const sae::FeatureStore& store,
                         std::vector<std::uint32_t> features,
                         FeaturePeakOptions options);
    ~FeaturePeakCollector();
    FeaturePeakCollector(const FeaturePeakCollector&) = delete;
    FeaturePeakCollector& operator=(const FeaturePeakCollector&) = delete;

    /// The decoded rows of one chunk of the store.
    void add(const sae::FeatureChunk& chunk, const sae::FeatureRows& rows);
    /// Peaks of each feature in constructor order, as feature_peaks() orders them; a feature
    /// that is never active has none.
    std::vector<std::vector<FeaturePeak>> finish();

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// The peaks of several features in one pass over the store: result[i] is what
/// feature_peaks(store, features[i], options) gives, except that a feature that is never active
/// gets no peaks instead of an error. (FeaturePeakCollector over store.scan.)
/// @throws InputError for a feature id >= d_sae or one given twice.
std::vector<std::vector<FeaturePeak>> feature_peaks(const sae::FeatureStore& store,
                                                    std::span<const std::uint32_t> features,
                                                    const FeaturePeakOptions& options);

}  // namespace evoscope::annotate
