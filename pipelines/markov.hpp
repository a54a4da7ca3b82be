/// @file
/// `evoscope markov`: order-K Markov baselines (K = 0..12, add-one or Kneser-Ney smoothing)
/// trained on training regions of one or more FASTA files (both strands) and scored on held-out
/// regions, printing bits per base as TSV: the yardstick a DNA language model must beat.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "genomics/interval.hpp"

namespace evoscope::pipelines {

struct MarkovOptions {
    std::vector<std::string> fasta;            ///< one or more FASTA files ("genomes")
    std::string orders = "0-12";               ///< "5", "0-12", "0,2,4-6"
    std::vector<std::string> smoothing{"kn"};  ///< "kn", "add-one", "both"
    std::vector<std::string> train_regions;    ///< 1-based region strings
    std::string train_bed;
    std::vector<std::string> eval_regions;
    std::string eval_bed;
    std::vector<std::string> regions;  ///< regions to split with holdout_fraction
    std::string regions_bed;
    double holdout_fraction = 0.0;      ///< 0: use train/eval lists
    std::string train_strand = "both";  ///< "+" or "both"
    std::string eval_strand = "+";      ///< "+", "-" or "both"
    std::string by = "fasta";           ///< breakdown: fasta, contig or region
    bool per_fasta = false;             ///< one model per FASTA instead of one pooled model
    bool allow_overlap = false;         ///< eval overlapping train: warn instead of error
    std::string index_cache_dir;
    std::string output = "-";
    bool force = false;
};

/// Parses an order list: "5", "0-12", "0,2,4-6" (sorted, duplicates removed).
/// @throws UsageError for bad syntax or an order outside 0..12.
std::vector<int> parse_markov_orders(std::string_view spec);

struct MarkovResult {
    std::int64_t n_rows = 0;  ///< TSV rows written (without the header)
};

/// Trains the baselines and writes the TSV. @throws evoscope::Error on bad input.
MarkovResult run_markov(const MarkovOptions& options);

}  // namespace evoscope::pipelines
