/// @file
/// The `motifs scan` stage: every motif of a JASPAR/MEME file over a genome or regions, both
/// strands, exact p-values (genomics/motif_scan.hpp: FIMO's scores and p-values, MOODS-style
/// filtering), Benjamini-Hochberg q-values per motif, FIMO-compatible TSV or BED6.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "genomics/motif_scan.hpp"
#include "genomics/motifs.hpp"

namespace evoscope::pipelines {

struct MotifsScanOptions {
    std::string motifs;                ///< JASPAR (.jaspar/.pfm) or MEME motif file
    std::string fasta;                 ///< reference FASTA
    std::vector<std::string> regions;  ///< -r, 1-based inclusive; none = whole genome
    std::string regions_bed;           ///< BED of regions (0-based half-open)
    double thresh = 1e-4;              ///< report hits with p <= thresh
    /// Keep at most this many hits per motif, the most significant (FIMO's
    /// --max-stored-scores); 0 = no limit.
    std::int64_t max_hits = 100000;
    double pseudocount = genomics::kDefaultMotifPseudocount;  ///< FIMO's --motif-pseudo
    bool bed = false;                                         ///< BED6 instead of the FIMO TSV
    std::string output = "-";  ///< file, or - for stdout; empty: nothing written (in-process use)
    bool force = false;        ///< overwrite an existing output
};

struct MotifsScanResult {
    std::vector<genomics::Motif> motifs;
    /// Hits of all motifs: by motif (file order), then p-value, contig order, start, strand.
    std::vector<genomics::MotifHit> hits;
    std::vector<std::int64_t> tests_per_motif;    ///< positions x strands tested per motif
    std::vector<std::int64_t> dropped_per_motif;  ///< hits dropped by max_hits
    std::array<double, 4> background{};           ///< A C G T of the scanned bases
    std::int64_t bases_scanned = 0;               ///< after merging overlapping regions
    std::size_t n_regions = 0;                    ///< after merging
    double seconds = 0.0;                         ///< scanning only (no I/O)
};

/// The FIMO TSV header line (with newline).
std::string fimo_tsv_header();
/// One FIMO TSV line: motif_id motif_alt_id sequence_name start stop strand score p-value
/// q-value matched_sequence (start/stop 1-based inclusive).
std::string fimo_tsv_line(const genomics::Motif& motif, const genomics::MotifHit& hit);

/// Scans and writes the hits. @throws InputError/FormatError/IoError naming the culprit.
MotifsScanResult run_motifs_scan(const MotifsScanOptions& options);

}  // namespace evoscope::pipelines
