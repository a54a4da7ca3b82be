#include "genomics/markov.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/check.hpp"
#include "genomics/sequence.hpp"

namespace evoscope::genomics {
namespace {

/// Number of entries of the order-k table: 4^(k+1).
std::size_t table_size(int order) {
    return std::size_t{1} << (2 * (order + 1));
}

std::uint32_t mask_bases(int n_bases) {
    return n_bases >= 16 ? ~std::uint32_t{0} : (std::uint32_t{1} << (2 * n_bases)) - 1U;
}

void check_order(int order, int max_order, std::string_view what) {
    EVOSCOPE_CHECK(
        order >= 0 && order <= max_order, "{} {} is outside 0..{}", what, order, max_order);
}

/// Packs ACGT text (oldest first) into a code; InputError on any other byte.
std::uint32_t pack(std::string_view text) {
    std::uint32_t code = 0;
    for (const char c : text) {
        const int b = base_code(c);
        EVOSCOPE_CHECK(b < 4, "Markov context '{}' has a base other than A/C/G/T", text);
        code = (code << 2) | static_cast<std::uint32_t>(b);
    }
    return code;
}

/// Modified Kneser-Ney discounts from the count-of-counts of one table (Chen & Goodman 1998,
/// "An empirical study of smoothing techniques for language modeling", TR-10-98, eq. 26).
/// A discount whose formula divides by zero or falls outside (0, r] (tiny or saturated tables,
/// e.g. the order-0 counts, where n1..n4 are all 0) takes the fallback r/2 (0.5, 1.0, 1.5):
/// it keeps every probability positive and matters little there because counts are large.
template <typename T>
KneserNeyDiscounts estimate_discounts(const std::vector<T>& table) {
    KneserNeyDiscounts out;
    for (const T value : table) {
        if (value >= 1 && value <= 4) {
            ++out.n[static_cast<std::size_t>(value - 1)];
        }
    }
    const auto n1 = static_cast<double>(out.n[0]);
    const auto n2 = static_cast<double>(out.n[1]);
    const auto n3 = static_cast<double>(out.n[2]);
    const auto n4 = static_cast<double>(out.n[3]);
    if (n1 + 2 * n2 <= 0) {
        return out;
    }
    const double y = n1 / (n1 + 2 * n2);
    const std::array<double, 3> num{n2, n3, n4};
    const std::array<double, 3> den{n1, n2, n3};
    bool all = true;
    for (std::size_t r = 0; r < 3; ++r) {
        const double rr = static_cast<double>(r + 1);
        if (den[r] > 0) {
            const double d = rr - (rr + 1) * y * num[r] / den[r];
            if (d > 0 && d <= rr) {
                out.d[r] = d;
                continue;
            }
        }
        all = false;
    }
    out.estimated = all;
    return out;
}

/// The interpolated KN step shared by both levels: `c` points at the 4 counts of context h.
template <typename T>
double kn_step(const T* c, int base, const KneserNeyDiscounts& disc, double lower) {
    const double total = static_cast<double>(c[0]) + static_cast<double>(c[1]) +
                         static_cast<double>(c[2]) + static_cast<double>(c[3]);
    if (total <= 0) {
        return lower;
    }
    double gamma = 0;
    double own = 0;
    for (int w = 0; w < 4; ++w) {
        const T v = c[w];
        if (v == 0) {
            continue;
        }
        const double d = disc.d[v >= 3 ? 2 : static_cast<std::size_t>(v - 1)];
        gamma += d;
        if (w == base) {
            own = static_cast<double>(v) - d;
        }
    }
    return (own + gamma * lower) / total;
}

}  // namespace

MarkovSmoothing parse_markov_smoothing(std::string_view text) {
    if (text == "add-one" || text == "laplace") {
        return MarkovSmoothing::AddOne;
    }
    if (text == "kn" || text == "kneser-ney") {
        return MarkovSmoothing::KneserNey;
    }
    throw InputError(
        fmt::format("unknown smoothing '{}'; choose add-one (laplace) or kn (kneser-ney)", text));
}

std::string_view markov_smoothing_name(MarkovSmoothing smoothing) {
    return smoothing == MarkovSmoothing::AddOne ? "add-one" : "kn";
}

std::size_t markov_memory_bytes(int max_order, MarkovSmoothing smoothing) {
    std::size_t bytes = 0;
    for (int k = 0; k <= max_order; ++k) {
        bytes += table_size(k) * sizeof(std::uint32_t);
        if (smoothing == MarkovSmoothing::KneserNey && k < max_order) {
            bytes += table_size(k);
        }
    }
    return bytes;
}

// ---------------------------------------------------------------------------------------------
// MarkovCounts

MarkovCounts::MarkovCounts(int max_order) : max_order_(max_order) {
    check_order(max_order, kMaxMarkovOrder, "Markov order");
    tables_.reserve(static_cast<std::size_t>(max_order) + 1);
    for (int k = 0; k <= max_order; ++k) {
        tables_.emplace_back(table_size(k), 0U);
    }
}

void MarkovCounts::add(std::string_view seq, bool reverse_complement) {
    // The order-0 entries grow fastest: they bound every other entry.
    EVOSCOPE_CHECK(static_cast<std::uint64_t>(n_bases_) + seq.size() <=
                       std::numeric_limits<std::uint32_t>::max(),
                   "Markov training set too large: more than {} bases overflow the 32-bit counts",
                   std::numeric_limits<std::uint32_t>::max());
    const std::uint32_t mask_all = mask_bases(max_order_ + 1);
    const int cap = max_order_ + 1;
    std::uint32_t* tables[kMaxMarkovOrder + 1] = {};
    for (int k = 0; k <= max_order_; ++k) {
        tables[k] = tables_[static_cast<std::size_t>(k)].data();
    }
    std::uint32_t code = code_;
    int run = run_;
    std::int64_t n_bases = 0;
    const std::size_t n = seq.size();
    for (std::size_t i = 0; i < n; ++i) {
        const char ch = reverse_complement ? seq[n - 1 - i] : seq[i];
        int b = base_code(ch);
        if (b >= 4) {
            run = 0;
            ++n_skipped_;
            continue;
        }
        if (reverse_complement) {
            b = 3 - b;
        }
        code = ((code << 2) | static_cast<std::uint32_t>(b)) & mask_all;
        if (run < cap) {
            ++run;
        }
        ++n_bases;
        // Orders 0..run-1 have their whole context inside the current run.
        std::uint32_t m = 3;
        for (int k = 0; k < run; ++k) {
            ++tables[k][code & m];
            m = (m << 2) | 3U;
        }
    }
    code_ = code;
    run_ = run;
    n_bases_ += n_bases;
}

void MarkovCounts::add_segment(std::string_view seq, bool both_strands) {
    end_segment();
    add(seq);
    end_segment();
    if (both_strands) {
        add(seq, true);
        end_segment();
    }
}

std::uint32_t MarkovCounts::count(std::string_view kmer) const {
    EVOSCOPE_CHECK(!kmer.empty(), "empty k-mer");
    const int order = static_cast<int>(kmer.size()) - 1;
    check_order(order, max_order_, "k-mer order");
    return tables_[static_cast<std::size_t>(order)][pack(kmer)];
}

const std::vector<std::uint32_t>& MarkovCounts::table(int order) const {
    check_order(order, max_order_, "Markov order");
    return tables_[static_cast<std::size_t>(order)];
}

// ---------------------------------------------------------------------------------------------
// MarkovModel

MarkovModel::MarkovModel(const MarkovCounts& counts, MarkovSmoothing smoothing)
    : counts_(&counts), smoothing_(smoothing) {
    const int max_order = counts.max_order();
    for (int k = 0; k <= max_order; ++k) {
        top_.push_back(counts.table(k).data());
    }
    if (smoothing_ != MarkovSmoothing::KneserNey) {
        return;
    }
    for (int k = 0; k <= max_order; ++k) {
        top_discounts_.push_back(estimate_discounts(counts.table(k)));
    }
    // N1+(. h w) for the order-k (k+1)-mer hw = number of bases x with c(x h w) > 0, read from
    // the order-(k+1) table where x is the most significant base.
    for (int k = 0; k < max_order; ++k) {
        const std::size_t size = table_size(k);
        const auto& higher = counts.table(k + 1);
        std::vector<std::uint8_t> cont(size, 0);
        for (std::size_t x = 0; x < 4; ++x) {
            const std::uint32_t* src = higher.data() + x * size;
            for (std::size_t i = 0; i < size; ++i) {
                cont[i] = static_cast<std::uint8_t>(cont[i] + (src[i] > 0 ? 1 : 0));
            }
        }
        continuation_discounts_.push_back(estimate_discounts(cont));
        continuation_.push_back(std::move(cont));
    }
}

const KneserNeyDiscounts& MarkovModel::discounts(int order, bool continuation) const {
    EVOSCOPE_CHECK(smoothing_ == MarkovSmoothing::KneserNey, "discounts exist only for Kneser-Ney");
    check_order(order, continuation ? max_order() - 1 : max_order(), "Markov order");
    return continuation ? continuation_discounts_[static_cast<std::size_t>(order)]
                        : top_discounts_[static_cast<std::size_t>(order)];
}

double MarkovModel::top_probability(int order,
                                    std::uint32_t context,
                                    int base,
                                    double lower) const {
    const std::uint32_t* c =
        top_[static_cast<std::size_t>(order)] + (static_cast<std::size_t>(context) << 2);
    if (smoothing_ == MarkovSmoothing::AddOne) {
        const double total = static_cast<double>(c[0]) + static_cast<double>(c[1]) +
                             static_cast<double>(c[2]) + static_cast<double>(c[3]);
        return (static_cast<double>(c[base]) + 1.0) / (total + 4.0);
    }
    return kn_step(c, base, top_discounts_[static_cast<std::size_t>(order)], lower);
}

double MarkovModel::continuation_probability(int order,
                                             std::uint32_t context,
                                             int base,
                                             double lower) const {
    const std::size_t k = static_cast<std::size_t>(order);
    const std::uint8_t* c = continuation_[k].data() + (static_cast<std::size_t>(context) << 2);
    return kn_step(c, base, continuation_discounts_[k], lower);
}

double MarkovModel::probability(int order, std::string_view context, char base) const {
    check_order(order, max_order(), "Markov order");
    EVOSCOPE_CHECK(context.size() == static_cast<std::size_t>(order),
                   "an order-{} context has {} bases, not {}",
                   order,
                   order,
                   context.size());
    const int b = base_code(base);
    EVOSCOPE_CHECK(b < 4, "base '{}' is not A/C/G/T", base);
    double lower = 0.25;
    if (smoothing_ == MarkovSmoothing::KneserNey) {
        for (int k = 0; k < order; ++k) {
            lower = continuation_probability(
                k, pack(context.substr(context.size() - static_cast<std::size_t>(k))), b, lower);
        }
    }
    return top_probability(order, pack(context), b, lower);
}

std::array<double, 4> MarkovModel::distribution(int order, std::string_view context) const {
    std::array<double, 4> out{};
    constexpr std::string_view kBases = "ACGT";
    for (std::size_t b = 0; b < 4; ++b) {
        out[b] = probability(order, context, kBases[b]);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// MarkovScorer

double MarkovScore::bits_per_base() const {
    return n_bases > 0 ? bits / static_cast<double>(n_bases)
                       : std::numeric_limits<double>::quiet_NaN();
}

MarkovScorer::MarkovScorer(const MarkovModel& model, std::vector<int> orders) : model_(&model) {
    EVOSCOPE_CHECK(!orders.empty(), "no Markov orders to score");
    for (const int k : orders) {
        check_order(k, model.max_order(), "Markov order");
        scores_.push_back(MarkovScore{.order = k});
        top_order_ = std::max(top_order_, k);
    }
    lower_.assign(static_cast<std::size_t>(top_order_) + 1, 0.25);
}

void MarkovScorer::reset_scores() {
    for (auto& s : scores_) {
        s.n_bases = 0;
        s.n_skipped = 0;
        s.bits = 0;
    }
}

void MarkovScorer::score_base(int base) {
    // lower_[j] = P'(base | last j-1 bases) at the continuation level, i.e. the lower-order term
    // of an order-j top level; lower_[0] = uniform. Only orders below the longest requested
    // one and within the available context are needed.
    const int avail = std::min(run_, top_order_);
    const bool kn = model_->smoothing() == MarkovSmoothing::KneserNey;
    if (kn) {
        for (int j = 0; j < avail; ++j) {
            const std::uint32_t ctx = code_ & mask_bases(j);
            lower_[static_cast<std::size_t>(j) + 1] =
                model_->continuation_probability(j, ctx, base, lower_[static_cast<std::size_t>(j)]);
        }
    }
    for (auto& s : scores_) {
        const int a = std::min(s.order, avail);
        const double p = model_->top_probability(
            a, code_ & mask_bases(a), base, lower_[static_cast<std::size_t>(a)]);
        s.bits -= std::log2(p);
        ++s.n_bases;
    }
}

void MarkovScorer::add(std::string_view seq, bool reverse_complement) {
    const std::uint32_t mask_all = mask_bases(top_order_);
    const std::size_t n = seq.size();
    for (std::size_t i = 0; i < n; ++i) {
        const char ch = reverse_complement ? seq[n - 1 - i] : seq[i];
        int b = base_code(ch);
        if (b >= 4) {
            run_ = 0;
            for (auto& s : scores_) {
                ++s.n_skipped;
            }
            continue;
        }
        if (reverse_complement) {
            b = 3 - b;
        }
        score_base(b);
        code_ = ((code_ << 2) | static_cast<std::uint32_t>(b)) & mask_all;
        if (run_ < top_order_) {
            ++run_;
        }
    }
}

}  // namespace evoscope::genomics
