#include "genomics/markov.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "genomics/fasta_reader.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope::genomics;
using Catch::Matchers::Contains;

namespace {

const std::string kBases = "ACGT";

/// Independent of genomics/sequence (test support writes the complement table out).
std::string revcomp(const std::string& s) {
    return evoscope::test::plain_revcomp(s);
}

std::string random_dna(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    // Skewed, so no order is uniform.
    std::discrete_distribution<int> pick({0.4, 0.1, 0.2, 0.3});
    std::string s(n, 'A');
    for (auto& c : s) {
        c = kBases[static_cast<std::size_t>(pick(rng))];
    }
    return s;
}

/// All strings of `len` bases over ACGT.
std::vector<std::string> all_kmers(std::size_t len) {
    std::vector<std::string> out{""};
    for (std::size_t i = 0; i < len; ++i) {
        std::vector<std::string> next;
        for (const auto& p : out) {
            for (char b : kBases) {
                next.push_back(p + b);
            }
        }
        out = std::move(next);
    }
    return out;
}

const std::string& lambda_genome() {
    static const std::string seq = [] {
        const FastaReader fasta(evoscope::test::data_path("genomes/lambda.fa"));
        std::string s =
            fasta.fetch(fasta.contigs().front().name, 0, fasta.contigs().front().length);
        for (auto& c : s) {
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        return s;
    }();
    return seq;
}

/// A plain interpolated modified Kneser-Ney written from Chen & Goodman (1998) with string maps,
/// to check MarkovModel against.
struct ReferenceKn {
    int max_order = 0;
    std::map<std::string, double> count;  // every n-gram of length 1..max_order+1

    ReferenceKn(int k, const std::vector<std::string>& segments) : max_order(k) {
        for (const auto& s : segments) {
            for (std::size_t i = 0; i < s.size(); ++i) {
                for (std::size_t len = 1; len <= static_cast<std::size_t>(k) + 1 && len <= i + 1;
                     ++len) {
                    count[s.substr(i + 1 - len, len)] += 1;
                }
            }
        }
    }

    double c(const std::string& g) const {
        const auto it = count.find(g);
        return it == count.end() ? 0.0 : it->second;
    }

    /// N1+(. g)
    double cont(const std::string& g) const {
        double n = 0;
        for (char x : kBases) {
            n += c(std::string(1, x) + g) > 0 ? 1 : 0;
        }
        return n;
    }

    double value(const std::string& g, bool continuation) const {
        return continuation ? cont(g) : c(g);
    }

    std::array<double, 3> discounts(std::size_t len, bool continuation) const {
        double n[5] = {0, 0, 0, 0, 0};
        for (const auto& g : all_kmers(len)) {
            const double v = value(g, continuation);
            if (v >= 1 && v <= 4) {
                n[static_cast<int>(v)] += 1;
            }
        }
        std::array<double, 3> d{0.5, 1.0, 1.5};
        if (n[1] + 2 * n[2] <= 0) {
            return d;
        }
        const double y = n[1] / (n[1] + 2 * n[2]);
        for (int r = 1; r <= 3; ++r) {
            if (n[r] > 0) {
                const double est = r - (r + 1) * y * n[r + 1] / n[r];
                if (est > 0 && est <= r) {
                    d[static_cast<std::size_t>(r - 1)] = est;
                }
            }
        }
        return d;
    }

    double prob(const std::string& h, char w, bool continuation) const {
        const double lower = h.empty() ? 0.25 : prob(h.substr(1), w, true);
        const auto d = discounts(h.size() + 1, continuation);
        double total = 0;
        double gamma = 0;
        for (char x : kBases) {
            const double v = value(h + x, continuation);
            total += v;
            if (v > 0) {
                gamma += d[v >= 3 ? 2 : static_cast<std::size_t>(v) - 1];
            }
        }
        if (total == 0) {
            return lower;
        }
        const double v = value(h + w, continuation);
        const double own = v > 0 ? v - d[v >= 3 ? 2 : static_cast<std::size_t>(v) - 1] : 0.0;
        return (own + gamma * lower) / total;
    }
};

double score_bits(const MarkovModel& model, int order, const std::string& seq) {
    MarkovScorer scorer(model, {order});
    scorer.add(seq);
    return scorer.scores().front().bits;
}

}  // namespace

TEST_CASE("markov counts: k-mers of every order, N breaks the context, case-insensitive",
          "[genomics][markov]") {
    MarkovCounts counts(2);
    counts.add_segment("ACNGTacg", false);
    CHECK(counts.n_bases() == 7);
    CHECK(counts.n_skipped() == 1);
    CHECK(counts.count("A") == 2);
    CHECK(counts.count("C") == 2);
    CHECK(counts.count("G") == 2);
    CHECK(counts.count("T") == 1);
    CHECK(counts.count("AC") == 2);  // AC and ac
    CHECK_THROWS_AS(counts.count("CN"), evoscope::InputError);
    CHECK(counts.count("CG") == 1);  // only inside "acg", never across the N
    CHECK(counts.count("GT") == 1);
    CHECK(counts.count("TA") == 1);
    CHECK(counts.count("GTA") == 1);
    CHECK(counts.count("ACG") == 1);
    CHECK(counts.count("CGT") == 0);  // would span N (C N G T)
    // Segments do not join: "AC" then "GT" as two segments has no CG.
    MarkovCounts two(1);
    two.add_segment("AC", false);
    two.add_segment("GT", false);
    CHECK(two.count("CG") == 0);
    // Streaming pieces of one segment does join them.
    MarkovCounts streamed(1);
    streamed.add("AC");
    streamed.add("GT");
    CHECK(streamed.count("CG") == 1);
    // Reverse complement streaming: pieces of the reverse strand come last-first.
    MarkovCounts rc_pieces(3);
    rc_pieces.add("GT", true);
    rc_pieces.add("AAC", true);
    MarkovCounts rc_whole(3);
    rc_whole.add(revcomp("AACGT"));
    CHECK(rc_pieces.table(3) == rc_whole.table(3));
    CHECK(rc_pieces.table(1) == rc_whole.table(1));
}

TEST_CASE("markov add-one: hand-computed probabilities", "[genomics][markov]") {
    // "AACA", forward only. Order 0: A=3, C=1 (N = 4). Order 1: AA, AC, CA once each.
    MarkovCounts counts(2);
    counts.add_segment("AACA", false);
    const MarkovModel m(counts, MarkovSmoothing::AddOne);
    CHECK(m.probability(0, "", 'A') == Approx(4.0 / 8.0));
    CHECK(m.probability(0, "", 'C') == Approx(2.0 / 8.0));
    CHECK(m.probability(0, "", 'G') == Approx(1.0 / 8.0));
    CHECK(m.probability(1, "A", 'A') == Approx(2.0 / 6.0));
    CHECK(m.probability(1, "A", 'C') == Approx(2.0 / 6.0));
    CHECK(m.probability(1, "A", 'T') == Approx(1.0 / 6.0));
    CHECK(m.probability(1, "C", 'A') == Approx(2.0 / 5.0));
    CHECK(m.probability(1, "G", 'T') == Approx(1.0 / 4.0));  // unseen context: uniform
    CHECK(m.probability(2, "AA", 'C') == Approx(2.0 / 5.0));
    CHECK(m.probability(2, "AC", 'A') == Approx(2.0 / 5.0));
    CHECK(m.probability(2, "CA", 'A') == Approx(1.0 / 4.0));  // "CA" ends the segment
    // Lower case context and base are accepted.
    CHECK(m.probability(1, "c", 'a') == Approx(2.0 / 5.0));
}

TEST_CASE("markov Kneser-Ney: hand-computed probabilities", "[genomics][markov]") {
    // "AACA", forward only, order 1.
    // Top level (raw order-1 counts AA=AC=CA=1): n1=3, n2=0 -> Y=1, D1 = 1 - 2*1*0/3 = 1;
    //   D2, D3+ fall back (n2 = n3 = 0).
    // Continuation level 0: N1+(.A) = |{A, C}| = 2, N1+(.C) = 1, G = T = 0; n1 = n2 = 1 ->
    //   Y = 1/3, D1 = 1 - 2/3 = 1/3, D2 = 2 - 3*(1/3)*0/1 = 2.
    //   P'(w) = ((N(w) - D)+ + (D2 + D1) / 4) / 3 with D2 + D1 = 7/3:
    //   P'(A) = (0 + 7/12)/3 = 7/36, P'(C) = (2/3 + 7/12)/3 = 5/12, P'(G) = P'(T) = 7/36.
    // P(w | A): c(AA) = c(AC) = 1, gamma = 2 D1 / 2 = 1 -> P(w | A) = P'(w).
    // P(w | G): unseen context -> P'(w).
    MarkovCounts counts(1);
    counts.add_segment("AACA", false);
    const MarkovModel m(counts, MarkovSmoothing::KneserNey);
    CHECK(m.discounts(1, false).d[0] == Approx(1.0));
    CHECK(m.discounts(0, true).d[0] == Approx(1.0 / 3.0));
    CHECK(m.discounts(0, true).d[1] == Approx(2.0));
    CHECK(m.discounts(0, true).n == std::array<std::int64_t, 4>{1, 1, 0, 0});
    CHECK(m.probability(1, "A", 'A') == Approx(7.0 / 36.0));
    CHECK(m.probability(1, "A", 'C') == Approx(5.0 / 12.0));
    CHECK(m.probability(1, "A", 'T') == Approx(7.0 / 36.0));
    CHECK(m.probability(1, "G", 'C') == Approx(5.0 / 12.0));
    CHECK(m.probability(1, "C", 'A') == Approx(7.0 / 36.0));

    // Order 0 alone, counts A=3, C=1: n1 = n3 = 1 -> Y = 1, D1 = 1, D2 falls back to 1,
    // D3+ = 3 - 4*1*0/1 = 3. gamma = (D3+ + D1)/4 = 1: P(w) = (c - D)+/4 + 1/4 = 1/4 for all.
    CHECK(m.discounts(0, false).d[2] == Approx(3.0));
    for (char w : kBases) {
        CHECK(m.probability(0, "", w) == Approx(0.25));
    }
}

TEST_CASE("markov Kneser-Ney equals a reference implementation for K = 0, 1, 2",
          "[genomics][markov]") {
    // A short sequence (unseen order-2 contexts, tiny count-of-counts) and a longer one.
    const std::vector<std::vector<std::string>> trainings = {
        {random_dna(40, 1)}, {random_dna(300, 2), random_dna(120, 3)}};
    for (const auto& segments : trainings) {
        for (int k = 0; k <= 2; ++k) {
            MarkovCounts counts(k);
            for (const auto& s : segments) {
                counts.add_segment(s, false);
            }
            const MarkovModel model(counts, MarkovSmoothing::KneserNey);
            const ReferenceKn ref(k, segments);
            for (const auto& h : all_kmers(static_cast<std::size_t>(k))) {
                for (char w : kBases) {
                    CAPTURE(segments.size(), k, h, w);
                    CHECK(model.probability(k, h, w) ==
                          Approx(ref.prob(h, w, false)).epsilon(1e-12));
                }
            }
        }
    }
}

TEST_CASE("markov probabilities sum to 1 over ACGT", "[genomics][markov]") {
    const std::string part = lambda_genome().substr(0, 20000);
    MarkovCounts counts(8);
    counts.add_segment(part, true);
    std::mt19937 rng(7);
    for (const auto smoothing : {MarkovSmoothing::AddOne, MarkovSmoothing::KneserNey}) {
        const MarkovModel model(counts, smoothing);
        for (const int k : {0, 1, 3, 5, 8}) {
            for (int trial = 0; trial < 20; ++trial) {
                // Half the contexts from the genome (seen), half random (often unseen).
                std::string h;
                if (trial % 2 == 0) {
                    const auto pos =
                        std::uniform_int_distribution<std::size_t>(0, part.size() - 10)(rng);
                    h = part.substr(pos, static_cast<std::size_t>(k));
                } else {
                    h = random_dna(static_cast<std::size_t>(k), static_cast<unsigned>(rng()));
                }
                const auto p = model.distribution(k, h);
                CAPTURE(markov_smoothing_name(smoothing), k, h);
                CHECK(p[0] + p[1] + p[2] + p[3] == Approx(1.0).epsilon(1e-12));
                CHECK(*std::min_element(p.begin(), p.end()) > 0.0);
            }
        }
    }
}

TEST_CASE("markov order 0 bits per base equal the entropy of the base frequencies",
          "[genomics][markov]") {
    const std::string part = lambda_genome().substr(10000, 20000);
    // Both strands in training and in scoring: the frequencies are those of part + revcomp.
    std::map<char, double> freq;
    for (char c : part + revcomp(part)) {
        freq[c] += 1;
    }
    double entropy = 0;
    for (const auto& [base, n] : freq) {
        const double p = n / (2.0 * static_cast<double>(part.size()));
        entropy -= p * std::log2(p);
    }
    MarkovCounts counts(0);
    counts.add_segment(part, true);
    for (const auto smoothing : {MarkovSmoothing::AddOne, MarkovSmoothing::KneserNey}) {
        const MarkovModel model(counts, smoothing);
        MarkovScorer scorer(model, {0});
        scorer.add(part);
        scorer.end_segment();
        scorer.add(part, true);
        CHECK(scorer.scores()[0].n_bases == 40000);
        CHECK(scorer.scores()[0].bits_per_base() == Approx(entropy).epsilon(1e-5));
    }
    CHECK(entropy > 1.9);
}

TEST_CASE("markov: training on a sequence or its reverse complement gives the same model",
          "[genomics][markov]") {
    const std::string seq = lambda_genome().substr(5000, 8000);
    const std::string rc = revcomp(seq);
    REQUIRE(rc != seq);
    MarkovCounts a(6);
    a.add_segment(seq, true);
    MarkovCounts b(6);
    b.add_segment(rc, true);
    for (int k = 0; k <= 6; ++k) {
        CHECK(a.table(k) == b.table(k));
    }
    // Both-strand counts are strand symmetric: c(w) = c(revcomp(w)).
    CHECK(a.count("AACGT") == a.count("ACGTT"));
    CHECK(a.count("GGA") == a.count("TCC"));
    const MarkovModel ma(a, MarkovSmoothing::KneserNey);
    const MarkovModel mb(b, MarkovSmoothing::KneserNey);
    CHECK(ma.probability(6, "ACGTTA", 'G') == mb.probability(6, "ACGTTA", 'G'));
    CHECK(ma.probability(3, "TTT", 'C') == mb.probability(3, "TTT", 'C'));
}

TEST_CASE("markov: higher order lowers the training-set bits", "[genomics][markov]") {
    const std::string part = lambda_genome().substr(0, 30000);
    MarkovCounts counts(6);
    counts.add_segment(part, false);
    for (const auto smoothing : {MarkovSmoothing::AddOne, MarkovSmoothing::KneserNey}) {
        const MarkovModel model(counts, smoothing);
        MarkovScorer scorer(model, {0, 1, 2, 3, 4, 5, 6});
        scorer.add(part);
        double previous = 2.1;
        for (const auto& s : scorer.scores()) {
            CAPTURE(markov_smoothing_name(smoothing), s.order, s.bits_per_base());
            CHECK(s.bits_per_base() < previous);
            previous = s.bits_per_base();
        }
    }
}

TEST_CASE("markov scorer: the first bases of a run use shorter contexts, N is skipped",
          "[genomics][markov]") {
    MarkovCounts counts(3);
    counts.add_segment(random_dna(500, 11), true);
    const MarkovModel model(counts, MarkovSmoothing::KneserNey);
    const std::string eval = "GATTACAGG";
    // Expected from probability(): base i uses the last min(3, i) bases.
    double expected = 0;
    for (std::size_t i = 0; i < eval.size(); ++i) {
        const std::size_t a = std::min<std::size_t>(3, i);
        expected -=
            std::log2(model.probability(static_cast<int>(a), eval.substr(i - a, a), eval[i]));
    }
    MarkovScorer scorer(model, {3, 1});
    scorer.add(eval.substr(0, 4));
    scorer.add(eval.substr(4));  // streaming keeps the context
    CHECK(scorer.scores()[0].order == 3);
    CHECK(scorer.scores()[0].n_bases == 9);
    CHECK(scorer.scores()[0].bits == Approx(expected).epsilon(1e-12));

    // N (and IUPAC) bases are counted, not scored, and restart the context.
    MarkovScorer with_n(model, {3});
    with_n.add("GATTNNRACAGG");
    CHECK(with_n.scores()[0].n_bases == 9);
    CHECK(with_n.scores()[0].n_skipped == 3);
    CHECK(with_n.scores()[0].bits ==
          Approx(score_bits(model, 3, "GATT") + score_bits(model, 3, "ACAGG")).epsilon(1e-12));

    // Reverse-complement scoring equals scoring the reverse complement.
    MarkovScorer rc(model, {3});
    rc.add(eval, true);
    CHECK(rc.scores()[0].bits == Approx(score_bits(model, 3, revcomp(eval))).epsilon(1e-12));

    MarkovScorer empty(model, {2});
    empty.add("NNNN");
    CHECK(std::isnan(empty.scores()[0].bits_per_base()));
}

TEST_CASE("markov held-out bits per base on real genomes are sane", "[genomics][markov]") {
    const std::string& genome = lambda_genome();
    const std::size_t n_train = genome.size() - (genome.size() + 9) / 10;
    MarkovCounts counts(6);
    counts.add_segment(genome.substr(0, n_train), true);
    const std::string held_out = genome.substr(n_train);
    // Orders up to 5: lambda's 44 kb training part is too small for 4^6 contexts (order 6 KN
    // gives 2.05 bits, above uniform).
    for (const auto smoothing : {MarkovSmoothing::AddOne, MarkovSmoothing::KneserNey}) {
        const MarkovModel model(counts, smoothing);
        MarkovScorer scorer(model, {0, 2, 4, 5});
        scorer.add(held_out);
        for (const auto& s : scorer.scores()) {
            CAPTURE(markov_smoothing_name(smoothing), s.order, s.bits_per_base());
            CHECK(s.n_bases == static_cast<std::int64_t>(held_out.size()));
            CHECK(s.bits_per_base() > 1.5);
            CHECK(s.bits_per_base() < 2.05);
        }
    }

    const FastaReader ct(evoscope::test::data_path("genomes/ctrachomatis.fa"));
    const auto& contig = ct.contigs().front();
    MarkovCounts ct_counts(4);
    ct_counts.add_segment(ct.fetch(contig.name, 0, 200000), true);
    const MarkovModel ct_model(ct_counts, MarkovSmoothing::KneserNey);
    MarkovScorer ct_scorer(ct_model, {0, 4});
    ct_scorer.add(ct.fetch(contig.name, 900000, 950000));
    CHECK(ct_scorer.scores()[0].bits_per_base() > 1.9);
    CHECK(ct_scorer.scores()[1].bits_per_base() < ct_scorer.scores()[0].bits_per_base());
    CHECK(ct_scorer.scores()[1].bits_per_base() > 1.5);
}

TEST_CASE("markov order 12 on lambda: flat tables, valid probabilities", "[genomics][markov]") {
    // Add-one only: Kneser-Ney's continuation tables at this size are slow in debug builds.
    MarkovCounts counts(kMaxMarkovOrder);
    CHECK(counts.table(12).size() == (std::size_t{1} << 26));
    const std::string& genome = lambda_genome();
    counts.add_segment(genome, true);
    CHECK(counts.n_bases() == 2 * static_cast<std::int64_t>(genome.size()));
    CHECK(counts.count(genome.substr(100, 13)) >= 1);
    CHECK(counts.count(revcomp(genome.substr(100, 13))) >= 1);
    const MarkovModel model(counts, MarkovSmoothing::AddOne);
    const std::string h = genome.substr(200, 12);
    const auto p = model.distribution(12, h);
    CHECK(p[0] + p[1] + p[2] + p[3] == Approx(1.0).epsilon(1e-12));
    const double c_h = counts.count(h + "A") + counts.count(h + "C") + counts.count(h + "G") +
                       counts.count(h + "T");
    CHECK(model.probability(12, h, genome[212]) ==
          Approx((counts.count(genome.substr(200, 13)) + 1.0) / (c_h + 4.0)));
    MarkovScorer scorer(model, {12});
    scorer.add(genome.substr(0, 2000));
    // Training-set bits at order 12: every 13-mer was seen, mostly once: about -log2(2/5).
    CHECK(scorer.scores()[0].bits_per_base() < 1.5);
    CHECK(markov_memory_bytes(12, MarkovSmoothing::AddOne) == 4 * ((std::size_t{1} << 28) - 4) / 3);
}

TEST_CASE("markov errors name the problem", "[genomics][markov]") {
    CHECK_THROWS_WITH(MarkovCounts(13), Contains("Markov order 13 is outside 0..12"));
    CHECK_THROWS_AS(MarkovCounts(-1), evoscope::InputError);
    MarkovCounts counts(2);
    counts.add_segment("ACGTACGT", false);
    const MarkovModel model(counts, MarkovSmoothing::AddOne);
    CHECK_THROWS_WITH(model.probability(2, "A", 'C'),
                      Contains("order-2 context has 2 bases, not 1"));
    CHECK_THROWS_WITH(model.probability(1, "N", 'C'), Contains("base other than A/C/G/T"));
    CHECK_THROWS_WITH(model.probability(1, "A", 'N'), Contains("'N' is not A/C/G/T"));
    CHECK_THROWS_WITH(MarkovScorer(model, {3}), Contains("Markov order 3 is outside 0..2"));
    CHECK_THROWS_AS(MarkovScorer(model, {}), evoscope::InputError);
    CHECK_THROWS_WITH(parse_markov_smoothing("witten-bell"), Contains("add-one"));
    CHECK(parse_markov_smoothing("laplace") == MarkovSmoothing::AddOne);
    CHECK(parse_markov_smoothing("kneser-ney") == MarkovSmoothing::KneserNey);
    CHECK_THROWS_AS(model.discounts(0, false), evoscope::InputError);
    CHECK_THROWS_AS(counts.count("ACGT"), evoscope::InputError);  // order 3 > max order 2
}
