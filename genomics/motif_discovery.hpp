/// @file
/// Building motifs from aligned sequences and comparing them with a database:
///   - a count matrix from equal-length seqlets;
///   - EM refinement with MEME's one-occurrence-per-sequence (OOPS) model (Bailey & Elkan
///     1994, ISMB 2:28): each seqlet holds exactly one occurrence, at an unknown offset and on
///     an unknown strand, all equally likely a priori; the E-step weighs every (offset, strand)
///     by its likelihood ratio against a 0-order background, the M-step re-estimates the matrix
///     from the weighted windows (plus a pseudocount spread by the background);
///   - trimming flanks of low information content (2 - entropy, bits);
///   - Tomtom-style comparison (Gupta, Stamatoyannopoulos, Bailey & Noble 2007, Genome Biol
///     8:R24): column similarity = Pearson correlation of probability columns, summed over the
///     aligned columns, every offset with at least `min_overlap` columns and both orientations
///     of the target. p-values as Tomtom: the null of query column i is the empirical
///     distribution of its similarity to every column of the database (both orientations);
///     the null of a sum over aligned query columns is the convolution of those (scores
///     rounded to 0.01), so p(offset) = P(null sum >= observed sum). The best offset's p is
///     corrected for the number of alignments tried, p = 1 - (1 - p_min)^n (Tomtom's
///     correction); E = p x number of targets; q = Benjamini-Hochberg over the targets;
///   - an SVG sequence logo (letter heights = probability x information content; A green,
///     C blue, G orange, T red).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "genomics/motifs.hpp"

namespace evoscope::genomics {

/// Count matrix of equal-length sequences (A, C, G, T; other bytes are not counted).
/// @throws InputError when the sequences are empty or of different lengths.
Motif count_matrix(const std::vector<std::string>& seqlets, std::string id);

struct OopsOptions {
    std::size_t width = 0;      ///< motif width (<= every seqlet's length)
    int iterations = 20;        ///< at most; stops earlier when the matrix no longer moves
    double pseudocount = 0.25;  ///< per column, spread by the background (as MEME's priors)
    bool both_strands = true;
};

struct OopsResult {
    Motif motif;                       ///< probabilities, nsites = number of seqlets
    std::vector<std::size_t> offsets;  ///< best offset per seqlet
    std::vector<bool> reverse;         ///< best strand per seqlet
    int iterations = 0;
    double log_likelihood_ratio = 0.0;  ///< sum over seqlets of log(mean likelihood ratio)
};

/// Refines `start` (width options.width) by OOPS EM over `seqlets`.
/// @throws InputError for a width above a seqlet length or a start of another width.
OopsResult refine_oops(const std::vector<std::string>& seqlets,
                       const Motif& start,
                       const std::array<double, 4>& background,
                       const OopsOptions& options);

/// Information content of each column, 2 - entropy in bits.
std::vector<double> information_content(const Motif& motif);

/// Drops flanking columns with information content below `min_bits` (keeps at least one
/// column: the most informative one when all are below).
Motif trim_motif(const Motif& motif, double min_bits = 0.3);

/// The motif on the other strand.
Motif reverse_complement(const Motif& motif);

struct TomtomOptions {
    std::size_t min_overlap = 5;  ///< columns (smaller motifs: their width)
    double resolution = 0.01;     ///< score rounding for the null distribution
};

struct TomtomMatch {
    std::size_t target = 0;  ///< index into targets
    /// Query column 0 faces target column `offset` (negative: the query starts before the
    /// target), in the target orientation used.
    int offset = 0;
    double score = 0.0;  ///< summed Pearson correlation
    double pvalue = 1.0;
    double evalue = 1.0;
    double qvalue = 1.0;
    int overlap = 0;
    bool reverse = false;  ///< target reverse-complemented
};

/// Compares `query` with every target; one match per target, sorted by p-value.
std::vector<TomtomMatch> tomtom(const Motif& query,
                                const std::vector<Motif>& targets,
                                const TomtomOptions& options = {});

/// Tomtom's tomtom.tsv header and one line.
std::string tomtom_tsv_header();
std::string tomtom_tsv_line(const Motif& query,
                            const std::vector<Motif>& targets,
                            const TomtomMatch& match);

/// A sequence logo as a standalone SVG document.
std::string logo_svg(const Motif& motif);

}  // namespace evoscope::genomics
