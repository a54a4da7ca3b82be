/// @file
/// Position weight matrix scanning with exact p-values, FIMO-style (Grant, Bailey & Noble 2011,
/// Bioinformatics 27:1017) with MOODS-style filtering (Korhonen et al. 2009, Bioinformatics
/// 25:3181).
///
/// Scores. A motif becomes a log-odds matrix in bits, log2(f / b), against a 0-order background
/// b; f comes from the matrix with FIMO's `--motif-pseudo` pseudocount (default 0.1): per cell
/// f = (p * n + pc * b) / (n + pc), with p the column's relative frequency and n the motif's
/// number of sites (a count matrix's column total, MEME's nsites=). The same formula serves
/// count and probability matrices.
///
/// p-values. Each cell is rounded to an integer at `scale` units per bit; the distribution of
/// the integer score of a random W-mer under the background is the convolution of the W column
/// distributions (dynamic programming as in FIMO and TFM-PVALUE, Touzet & Varre 2007, Algorithms
/// Mol Biol 2:15). p(s) = P(S >= s) is exact for the integer matrix. Rounding moves a word's
/// score by at most W/2 units, so the p-value of the real-valued score lies between the integer
/// matrix's p-values at s + W and s - W (tested against enumeration of all 4^W words).
///
/// Scanning. The p-value threshold becomes an integer score threshold once per motif; a window
/// is scored through a table of its most informative k consecutive columns (k <= 6), then the
/// other columns in decreasing order of their range, stopping as soon as the best possible
/// remainder cannot reach the threshold (MOODS' lookahead filtration). Only hits get a p-value.
/// Windows containing a base other than A, C, G, T (any case) are not scored nor counted as
/// tests. The reverse strand is scanned with the reverse-complemented matrix; with a
/// strand-symmetric background both strands share one score distribution.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "genomics/interval.hpp"
#include "genomics/motifs.hpp"

namespace evoscope::genomics {

/// FIMO's default --motif-pseudo.
constexpr double kDefaultMotifPseudocount = 0.1;
/// Score resolution: integer units per bit (0.01 bit per unit).
constexpr double kDefaultScoreScale = 100.0;

/// A, C, G, T frequencies from base counts, symmetrised over both strands (A = T, C = G), so
/// that forward and reverse-complement scores have the same distribution. Lower case counts
/// as upper case; other bytes are ignored. Zero counts give the uniform background.
std::array<double, 4> strand_symmetric_background(const std::array<std::int64_t, 4>& counts);

/// Adds the A, C, G, T counts of `seq` to `counts` (case-insensitive).
void count_bases(std::string_view seq, std::array<std::int64_t, 4>& counts);

/// A motif as a scoring matrix with its exact integer score distribution.
class ScoreMatrix {
public:
    ScoreMatrix(const Motif& motif,
                const std::array<double, 4>& background,
                double pseudocount = kDefaultMotifPseudocount,
                double scale = kDefaultScoreScale);

    std::size_t width() const { return bits_.size(); }

    /// Log-odds in bits, W rows of A C G T.
    const std::vector<std::array<double, 4>>& bits() const { return bits_; }

    /// Rounded scores (bits * scale), W rows of A C G T.
    const std::vector<std::array<std::int32_t, 4>>& integer_scores() const { return int_; }

    double scale() const { return scale_; }

    std::int32_t min_score() const { return min_; }

    std::int32_t max_score() const { return max_; }

    const std::array<double, 4>& background() const { return background_; }

    /// P(S >= s) for a random word under the background (1 below the minimum, 0 above the
    /// maximum).
    double pvalue(std::int32_t s) const;
    /// The smallest integer score whose p-value is <= p (max_score() + 1 when none is).
    std::int32_t threshold(double p) const;

    /// Integer and real-valued scores of the word at `word` (W bases of A, C, G, T, any case,
    /// read on the motif's strand). @return false when the word holds another byte.
    bool score_word(std::string_view word, std::int32_t& int_score, double& bits) const;

    /// The same motif on the other strand (rows reversed, letters complemented); same
    /// distribution when the background is strand-symmetric.
    ScoreMatrix reverse_complement() const;

private:
    ScoreMatrix() = default;
    void build_distribution();

