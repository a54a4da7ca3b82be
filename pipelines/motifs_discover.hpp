/// @file
/// The `motifs discover` stage: a motif from the strongest activations of one SAE feature.
/// Peaks of the feature along the genome (annotate/feature_peaks.hpp) -> seqlets of `width` bp
/// plus `slack` bp on each side around each peak, reverse-complemented for peaks on '-' rows ->
/// count matrix of the central `width` bp -> OOPS EM over offsets and strands (MEME, Bailey &
/// Elkan 1994) -> flanks below `min_ic` bits trimmed -> Tomtom-style comparison with a motif
/// database (genomics/motif_discovery.hpp). Writes into the output folder:
///   motif.meme    the discovered motif (MEME format; id "feature_<N>")
///   logo.svg      its sequence logo
///   tomtom.tsv    matches in the database (MEME's tomtom.tsv columns), q <= match_thresh
///   peaks.bed     the peaks used (BED6; name = feature_<N>, score = activation)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "annotate/feature_peaks.hpp"
#include "genomics/motif_discovery.hpp"
#include "genomics/motifs.hpp"

namespace evoscope::pipelines {

struct MotifsDiscoverOptions {
    std::string features;       ///< feature store folder (sae encode)
    std::int64_t feature = -1;  ///< feature id
    std::string fasta;          ///< the reference the store was encoded from
    std::string motifs;  ///< database to compare with (optional; without, tomtom.tsv is a header)
    std::string output_dir;
    std::int64_t n_peaks = 500;  ///< at most this many peaks
    double min_fraction = 0.5;   ///< peaks at >= this fraction of the feature's maximum
    /// Seqlet and starting motif width, bp (4..40: the comparison null costs about width^3 / 6
    /// convolutions of 201-bin histograms).
    std::int64_t width = 20;
    std::int64_t slack = 5;        ///< extra bp each side for EM to shift the motif
    int em_iterations = 20;        ///< OOPS EM iterations at most
    double min_ic = 0.3;           ///< trim flanks below this information content (bits)
    double match_thresh = 0.5;     ///< tomtom.tsv keeps matches with q <= this (Tomtom's)
    std::int64_t min_overlap = 5;  ///< Tomtom minimum overlap (columns)
    bool force = false;            ///< replace files in an existing output folder
};

struct MotifsDiscoverResult {
    std::vector<annotate::FeaturePeak> peaks;  ///< those turned into seqlets
    std::vector<std::string> seqlets;          ///< width + 2 slack bp each, peak orientation
    genomics::Motif initial;                   ///< central counts before EM
    genomics::Motif refined;                   ///< after EM, before trimming
    genomics::Motif motif;                     ///< trimmed: what motif.meme holds
    int em_iterations = 0;
    std::vector<genomics::Motif> database;
    std::vector<genomics::TomtomMatch> matches;  ///< all targets, best first
};

/// @throws InputError/FormatError/IoError naming the culprit (unknown feature, no peaks,
///         FASTA without the store's contigs).
MotifsDiscoverResult run_motifs_discover(const MotifsDiscoverOptions& options);

}  // namespace evoscope::pipelines
