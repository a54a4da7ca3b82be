/// @file
/// deepTools `computeMatrix reference-point` output written straight from a feature store, so
/// that `plotHeatmap -m` and `plotProfile -m` draw SAE features around gene starts or ends.
/// The file is gzip text: a first line "@" + the JSON parameters with deepTools' keys, in its
/// order, the per-sample ones as one-element-per-sample lists (upstream, downstream, body,
/// bin size, ref point, unscaled 5/3 prime; group_labels, group_boundaries, sample_labels,
/// sample_boundaries); then one line per region: contig, begin, end, name, score, strand and
/// n_samples x (upstream + downstream) / bin_size values ("%f", "nan" where no base of the bin is
/// covered by the store or the bin runs off the contig). A bin's value is the mean of its covered
/// bases, inactive bases counting 0. Strand-aware as deepTools: a '-' region's reference point is
/// its end (TSS) or begin (TES), its flanks are swapped and its bins reversed, so every row reads
/// 5' to 3' on the region's strand; the activations are those of the region's strand row
/// ("sense"), or of the other strand ("antisense").
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "store/feature_store.hpp"

namespace evoscope::pipelines {

struct MatrixRegion {
    std::string contig;
    std::int64_t begin = 0;  ///< 0-based
    std::int64_t end = 0;    ///< exclusive
    std::string name = ".";
    char strand = '+';  ///< '+', '-' or '.' (read as '+')
};

struct MatrixSample {
    std::uint32_t feature = 0;
    std::string label;  ///< sample_labels entry
};

struct MatrixParams {
    std::int64_t upstream = 1000;  ///< bp, a multiple of bin_size
    std::int64_t downstream = 1000;
    std::int64_t bin_size = 10;
    bool reference_end = false;  ///< false: TSS (region start), true: TES (region end)
    bool antisense = false;      ///< read the row of the other strand
    std::string group_label = "genes";
};

/// Writes the matrix of `samples` over `regions` (in the given order) to `path` (gzip).
/// Regions on contigs the store lacks get rows of nan. Returns the number of rows.
/// @throws InputError for sizes that are not multiples of bin_size, no region or no sample;
///         IoError on a write failure.
std::int64_t write_reference_point_matrix(const sae::FeatureStore& store,
                                          const std::vector<MatrixRegion>& regions,
                                          const std::vector<MatrixSample>& samples,
                                          const MatrixParams& params,
                                          const std::filesystem::path& path);

}  // namespace evoscope::pipelines
