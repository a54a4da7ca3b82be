/// @file
/// Order-K Markov models of DNA (K = 0..12), the baseline a DNA language model must beat.
/// `MarkovCounts` counts (k+1)-mers for every order k <= K in flat uint32 tables indexed by the
/// 2-bit packed k-mer (A=0, C=1, G=2, T=3, oldest base most significant); `MarkovModel` turns
/// them into add-one or interpolated modified Kneser-Ney probabilities (Chen & Goodman 1998);
/// `MarkovScorer` streams held-out sequence and sums -log2 P for several orders in one pass.
/// Case-insensitive; any byte other than A/C/G/T breaks the context (see MarkovCounts::add).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace evoscope::genomics {

inline constexpr int kMaxMarkovOrder = 12;

enum class MarkovSmoothing { AddOne, KneserNey };

/// "add-one" (also "laplace") or "kn" (also "kneser-ney"). @throws InputError listing them.
MarkovSmoothing parse_markov_smoothing(std::string_view text);
/// "add-one" or "kn".
std::string_view markov_smoothing_name(MarkovSmoothing smoothing);

/// Bytes of count tables for orders 0..max_order: 4 * sum_k 4^(k+1) (358 MB for 12), plus the
/// uint8 continuation tables Kneser-Ney derives (1/4 of that again for orders < max_order).
std::size_t markov_memory_bytes(int max_order, MarkovSmoothing smoothing);

/// Counts of (k+1)-mers for k = 0..max_order, from segments of training sequence.
/// Not thread safe; cheap to move, expensive to copy (tables are 4^(k+1) uint32).
class MarkovCounts {
public:
    /// @throws InputError when max_order is outside 0..kMaxMarkovOrder.
    explicit MarkovCounts(int max_order);

    int max_order() const { return max_order_; }

    /// Continues the current segment with `seq` (forward), or with the reverse complement of
    /// `seq` when `reverse_complement` (to stream a reverse strand, give the pieces from the
    /// last to the first). Each A/C/G/T (any case) adds one count to every order k whose
    /// k preceding bases are in the segment and A/C/G/T; any other byte (N, IUPAC, '-')
    /// is counted in n_skipped() and starts the context afresh, so no k-mer spans it.
    /// @throws InputError when a table entry would exceed 2^32 - 1 (more than ~4.29 G bases).
    void add(std::string_view seq, bool reverse_complement = false);

    /// Ends the current segment: the next add() starts without context.
    void end_segment() { run_ = 0; }

    /// add(seq) + end_segment(), then the same on the reverse complement when `both_strands`.
    void add_segment(std::string_view seq, bool both_strands);

    /// Count of the (order+1)-mer `kmer` (ACGT, any case; size order+1).
    std::uint32_t count(std::string_view kmer) const;
    /// The order-k table: 4^(k+1) entries, index = packed (k+1)-mer; the 4 entries of one
    /// context h are contiguous (index 4*h + base).
    const std::vector<std::uint32_t>& table(int order) const;

    /// A/C/G/T bases counted (the order-0 total).
    std::int64_t n_bases() const { return n_bases_; }

    /// Non-ACGT bytes seen.
    std::int64_t n_skipped() const { return n_skipped_; }

private:
    int max_order_ = 0;
    std::vector<std::vector<std::uint32_t>> tables_;
    std::uint32_t code_ = 0;  ///< last max_order+1 bases, 2 bits each, newest least significant
    int run_ = 0;             ///< valid bases ending at the current position, capped
    std::int64_t n_bases_ = 0;
    std::int64_t n_skipped_ = 0;
};

/// Modified Kneser-Ney discounts D1, D2, D3+ of one level (Chen & Goodman 1998, eq. 26).
struct KneserNeyDiscounts {
    std::array<double, 3> d{0.5, 1.0, 1.5};
    std::array<std::int64_t, 4> n{};  ///< count-of-counts n1..n4 they were estimated from
    bool estimated = false;           ///< false: the fallback 0.5, 1.0, 1.5 (see markov.cpp)
};

