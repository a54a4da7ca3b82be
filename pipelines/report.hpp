/// @file
/// The `report` stage: one self-contained folder that a browser opens from disk (file://, no
/// server, no network request) with everything a run found: a genome browser (igv.js, copied
/// in) with the annotation and the top features' activation tracks, the sortable concept table
/// of `align`, one view per feature (best concept, activation histogram, top examples with their
/// bases coloured by activation, motif logo and best database match), the SAE's training
/// figures and the provenance of every input. Reads a run folder's conventional paths
/// (align/, features/, sae/, motifs/f<ID>/, run.json), each of which an explicit option
/// overrides; align and features are required, every other part is optional and its absence
/// is stated in the page. Output (written whole, atomically): index.html, report.js,
/// report.css, data.js (tables, figures' data), tracks.js (the browser's data), igv.min.js and
/// igv-LICENSE.txt. docs/report.md describes the page and the track representation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace evoscope::pipelines {

struct ReportOptions {
    std::string run;           ///< run folder: the defaults of the paths below
    std::string align;         ///< align output folder (default RUN/align)
    std::string features;      ///< feature store (default RUN/features)
    std::string sae;           ///< SAE folder with cfg.json, train_log.tsv (default RUN/sae)
    std::string motifs_dir;    ///< folder of f<ID>/ motif folders (default RUN/motifs)
    std::string fasta;         ///< reference (default: the one align was run with, if found)
    std::string annotations;   ///< GFF3/GTF/BED/GenBank (default: the one align was run with)
    std::string output;        ///< output folder (default RUN/report)
    std::string igv_js;        ///< igv.min.js to copy instead of the one built in
    bool force = false;        ///< replace an existing output folder
    int max_features = 200;    ///< feature views at most (best features of concepts first)
    int browser_features = 6;  ///< features with tracks in the genome browser
    std::int64_t track_runs = 20000;  ///< runs per feature track and strand (finer bins first)
    std::int64_t max_sequence_bp = 5000000;        ///< embed the reference up to this genome size
    std::int64_t max_annotation_features = 20000;  ///< annotation records in the browser
    int examples = 6;                              ///< top examples per feature
    std::int64_t flank_bp = 30;                    ///< bases each side of an example's peak
    int histogram_bins = 40;
};

struct ReportFile {
    std::string name;
    std::int64_t size_bytes = 0;
};

struct ReportResult {
    std::string output;             ///< the folder written
    std::vector<ReportFile> files;  ///< what it holds
    std::int64_t total_bytes = 0;
    int n_feature_views = 0;
    int n_browser_tracks = 0;
    bool browser = false;            ///< igv.js was available
    std::vector<std::string> notes;  ///< missing optional parts, as stated in the page
};

/// @throws UsageError without --run and the required paths; InputError for a missing align
///         folder or feature store (one line naming it), an existing output without --force;
///         FormatError/IoError from the readers.
ReportResult run_report(const ReportOptions& options);

}  // namespace evoscope::pipelines
