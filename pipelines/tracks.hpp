/// @file
/// The `tracks` stage: genome-browser tracks of SAE features from a feature store. For each
/// selected feature: a bigWig per strand (float32, positions where the feature is 0 or that the
/// store does not cover are absent, equal neighbours merged, zoom levels, chromosomes from the
/// FASTA in C-locale order), optionally bedGraph, and a BED9 of its activation peaks coloured by
/// its concept; deepTools computeMatrix files around gene starts and ends when an annotation is
/// given; a manifest, an IGV session, an igv.js track list, a UCSC track hub (with the genome as
/// .2bit for an assembly hub). The store is streamed chunk by chunk with at most `max_open`
/// files open at once (more features take more passes over the store); memory never holds a
/// positions x features matrix. The output folder is built beside the target and renamed into
/// place at the end: a failed run leaves nothing. Formats and conventions: docs/tracks.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace evoscope::pipelines {

struct TracksOptions {
    std::string features;     ///< feature store folder (sae encode)
    std::string fasta;        ///< reference: contigs for the bigWigs, IGV genome, hub .2bit
    std::string align;        ///< `evoscope align` output folder (labels, colours, top features)
    std::string feature_ids;  ///< "12,57,100-103"
    bool all = false;         ///< every feature that is active somewhere
    int top_per_concept = 5;  ///< with `align` and neither feature_ids nor all
    std::string output;       ///< output folder
    bool force = false;       ///< replace an existing output folder

    std::int64_t bin_size = 1;  ///< bigWig/bedGraph: mean over bins of this many bp
    bool bedgraph = false;      ///< also write bedGraph files
    bool bgzip = false;         ///< bgzip + tabix every BED/bedGraph file
    /// ... and those larger than this many MiB (IGV loads an unindexed BED whole).
    double bgzip_above_mib = 8.0;
    int max_open = 256;  ///< files open at once while streaming the store

    double peak_fraction = 0.5;  ///< peaks: local maxima at >= this fraction of the maximum
    std::int64_t peak_min_distance = 20;
    std::int64_t max_peaks = 500;  ///< per feature

    std::string annotations;  ///< GFF3/GTF/BED/GenBank: matrices around its regions
    std::string annotation_format = "auto";
    std::string rename_contigs;        ///< contig alias file for the annotation
    bool lenient = false;              ///< skip malformed annotation lines
    std::string region_type = "gene";  ///< annotation feature type of the matrix regions
    std::int64_t upstream = 1000;      ///< matrix: bp before the reference point
    std::int64_t downstream = 1000;    ///< bp after it
    std::int64_t matrix_bin_size = 10;
    std::string matrix_strand = "sense";  ///< sense: the region's strand row; antisense

    std::string ucsc_genome;  ///< hub on this UCSC assembly instead of an assembly hub
    std::string genome_name;  ///< assembly hub genome name (default: the FASTA's file stem)
    bool no_twobit = false;   ///< do not write genome.2bit
    std::string hub_email = "user@example.org";
};

/// One file of the output folder, as manifest.tsv lists it.
struct TracksFile {
    std::string feature = "-";  ///< "f/12", or "-" for files about no single feature
    std::string label = "-";
    std::string concept_name = "-";
    std::string kind;  ///< bigwig, bedgraph, peaks, matrix, twobit, igv_session, ...
    char strand = '.';
    std::string path;             ///< relative to the output folder
    std::int64_t n_records = -1;  ///< entries, peaks or rows; -1 when not applicable
};

struct TracksResult {
    std::vector<std::uint32_t> features;  ///< drawn, in order
    std::vector<std::uint32_t> inactive;  ///< selected but never active: skipped
    std::vector<TracksFile> files;
    int n_passes = 0;                   ///< passes over the store
    std::int64_t n_bigwig_entries = 0;  ///< over all bigWigs
    std::int64_t n_peaks = 0;
    std::int64_t n_matrix_rows = 0;  ///< per matrix
};

/// @throws UsageError for inconsistent options (no selection, two selections, bad sizes),
///         InputError (feature id >= d_sae, store contig not in the FASTA or of another
///         length, no region of `region_type` in the annotation, output exists), and the
///         readers' IoError/FormatError naming the file. Nothing is left in `output` then.
TracksResult run_tracks(const TracksOptions& options);

}  // namespace evoscope::pipelines
