/// @file
/// Peaks of one SAE feature's activation along the genome, for motif discovery: positions
/// whose value is at least `min_fraction` of the feature's largest value and at least that of
/// both neighbours on the same strand row (local maxima), taken greedily from the highest down
/// and kept at least `min_distance` bp from every peak already kept on the same contig (either
/// strand), up to `max_peaks`. Reads the store chunk by chunk (store/feature_store.hpp).
#pragma once

#include <cstdint>
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

/// The peaks of several features in one pass over the store: result[i] is what
/// feature_peaks(store, features[i], options) gives, except that a feature that is never active
/// gets no peaks instead of an error.
/// @throws InputError for a feature id >= d_sae or one given twice.
std::vector<std::vector<FeaturePeak>> feature_peaks(const sae::FeatureStore& store,
                                                    std::span<const std::uint32_t> features,
                                                    const FeaturePeakOptions& options);

}  // namespace evoscope::annotate