    std::vector<std::array<double, 4>> bits_;
    std::vector<std::array<std::int32_t, 4>> int_;
    std::array<double, 4> background_{};
    double scale_ = kDefaultScoreScale;
    std::int32_t min_ = 0;
    std::int32_t max_ = 0;
    std::vector<double> tail_;  ///< tail_[s - min_] = P(S >= s)
};

/// One motif occurrence. Positions are 0-based half-open on the scanned contig.
struct MotifHit {
    std::size_t motif = 0;  ///< index into the scanned motifs
    std::string contig;
    std::int64_t begin = 0;
    std::int64_t end = 0;
    Strand strand = Strand::Forward;
    double score = 0.0;   ///< log-odds, bits
    double pvalue = 1.0;  ///< exact for the integer matrix
    double qvalue = 1.0;  ///< Benjamini-Hochberg, see benjamini_hochberg()
    std::string matched;  ///< the window read on the hit's strand (reverse complement on '-')
};

/// A sequence coded for scanning: 0-3 for A, C, G, T (any case), 4 for anything else, plus
/// k-mer codes (first base most significant; -1 where the k-mer holds another byte) built on
/// first use and shared by every motif scanned over it. Not thread safe (lazy cache).
class EncodedSequence {
public:
    explicit EncodedSequence(std::string_view seq);

    std::string_view sequence() const { return seq_; }

    std::int64_t size() const { return static_cast<std::int64_t>(seq_.size()); }

    const std::vector<std::uint8_t>& codes() const { return codes_; }

    /// k-mer codes for 1 <= k <= 6 (entry i covers [i, i + k); the last k - 1 entries are -1).
    const std::vector<std::int32_t>& kmers(std::size_t k) const;
    /// Windows of `width` bases made of A, C, G, T only.
    std::int64_t complete_windows(std::size_t width) const;

private:
    std::string_view seq_;
    std::vector<std::uint8_t> codes_;
    std::vector<std::int64_t> bad_prefix_;  ///< bad_prefix_[i] = other bytes in [0, i)
    mutable std::array<std::vector<std::int32_t>, 7> kmers_;
};

/// A motif prepared for scanning both strands at a p-value threshold.
class MotifScanner {
public:
    MotifScanner(const Motif& motif,
                 const std::array<double, 4>& background,
                 double pvalue_threshold,
                 double pseudocount = kDefaultMotifPseudocount,
                 double scale = kDefaultScoreScale);

    const ScoreMatrix& matrix() const { return forward_; }

    /// Integer score threshold derived from the p-value threshold.
    std::int32_t score_threshold() const { return threshold_; }

    /// Scans `seq` (any case), which starts at `offset` on `contig`, on both strands; appends
    /// hits with p <= threshold (motif index `motif_index`) and returns the number of tests
    /// (complete A/C/G/T windows times 2 strands).
    std::int64_t scan(const EncodedSequence& seq,
                      const std::string& contig,
                      std::int64_t offset,
                      std::size_t motif_index,
                      std::vector<MotifHit>& hits) const;

    /// Reference implementation: every window scored in full (for tests and benchmarks).
    std::int64_t scan_plain(const EncodedSequence& seq,
                            const std::string& contig,
                            std::int64_t offset,
                            std::size_t motif_index,
                            std::vector<MotifHit>& hits) const;

private:
    struct Strand1 {
        // (No pointer to forward_/reverse_ here: scanners are moved around in vectors.)
        std::size_t k = 0;                ///< table columns
        std::size_t k_off = 0;            ///< first table column
        std::vector<std::int32_t> table;  ///< 4^k partial scores
        std::vector<std::size_t> rest;    ///< other columns, most discriminating first
        std::vector<std::int32_t> bound;  ///< bound[i] = best score of rest[i..]
    };

    void prepare(Strand1& s, const ScoreMatrix& m) const;

    ScoreMatrix forward_;
    ScoreMatrix reverse_;
    std::int32_t threshold_ = 0;
    Strand1 fwd_;
    Strand1 rev_;
};

/// Benjamini-Hochberg q-values (FIMO's convention) for the hits of one motif out of `n_tests`
/// tests (positions x strands): q_i = min over j >= i of p_(j) n / j in p-value order, capped at
/// 1. Only hits below the p-value threshold are stored, so the minimum runs over them alone:
/// each q is exact when it is <= the p-value threshold (every unstored test has p above it, so
/// its term is >= the threshold) and otherwise an upper bound (conservative).
void benjamini_hochberg(std::vector<MotifHit>& hits, std::int64_t n_tests);

}  // namespace evoscope::genomics
