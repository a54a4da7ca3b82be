/// @file
/// Feature <-> concept alignment after InterPLM (Simon & Zou 2025; shared/docs/sae-methods.md
/// §2.1): for every feature x concept x threshold (fractions of the feature's max) x sense,
/// per-nucleotide precision/recall/F1, domain F1 (precision with element recall), AUROC/AUPRC of
/// the continuous signal and an enrichment statistic; the best (feature, threshold, sense) per
/// concept chosen on a validation split and reported on a disjoint test split; a chance bound
/// from circular shifts of the concept tracks. Method, formulas and approximations:
/// docs/alignment.md. Never builds a dense positions x features matrix: one streaming pass over
/// the source's blocks fills per-(feature, value slot, sense, concept) counters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "annotate/concepts.hpp"
#include "annotate/signal_source.hpp"

namespace evoscope::annotate {

inline constexpr std::int64_t kDefaultSplitBlockBp = 100000;

enum Sense : int { kSame = 0, kOpposite = 1, kPooled = 2 };

constexpr int kNumSenses = 3;
const char* sense_name(int sense);

struct AlignConfig {
    /// Fractions of each feature's max; a position is active when value / max > threshold.
    std::vector<double> thresholds = {0.0, 0.15, 0.5, 0.6, 0.8};
    int n_bins = 64;  ///< value/max histogram bins for AUROC/AUPRC (thresholds are extra edges)
    /// Alternating-block split (used when fewer than 2 contigs give both splits enough rows).
    /// Alternating validation/test blocks when contigs cannot split; 0: automatic
    /// (kDefaultSplitBlockBp, or genome / 20 per strand when that gives fewer than 20 blocks).
    std::int64_t split_block_bp = 0;
    /// Contig split only when each split gets at least this fraction of the covered rows.
    double min_split_fraction = 0.2;
    int n_shifts = 100;      ///< circular shifts for the chance bound (0: none)
    std::uint64_t seed = 1;  ///< shift offsets
    int shift_top = 8;       ///< candidates per concept: best features by validation score
    int shift_dense = 8;     ///< + this many densest features (the null's usual winners)
    int threads = 1;
};

/// Everything the streaming pass counts (exact integers; slots: see AlignCounts::edges).
struct AlignCounts {
    std::int64_t n_features = 0;
    std::int64_t n_concepts = 0;
    std::vector<double> edges;        ///< slot s holds value/max in (edges[s], edges[s+1]]
    std::vector<int> threshold_slot;  ///< slot index of each threshold's edge

    std::int64_t n_slots() const { return static_cast<std::int64_t>(edges.size()); }

    /// [split][feature][slot][sense][concept] positives among active rows with that slot.
    std::vector<std::uint32_t> tp;
    /// [split][feature][slot] rows with that slot.
    std::vector<std::uint64_t> active;
    /// [split][sense][concept] positive rows; [split] rows.
    std::vector<std::uint64_t> positive;
    std::vector<std::uint64_t> rows;
    /// [split][feature][level 0..T][sense][concept]: elements whose best level is `level`
    /// (level L: active at thresholds 0..L-1; level 0 is never filled).
    std::vector<std::uint32_t> element_hits;
    /// [split][concept] elements (an element belongs to the split of its first base).
    std::vector<std::uint64_t> elements;
    /// Frame baseline: [split][residue p % 3][sense][concept] positives, [split][residue] rows.
    std::vector<std::uint64_t> frame_positive;
    std::vector<std::uint64_t> frame_rows;
};

/// Split of every position: 0 validation, 1 test.
struct SplitPlan {
    bool by_contig = false;
    std::vector<std::uint8_t> contig_split;  ///< by contig
    std::int64_t block_bp = 0;               ///< by block: split = (first_block[k] + p / bp) % 2
    std::vector<std::int64_t> first_block;

    int split_of(std::int32_t contig, std::int64_t pos) const {
        if (by_contig) {
            return contig_split[static_cast<std::size_t>(contig)];
        }
        return static_cast<int>((first_block[static_cast<std::size_t>(contig)] + pos / block_bp) %
                                2);
    }

    std::string describe() const;
};

SplitPlan plan_split(const SignalSource& source,
                     const ConceptSet& concepts,
                     const AlignConfig& config);

/// The streaming pass (threads from config). `concepts` contigs must be the source's (by name,
/// in any order; checked).
AlignCounts count_alignment(const SignalSource& source,
                            const ConceptSet& concepts,
                            const SplitPlan& split,
                            const AlignConfig& config);
/// The same counts by a plain dense loop over positions x features (tests, benchmark).
AlignCounts count_alignment_reference(const SignalSource& source,
                                      const ConceptSet& concepts,
                                      const SplitPlan& split,
                                      const AlignConfig& config);

/// Scores of one (feature, concept, threshold, sense) on one split.
struct Metrics {
    std::uint64_t tp = 0, active = 0, positive = 0, rows = 0;
    double precision = 0, recall = 0, f1 = 0;
    double element_recall = 0, domain_f1 = 0;
    double log_odds = 0, z = 0;  ///< enrichment: Haldane-corrected log odds ratio and its z
};

Metrics metrics_at(const AlignCounts& counts,
                   int split,
                   std::int64_t feature,
                   std::int64_t concept_index,
                   int threshold,
                   int sense);
/// AUROC and AUPRC (average precision) of value/max on `split` from the slot histogram.
std::pair<double, double> auc_at(const AlignCounts& counts,
                                 int split,
                                 std::int64_t feature,
                                 std::int64_t concept_index,
                                 int sense);

/// Frame concepts (codon positions) are scored by nucleotide F1 and get the frame baseline.
bool is_frame_concept(const Concept& concept_entry);
/// Nucleotide concepts (frame concepts, concepts without elements) select on F1, the others on
/// domain F1.
bool uses_domain_score(const Concept& concept_entry);

struct ConceptResult {
    std::string name, category;
    std::int64_t n_positive = 0, n_elements = 0;
    bool domain_score = true;
    std::int64_t feature = -1;  ///< best; -1 when no feature is ever active
    int threshold = 0, sense = 0;
    double val_score = 0;
    Metrics test;
    double test_score = 0, auroc = 0, auprc = 0;
    double p_value = 1, q_value = 1;  ///< NaN-free; 1 when no shifts were run
    bool clears_chance = false;
    double trivial_f1 = 0;       ///< test F1 of "every position positive"
    double frame_baseline = -1;  ///< test score of the best global frame; -1: not a frame concept
    std::vector<double> null_scores;  ///< best test score per shift
};

struct AlignResult {
    AlignCounts counts;
    SplitPlan split;
    std::vector<ConceptResult> concepts;
    std::vector<float> feature_max;
    int n_shifts = 0;
    std::vector<std::int64_t> shift_candidates;  ///< features whose activity the shifts used
};

/// Everything: split, counts, selection, chance bound, baselines that need only the concepts.
AlignResult align(const SignalSource& source,
                  const ConceptSet& concepts,
                  const AlignConfig& config);

/// Benjamini-Hochberg q-values of `p` (same order).
std::vector<double> bh_qvalues(const std::vector<double>& p);

}  // namespace evoscope::annotate
