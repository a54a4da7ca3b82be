/// @file
/// The `align` stage: features (an SAE feature store, or per-base tracks) against the concepts of
/// an annotation, InterPLM-style (annotate/align.hpp; method in docs/alignment.md), with the raw
/// neuron and control-SAE baselines through the same code path. Writes an output folder
/// atomically: concepts.tsv, features.tsv, alignment.tsv.gz, summary.json (and labels.tsv beside
/// the SAE's cfg.json, or at --labels-out).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "annotate/align.hpp"
#include "annotate/concepts.hpp"
#include "pipelines/concepts.hpp"

namespace evoscope::pipelines {

struct AlignOptions {
    std::string features;             ///< SAE feature store folder
    std::vector<std::string> tracks;  ///< bigWig/bedGraph; "PATH:+"/"PATH:-" for one strand
    /// The annotation and reference, read as by `concepts` (format, aliases, --lenient, concept
    /// spans). `annotations`/`fasta` below, when set, override source.annotations/source.fasta.
    ConceptSourceOptions source;
    std::string annotations;  ///< GFF3/GTF/BED/GenBank
    std::string fasta;
    std::string motifs;            ///< JASPAR/MEME file: its genome-wide hits become concepts
    double motif_thresh = 1e-4;    ///< p-value threshold of those hits
    std::string output;            ///< output folder
    std::string neurons;           ///< activation store: raw-neuron baseline
    std::string control_features;  ///< feature store of the control SAE
    std::string labels_out;        ///< labels.tsv path; empty: beside the SAE's cfg.json
    bool force = false;            ///< replace an existing output folder / labels.tsv
    int shifts = 100;              ///< circular shifts for the chance bound
    std::uint64_t seed = 1;
    std::int64_t split_block_bp = 0;  ///< 0: automatic (100 kb, at least 20 blocks)
    int bins = 64;
    int shift_top = 4;
    int shift_dense = 4;
    int threads = 0;                ///< 0: all cores
    double identified_score = 0.5;  ///< val and test score above this (and q <= 0.05)
};

/// One signal source's results.
struct AlignSourceResult {
    std::string description;
    annotate::AlignResult result;
    std::vector<std::string> feature_names;
    int n_identified = 0;
};

struct AlignRunResult {
    AlignSourceResult sae;
    std::optional<AlignSourceResult> neurons;
    std::optional<AlignSourceResult> control;
    std::string labels_path;  ///< where labels.tsv went ("" when not written)
};

/// Reads the FASTA's contigs, the annotation and derives the concepts, then run_align_concepts.
AlignRunResult run_align(const AlignOptions& options);

/// The stage on given concepts (their contigs are the FASTA's).
/// @throws InputError for inconsistent options, a store/FASTA contig mismatch, an unknown
///         track contig; IoError/FormatError from the readers.
AlignRunResult run_align_concepts(const AlignOptions& options,
                                  const annotate::ConceptSet& concepts);

}  // namespace evoscope::pipelines
