#include "genomics/motif_scan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "core/error.hpp"
#include "genomics/sequence.hpp"

namespace evoscope::genomics {

std::array<double, 4> strand_symmetric_background(const std::array<std::int64_t, 4>& counts) {
    const double at = static_cast<double>(counts[0] + counts[3]);
    const double cg = static_cast<double>(counts[1] + counts[2]);
    if (at + cg <= 0) {
        return {0.25, 0.25, 0.25, 0.25};
    }
    const double a = at / (2.0 * (at + cg));
    const double c = cg / (2.0 * (at + cg));
    return {a, c, c, a};
}

void count_bases(std::string_view seq, std::array<std::int64_t, 4>& counts) {
    for (char ch : seq) {
        const auto code = base_code(ch);
        if (code < 4) {
            ++counts[static_cast<std::size_t>(code)];
        }
    }
}

// ---------------------------------------------------------------------------- ScoreMatrix

ScoreMatrix::ScoreMatrix(const Motif& motif,
                         const std::array<double, 4>& background,
                         double pseudocount,
                         double scale)
    : background_(background), scale_(scale) {
    if (motif.width() == 0) {
        throw InputError(fmt::format("motif {} has no columns", motif.id));
    }
    if (!(scale > 0) || !(pseudocount >= 0)) {
        throw InputError("the score scale must be positive and the pseudocount non-negative");
    }
    for (double b : background) {
        if (!(b > 0)) {
            throw InputError(fmt::format(
                "background frequency {} is not positive (a sequence without one of A, C, G, T?)",
                b));
        }
    }
    if (pseudocount == 0) {
        for (const auto& row : motif.matrix) {
            for (double v : row) {
                if (v <= 0) {
                    throw InputError(fmt::format(
                        "motif {} has a zero cell: a pseudocount above 0 is needed", motif.id));
                }
            }
        }
    }
    const auto probs = motif.probabilities();
    for (std::size_t j = 0; j < motif.width(); ++j) {
        double n = motif.nsites;
        if (motif.is_counts) {
            n = std::accumulate(motif.matrix[j].begin(), motif.matrix[j].end(), 0.0);
        }
        std::array<double, 4> bits{};
        std::array<std::int32_t, 4> ints{};
        for (std::size_t b = 0; b < 4; ++b) {
            // FIMO's --motif-pseudo: f = (p n + pc b) / (n + pc).
            const double f = (probs[j][b] * n + pseudocount * background[b]) / (n + pseudocount);
            bits[b] = std::log2(f / background[b]);
            ints[b] = static_cast<std::int32_t>(std::lround(bits[b] * scale));
        }
        bits_.push_back(bits);
        int_.push_back(ints);
    }
    build_distribution();
}

void ScoreMatrix::build_distribution() {
    min_ = 0;
    max_ = 0;
    std::vector<double> dist{1.0};  // dist[i] = P(partial score = running min + i)
    for (const auto& row : int_) {
        const auto lo = *std::min_element(row.begin(), row.end());
        const auto hi = *std::max_element(row.begin(), row.end());
        std::vector<double> next(dist.size() + static_cast<std::size_t>(hi - lo), 0.0);
        for (std::size_t b = 0; b < 4; ++b) {
            const auto shift = static_cast<std::size_t>(row[b] - lo);
            const double w = background_[b];
            for (std::size_t i = 0; i < dist.size(); ++i) {
                next[i + shift] += dist[i] * w;
            }
        }
        dist = std::move(next);
        min_ += lo;
        max_ += hi;
    }
    tail_.assign(dist.size(), 0.0);
    double acc = 0.0;
    for (std::size_t i = dist.size(); i-- > 0;) {
        acc += dist[i];
        tail_[i] = std::min(acc, 1.0);
    }
}

double ScoreMatrix::pvalue(std::int32_t s) const {
    if (s <= min_) {
        return 1.0;
    }
    if (s > max_) {
        return 0.0;
    }
    return tail_[static_cast<std::size_t>(s - min_)];
}

std::int32_t ScoreMatrix::threshold(double p) const {
    // tail_ is non-increasing: the first index whose value is <= p.
    const auto it =
        std::partition_point(tail_.begin(), tail_.end(), [p](double v) { return v > p; });
    return min_ + static_cast<std::int32_t>(it - tail_.begin());
}

bool ScoreMatrix::score_word(std::string_view word, std::int32_t& int_score, double& bits) const {
    if (word.size() != width()) {
        throw InternalError("score_word: word length differs from the motif width");
    }
    int_score = 0;
    bits = 0.0;
    for (std::size_t j = 0; j < word.size(); ++j) {
        const auto c = base_code(word[j]);
        if (c > 3) {
            return false;
        }
        int_score += int_[j][c];
        bits += bits_[j][c];
    }
    return true;
}

ScoreMatrix ScoreMatrix::reverse_complement() const {
    ScoreMatrix rc;
    rc.background_ = {background_[3], background_[2], background_[1], background_[0]};
    rc.scale_ = scale_;
    for (std::size_t j = width(); j-- > 0;) {
        rc.bits_.push_back({bits_[j][3], bits_[j][2], bits_[j][1], bits_[j][0]});
        rc.int_.push_back({int_[j][3], int_[j][2], int_[j][1], int_[j][0]});
    }
    rc.build_distribution();
    return rc;
}

// ------------------------------------------------------------------------ EncodedSequence

EncodedSequence::EncodedSequence(std::string_view seq) : seq_(seq) {
    codes_.resize(seq.size());
    bad_prefix_.assign(seq.size() + 1, 0);
    for (std::size_t i = 0; i < seq.size(); ++i) {
        codes_[i] = base_code(seq[i]);
        bad_prefix_[i + 1] = bad_prefix_[i] + (codes_[i] > 3 ? 1 : 0);
    }
}

const std::vector<std::int32_t>& EncodedSequence::kmers(std::size_t k) const {
    if (k < 1 || k > 6) {
        throw InternalError("EncodedSequence::kmers: k must be 1..6");
    }
    auto& out = kmers_[k];
    if (out.size() == codes_.size()) {
        return out;
    }
    out.assign(codes_.size(), -1);
    const std::uint32_t mask = (1U << (2 * k)) - 1;
    std::uint32_t code = 0;
    std::size_t valid = 0;  // consecutive valid bases ending at i
    for (std::size_t i = 0; i < codes_.size(); ++i) {
        const auto c = codes_[i];
        if (c > 3) {
            valid = 0;
            code = 0;
            continue;
        }
        code = ((code << 2) | c) & mask;
        ++valid;
        if (valid >= k) {
            out[i + 1 - k] = static_cast<std::int32_t>(code);
        }
    }
    return out;
}

std::int64_t EncodedSequence::complete_windows(std::size_t width) const {
    std::int64_t n = 0;
    for (std::size_t i = 0; i + width <= codes_.size(); ++i) {
        n += bad_prefix_[i + width] == bad_prefix_[i] ? 1 : 0;
    }
    return n;
}

// -------------------------------------------------------------------------- MotifScanner

MotifScanner::MotifScanner(const Motif& motif,
                           const std::array<double, 4>& background,
                           double pvalue_threshold,
                           double pseudocount,
                           double scale)
    : forward_(motif, background, pseudocount, scale), reverse_(forward_.reverse_complement()) {
    if (!(pvalue_threshold > 0) || pvalue_threshold > 1) {
        throw InputError(fmt::format("p-value threshold {} is not in (0, 1]", pvalue_threshold));
    }
    // With a strand-symmetric background both distributions are the same; otherwise use the
    // stricter of the two thresholds so that every reported p-value is <= the threshold.
    threshold_ =
        std::max(forward_.threshold(pvalue_threshold), reverse_.threshold(pvalue_threshold));
    prepare(fwd_, forward_);
    prepare(rev_, reverse_);
}

void MotifScanner::prepare(Strand1& s, const ScoreMatrix& m) const {
    const auto& ints = m.integer_scores();
    const std::size_t w = m.width();
    std::vector<std::int32_t> range(w);
    for (std::size_t j = 0; j < w; ++j) {
        range[j] = *std::max_element(ints[j].begin(), ints[j].end()) -
                   *std::min_element(ints[j].begin(), ints[j].end());
    }
    s.k = std::min<std::size_t>(w, 6);
    std::int64_t best = -1;
    for (std::size_t o = 0; o + s.k <= w; ++o) {
        std::int64_t sum = 0;
        for (std::size_t j = o; j < o + s.k; ++j) {
            sum += range[j];
        }
        if (sum > best) {
            best = sum;
            s.k_off = o;
        }
    }
    s.table.assign(std::size_t{1} << (2 * s.k), 0);
    for (std::size_t code = 0; code < s.table.size(); ++code) {
        std::int32_t score = 0;
        for (std::size_t i = 0; i < s.k; ++i) {
            const auto base = (code >> (2 * (s.k - 1 - i))) & 3U;
            score += ints[s.k_off + i][base];
        }
        s.table[code] = score;
    }
    s.rest.clear();
    for (std::size_t j = 0; j < w; ++j) {
        if (j < s.k_off || j >= s.k_off + s.k) {
            s.rest.push_back(j);
        }
    }
    std::stable_sort(s.rest.begin(), s.rest.end(), [&](std::size_t a, std::size_t b) {
        return range[a] > range[b];
    });
    s.bound.assign(s.rest.size() + 1, 0);
    for (std::size_t i = s.rest.size(); i-- > 0;) {
        const auto& row = ints[s.rest[i]];
        s.bound[i] = s.bound[i + 1] + *std::max_element(row.begin(), row.end());
    }
}

namespace {

MotifHit make_hit(const ScoreMatrix& m,
                  const EncodedSequence& seq,
                  std::size_t i,
                  std::int32_t int_score,
                  bool reverse,
                  const std::string& contig,
                  std::int64_t offset,
                  std::size_t motif_index) {
    MotifHit hit;
    hit.motif = motif_index;
    hit.contig = contig;
    hit.begin = offset + static_cast<std::int64_t>(i);
    hit.end = hit.begin + static_cast<std::int64_t>(m.width());
    hit.strand = reverse ? Strand::Reverse : Strand::Forward;
    const auto& codes = seq.codes();
    double bits = 0.0;
    for (std::size_t j = 0; j < m.width(); ++j) {
        bits += m.bits()[j][codes[i + j]];
    }
    hit.score = bits;
    hit.pvalue = m.pvalue(int_score);
    hit.matched = std::string(seq.sequence().substr(i, m.width()));
    to_upper_in_place(hit.matched);
    if (reverse) {
        reverse_complement_in_place(hit.matched);
    }
    return hit;
}

}  // namespace

std::int64_t MotifScanner::scan(const EncodedSequence& seq,
                                const std::string& contig,
                                std::int64_t offset,
                                std::size_t motif_index,
                                std::vector<MotifHit>& hits) const {
    const std::size_t w = forward_.width();
    const std::size_t n = seq.codes().size();
    if (n < w) {
        return 0;
    }
    const auto& codes = seq.codes();
    const auto& kmers = seq.kmers(fwd_.k);
    const std::int32_t thr = threshold_;
    for (const Strand1* s : {&fwd_, &rev_}) {
        const bool reverse = s == &rev_;
        const ScoreMatrix& matrix = reverse ? reverse_ : forward_;
        const auto& ints = matrix.integer_scores();
        const std::int32_t* table = s->table.data();
        const std::int32_t first_cut = thr - s->bound[0];
        const std::size_t n_rest = s->rest.size();
        for (std::size_t i = 0; i + w <= n; ++i) {
            const std::int32_t code = kmers[i + s->k_off];
            if (code < 0) {
                continue;
            }
            std::int32_t score = table[code];
            if (score < first_cut) {
                continue;
            }
            bool ok = true;
            for (std::size_t r = 0; r < n_rest; ++r) {
                const auto c = codes[i + s->rest[r]];
                if (c > 3) {
                    ok = false;
                    break;
                }
                score += ints[s->rest[r]][c];
                if (score + s->bound[r + 1] < thr) {
                    ok = false;
                    break;
                }
            }
            if (ok && score >= thr) {
                hits.push_back(
                    make_hit(matrix, seq, i, score, reverse, contig, offset, motif_index));
            }
        }
    }
    return 2 * seq.complete_windows(w);
}

std::int64_t MotifScanner::scan_plain(const EncodedSequence& seq,
                                      const std::string& contig,
                                      std::int64_t offset,
                                      std::size_t motif_index,
                                      std::vector<MotifHit>& hits) const {
    const std::size_t w = forward_.width();
    const std::size_t n = seq.codes().size();
    std::int64_t tests = 0;
    if (n < w) {
        return 0;
    }
    for (const ScoreMatrix* m : {&forward_, &reverse_}) {
        for (std::size_t i = 0; i + w <= n; ++i) {
            std::int32_t score = 0;
            double bits = 0.0;
            if (!m->score_word(seq.sequence().substr(i, w), score, bits)) {
                continue;
            }
            ++tests;
            if (score >= threshold_) {
                hits.push_back(
                    make_hit(*m, seq, i, score, m == &reverse_, contig, offset, motif_index));
            }
        }
    }
    return tests;
}

void benjamini_hochberg(std::vector<MotifHit>& hits, std::int64_t n_tests) {
    if (hits.empty()) {
        return;
    }
    std::vector<std::size_t> order(hits.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return hits[a].pvalue < hits[b].pvalue;
    });
    const double m = static_cast<double>(std::max<std::int64_t>(n_tests, 1));
    double running = 1.0;
    for (std::size_t r = order.size(); r-- > 0;) {
        auto& hit = hits[order[r]];
        running = std::min(running, hit.pvalue * m / static_cast<double>(r + 1));
        hit.qvalue = running;
    }
}

}  // namespace evoscope::genomics
