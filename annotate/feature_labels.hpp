/// @file
/// Which SAE features to draw and how to colour them: the per-feature labels that
/// `evoscope align` writes (features.tsv), feature id lists typed on the command line, the best
/// features of each concept, and one fixed colour per concept.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace evoscope::annotate {

/// One row of align's features.tsv.
struct FeatureLabel {
    std::uint32_t id = 0;
    /// The label ("gene", "CDS+motif:MA0001.1") when the feature's best concept scored above
    /// align's threshold on validation and test; "-" when unlabelled.
    std::string label = "-";
    std::string concept_name = "-";  ///< its best concept on validation ("-": none)
    double val_score = 0.0;
    double test_score = 0.0;

    bool labelled() const { return label != "-"; }
};

/// Reads features.tsv of an `evoscope align` output folder (or that file itself). Columns are
/// found by name (feature, label, concept, val_score, test_score); feature names are "f/N".
/// @throws IoError (missing file, naming it), FormatError "path:line: ..." (missing column,
///         bad feature name or number).
std::vector<FeatureLabel> read_feature_labels(const std::filesystem::path& align_dir_or_file);

/// Parses a feature list: comma-separated ids and inclusive ranges, "12,57,100-103"; "f/12" and
/// "f12" are accepted for 12. Order kept, repeats dropped.
/// @throws UsageError naming the item that is not an id or a range.
std::vector<std::uint32_t> parse_feature_ids(std::string_view text);

/// The `n` labelled features of each concept with the highest test score (ties: validation
/// score, then the lower id). Grouped by the feature's best concept (the label without a
/// "+motif:..." suffix), concepts in C-locale order, best first within a concept.
std::vector<std::uint32_t> top_features_per_concept(const std::vector<FeatureLabel>& labels, int n);

/// The colour of a concept, "R,G,B" components 0..255: fixed for the concepts that
/// `evoscope concepts` derives (gene blue, CDS green, tRNA red, rRNA purple, ...), one of a fixed
/// palette chosen by a stable hash of the name for the others (motif:..., type:...), and grey
/// (160,160,160) for "-" (unlabelled).
std::array<int, 3> concept_color(std::string_view concept_name);

}  // namespace evoscope::annotate