/// Conditional base probabilities of orders 0..counts.max_order().
///
/// Add-one: P(w | h) = (c(hw) + 1) / (c(h.) + 4), c(h.) = sum over the 4 bases.
/// Kneser-Ney (interpolated, modified; Chen & Goodman 1998, eqs. 17 and 26): at the top order K
///   P(w | h) = (c(hw) - D(c(hw)))+ / c(h.) + gamma(h) P'(w | h'),
///   gamma(h) = (D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.)) / c(h.),
/// h' = h without its oldest base; P' is the same formula one order lower with the
/// continuation counts N1+(.h'w) (distinct left extensions seen) in place of c, down to order 0,
/// which interpolates with the uniform 1/4. A context never seen (c(h.) = 0) passes P' through.
/// D(c) is D1, D2 or D3+ for c = 1, 2, >= 3 (0 for c = 0), estimated per order and level from
/// count-of-counts: Y = n1/(n1+2n2), D1 = 1-2Y n2/n1, D2 = 2-3Y n3/n2, D3+ = 3-4Y n4/n3.
/// All probabilities are > 0 and sum to 1 over ACGT.
/// Holds a reference to `counts`, which must outlive it. Thread safe once built.
class MarkovModel {
public:
    MarkovModel(const MarkovCounts& counts, MarkovSmoothing smoothing);

    int max_order() const { return counts_->max_order(); }

    MarkovSmoothing smoothing() const { return smoothing_; }

    /// P(base | context) under the order-`order` model, where `context` holds exactly `order`
    /// A/C/G/T bases (oldest first). @throws InputError for a bad order, context or base.
    double probability(int order, std::string_view context, char base) const;
    /// The 4 probabilities of A, C, G, T after `context` (as probability()).
    std::array<double, 4> distribution(int order, std::string_view context) const;
    /// Discounts of the raw-count level (`continuation` false) or continuation level of `order`.
    const KneserNeyDiscounts& discounts(int order, bool continuation) const;

    /// P(base | h) for the packed context h of `order` bases: the hot path of MarkovScorer.
    /// `lower` is P'(base | h') from continuation_probability(order - 1, ...) (unused for
    /// add-one; 0.25 for order 0).
    double top_probability(int order, std::uint32_t context, int base, double lower) const;
    /// P'(base | h) at the continuation level of `order` (< max_order()), `lower` as above.
    double continuation_probability(int order, std::uint32_t context, int base, double lower) const;

private:
    const MarkovCounts* counts_;
    MarkovSmoothing smoothing_;
    std::vector<const std::uint32_t*> top_;                ///< counts_->table(k).data()
    std::vector<std::vector<std::uint8_t>> continuation_;  ///< order k: N1+(.hw), k < max_order
    std::vector<KneserNeyDiscounts> top_discounts_;
    std::vector<KneserNeyDiscounts> continuation_discounts_;
};

/// Bits of one order over the sequence scored so far.
struct MarkovScore {
    int order = 0;
    std::int64_t n_bases = 0;      ///< A/C/G/T bases scored
    std::int64_t n_skipped = 0;    ///< other bytes, not scored
    double bits = 0.0;             ///< sum of -log2 P
    double bits_per_base() const;  ///< bits / n_bases (NaN when nothing was scored)
};

/// Scores sequence under several orders of one model at once. The first bases of a segment
/// (and those after a non-ACGT byte) have fewer than K preceding bases: base i (0-based within
/// the run) is scored by the order-min(K, i) model, so every A/C/G/T is scored.
/// Holds a reference to `model`. Not thread safe.
class MarkovScorer {
public:
    /// @throws InputError when an order is outside 0..model.max_order().
    MarkovScorer(const MarkovModel& model, std::vector<int> orders);
    /// Continues the current segment (same streaming rules as MarkovCounts::add).
    void add(std::string_view seq, bool reverse_complement = false);

    void end_segment() { run_ = 0; }

    /// One entry per order, in the order given to the constructor.
    const std::vector<MarkovScore>& scores() const { return scores_; }

    /// Zeroes the scores (not the context).
    void reset_scores();

private:
    void score_base(int base);

    const MarkovModel* model_;
    std::vector<MarkovScore> scores_;
    int top_order_ = 0;
    std::vector<double> lower_;  ///< continuation probabilities of the current base, per order
    std::uint32_t code_ = 0;
    int run_ = 0;
};

}  // namespace evoscope::genomics
