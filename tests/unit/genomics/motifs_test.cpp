#include "genomics/motifs.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/motif_discovery.hpp"
#include "genomics/motif_scan.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope::genomics;
using Catch::Matchers::Contains;
using evoscope::FormatError;

namespace {

/// Header lines counted by hand, independently of the parser.
std::size_t count_headers(const std::string& text) {
    std::size_t n = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (text[pos] == '>') {
            ++n;
        }
        const auto nl = text.find('\n', pos);
        if (nl == std::string::npos) {
            break;
        }
        pos = nl + 1;
    }
    return n;
}

Motif random_motif(std::size_t w, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> d(0, 12);
    Motif m;
    m.id = "R" + std::to_string(seed);
    m.is_counts = true;
    for (std::size_t j = 0; j < w; ++j) {
        std::array<double, 4> row{};
        for (auto& v : row) {
            v = d(rng);
        }
        row[static_cast<std::size_t>(d(rng) % 4)] += 15;  // a preferred base per column
        m.matrix.push_back(row);
    }
    m.nsites = 30;
    return m;
}

std::string word_of(std::uint32_t code, std::size_t w) {
    std::string s(w, 'A');
    for (std::size_t i = 0; i < w; ++i) {
        s[w - 1 - i] = "ACGT"[(code >> (2 * i)) & 3U];
    }
    return s;
}

}  // namespace

TEST_CASE("Motif files: the bundled JASPAR plain pfm has 205 motifs", "[genomics][motifs]") {
    const auto path = evoscope::test::data_path("motifs/jaspar_vertebrates.pfm");
    const auto file = read_motifs(path);
    CHECK(file.format == MotifFormat::Pfm);
    REQUIRE(file.motifs.size() == 205);
    CHECK(count_headers(evoscope::test::read_file(path)) == 205);
    const auto& arnt = file.motifs[0];
    CHECK(arnt.id == "MA0004.1");
    CHECK(arnt.alt == "Arnt");
    REQUIRE(arnt.width() == 6);
    CHECK(arnt.is_counts);
    // File rows: A 4 19 0 0 0 0 / C 16 0 20 0 0 0 / G 0 1 0 20 0 20 / T 0 0 0 0 20 0.
    CHECK(arnt.matrix[0] == std::array<double, 4>{4, 16, 0, 0});
    CHECK(arnt.matrix[1] == std::array<double, 4>{19, 0, 1, 0});
    CHECK(arnt.matrix[5] == std::array<double, 4>{0, 0, 20, 0});
    CHECK(arnt.nsites == 20);
    CHECK(consensus(arnt.probabilities()) == "CACGTG");
    for (const auto& m : file.motifs) {
        CHECK(m.width() >= 4);
    }
}

TEST_CASE("Motif files: the bundled bracketed JASPAR file parses, insect count checked by hand",
          "[genomics][motifs]") {
    const auto path = evoscope::test::data_path("motifs/jaspar_insecta.jaspar");
    const auto file = read_motifs(path);
    CHECK(file.format == MotifFormat::Jaspar);
    CHECK(file.motifs.size() == count_headers(evoscope::test::read_file(path)));
    CHECK(file.motifs.size() == 126);
    const auto& first = file.motifs[0];
    CHECK(first.id == "MA0010.1");
    CHECK(first.alt == "br_Z1");
    REQUIRE(first.width() == 14);
    // A [3 1 5 ...] C [1 1 2 ...] G [4 1 1 ...] T [1 6 1 ...]
    CHECK(first.matrix[0] == std::array<double, 4>{3, 1, 4, 1});
    CHECK(first.matrix[13] == std::array<double, 4>{2, 3, 2, 2});
}

TEST_CASE("Motif files: MEME format round trip", "[genomics][motifs]") {
    const auto file = read_motifs(evoscope::test::data_path("motifs/jaspar_vertebrates.pfm"));
    const std::array<double, 4> bg = {0.3, 0.2, 0.2, 0.3};
    const auto text = format_meme(file.motifs, bg);
    CHECK_THAT(text, Contains("MEME version 4"));
    CHECK_THAT(text, Contains("MOTIF MA0004.1 Arnt\nletter-probability matrix: alength= 4 w= 6"));
    const auto back = parse_motifs(text, "roundtrip.meme");
    CHECK(back.format == MotifFormat::Meme);
    REQUIRE(back.background.has_value());
    CHECK(back.background->at(0) == Approx(0.3));
    REQUIRE(back.motifs.size() == file.motifs.size());
    for (std::size_t i = 0; i < back.motifs.size(); ++i) {
        const auto& a = file.motifs[i];
        const auto& b = back.motifs[i];
        CHECK(a.id == b.id);
        CHECK(a.alt == b.alt);
        CHECK(a.nsites == b.nsites);
        CHECK_FALSE(b.is_counts);
        const auto pa = a.probabilities();
        const auto pb = b.probabilities();
        REQUIRE(pa.size() == pb.size());
        for (std::size_t j = 0; j < pa.size(); ++j) {
            for (std::size_t k = 0; k < 4; ++k) {
                CHECK(std::abs(pa[j][k] - pb[j][k]) < 5e-6);  // 6 decimals, renormalised
            }
        }
    }
    CHECK(file.motifs[119].alt == "JUN (var.2)");
    CHECK(back.motifs[119].alt.find(' ') != std::string::npos);  // "JUN (var.2)" survives
}

TEST_CASE("Motif files: MEME without optional sections and w=", "[genomics][motifs]") {
    const std::string text =
        "MEME version 5\n\nMOTIF m1\nletter-probability matrix: alength= 4\n"
        "0.1 0.2 0.3 0.4\n 1 0 0 0\n\nURL http://example.org\nMOTIF m2 alt2\n"
        "letter-probability matrix: alength= 4 w= 1 nsites= 7 E= 1e-3\n0.25 0.25 0.25 0.25\n";
    const auto f = parse_motifs(text, "x.meme");
    REQUIRE(f.motifs.size() == 2);
    CHECK(f.motifs[0].width() == 2);
    CHECK(f.motifs[0].nsites == 20);
    CHECK(f.motifs[1].alt == "alt2");
    CHECK(f.motifs[1].nsites == 7);
    CHECK_FALSE(f.background.has_value());
}

TEST_CASE("Motif files: bad files are rejected with their line numbers", "[genomics][motifs]") {
    using Case = std::pair<std::string, std::string>;
    const auto [text, expected] = GENERATE(table<std::string, std::string>({
        Case{"hello\n", "bad.txt:1: not a motif file"},
        Case{"\n>M1 x\n1 2\n3 4\n5 6\n", "bad.txt:5: motif M1 has 3 rows"},
        Case{">M1 x\nA [1 2]\nC [3 4]\nG [5 6]\nT [7]\n", "bad.txt:5: row T of motif M1 has 1"},
        Case{">M1 x\nA [1 2]\nG [3 4]\n", "bad.txt:3: expected the row of C"},
        Case{">M1\n1 2\n3 x\n5 6\n7 8\n", "bad.txt:3: invalid count 'x'"},
        Case{">M1\n1 -2\n3 4\n5 6\n7 8\n", "bad.txt:2: negative count"},
        Case{">M1\nA [1 2\nC [3 4]\nG [5 6]\nT [7 8]\n", "bad.txt:2: unbalanced"},
        Case{"MEME version 4\nALPHABET= ACGU\n", "bad.txt:2: only the DNA alphabet"},
        Case{"MEME version 4\n\nMOTIF a\nletter-probability matrix: alength= 4 w= 3\n"
             "0.25 0.25 0.25 0.25\n0.5 0.5 0 0\n",
             "bad.txt:6: motif a: expected 3 matrix rows, found 2"},
        Case{"MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 1\n0.9 0.9 0 0\n",
             "bad.txt:4: matrix row sums to 1.8"},
        Case{"MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 1\n0.5 0.5 0\n",
             "bad.txt:4: a matrix row needs 4 numbers"},
        Case{"MEME version 4\n\n", "bad.txt: no motif found"},
        // Found by fuzz_motifs: w= beyond any integer was converted (UBSan).
        Case{"MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 1e41\n",
             "bad.txt:3: invalid w= '1e41' (1 to 100000)"},
    }));
    CAPTURE(text);
    CHECK_THROWS_WITH(parse_motifs(text, "bad.txt"), Contains(expected));
    CHECK_THROWS_AS(parse_motifs(text, "bad.txt"), FormatError);
}

TEST_CASE("Motif scan: p-values equal exhaustive enumeration of all 4^W words",
          "[genomics][motifs][pvalue]") {
    // A skewed background, strand-symmetric (as scanning uses) and one that is not.
    const std::array<double, 4> bg = GENERATE(std::array<double, 4>{0.32, 0.18, 0.18, 0.32},
                                              std::array<double, 4>{0.4, 0.1, 0.2, 0.3});
    const std::size_t w = GENERATE(std::size_t{4}, std::size_t{6}, std::size_t{8});
    const auto motif = random_motif(w, static_cast<unsigned>(w * 7 + 1));
    const ScoreMatrix m(motif, bg);
    const std::uint32_t n_words = 1U << (2 * w);
    std::map<std::int32_t, double> mass;             // integer score -> probability
    std::vector<std::pair<double, double>> by_bits;  // (real score, probability)
    std::vector<std::int32_t> int_of(n_words);
    by_bits.reserve(n_words);
    for (std::uint32_t code = 0; code < n_words; ++code) {
        const auto word = word_of(code, w);
        std::int32_t s = 0;
        double bits = 0;
        REQUIRE(m.score_word(word, s, bits));
        double p = 1.0;
        for (char c : word) {
            p *= bg[static_cast<std::size_t>(std::string("ACGT").find(c))];
        }
        mass[s] += p;
        by_bits.emplace_back(bits, p);
        int_of[code] = s;
    }
    // Exact for the integer matrix: P(S >= s) summed from the top.
    double tail = 0.0;
    for (auto it = mass.rbegin(); it != mass.rend(); ++it) {
        tail += it->second;
        CHECK(m.pvalue(it->first) == Approx(tail).epsilon(1e-9).margin(1e-15));
    }
    CHECK(m.pvalue(m.max_score() + 1) == 0.0);
    CHECK(m.pvalue(m.min_score()) == Approx(1.0));
    // The real-valued p-value of each word lies within the rounding bound: a word's integer
    // score differs from scale * bits by at most W/2, so between two words by at most W.
    std::sort(by_bits.begin(), by_bits.end());
    std::vector<double> real_tail(by_bits.size() + 1, 0.0);
    for (std::size_t i = by_bits.size(); i-- > 0;) {
        real_tail[i] = real_tail[i + 1] + by_bits[i].second;
    }
    const auto wi = static_cast<std::int32_t>(w);
    for (std::uint32_t code = 0; code < n_words; code += 37) {
        std::int32_t s = 0;
        double bits = 0;
        m.score_word(word_of(code, w), s, bits);
        CHECK(std::abs(s - bits * m.scale()) <= w / 2.0 + 1e-9);
        // P(real score >= bits): first index with score >= bits (ties included).
        const auto it =
            std::lower_bound(by_bits.begin(), by_bits.end(), std::make_pair(bits - 1e-12, -1.0));
        const double p_real = real_tail[static_cast<std::size_t>(it - by_bits.begin())];
        CHECK(p_real <= m.pvalue(s - wi) * (1 + 1e-9) + 1e-15);
        CHECK(p_real >= m.pvalue(s + wi) * (1 - 1e-9) - 1e-15);
    }
    // Thresholds invert p-values.
    for (double p : {1e-1, 1e-2, 1e-3, 1e-4}) {
        const auto t = m.threshold(p);
        CHECK(m.pvalue(t) <= p);
        if (t > m.min_score()) {
            CHECK(m.pvalue(t - 1) > p);
        }
    }
}

TEST_CASE("Motif scan: the reverse-complement matrix scores the reverse complement",
          "[genomics][motifs]") {
    const auto motif = random_motif(7, 3);
    const ScoreMatrix m(motif, strand_symmetric_background({30, 20, 20, 30}));
    const auto rc = m.reverse_complement();
    const std::string word = "ACGTTGA";
    std::int32_t s1 = 0, s2 = 0;
    double b1 = 0, b2 = 0;
    m.score_word(word, s1, b1);
    rc.score_word(evoscope::test::plain_revcomp(word), s2, b2);
    CHECK(s1 == s2);
    CHECK(b1 == Approx(b2));
    for (std::int32_t s = m.min_score(); s <= m.max_score(); s += 17) {
        CHECK(m.pvalue(s) == Approx(rc.pvalue(s)).margin(1e-15));
    }
}

TEST_CASE("Motif scan: strand-symmetric background and pseudocounts", "[genomics][motifs]") {
    std::array<std::int64_t, 4> counts{};
    count_bases("AAAcgTTNN", counts);
    CHECK(counts == std::array<std::int64_t, 4>{3, 1, 1, 2});
    const auto bg = strand_symmetric_background(counts);
    CHECK(bg[0] == Approx(5.0 / 14));
    CHECK(bg[1] == Approx(2.0 / 14));
    CHECK(bg[2] == bg[1]);
    CHECK(bg[3] == bg[0]);
    // A zero count gets FIMO's pseudocount: f = (0 + 0.1 b) / (n + 0.1).
    Motif m;
    m.id = "z";
    m.is_counts = true;
    m.matrix = {{10, 0, 0, 0}};
    const ScoreMatrix sm(m, {0.25, 0.25, 0.25, 0.25});
    CHECK(sm.bits()[0][1] == Approx(std::log2((0.1 * 0.25 / 10.1) / 0.25)));
    CHECK(sm.bits()[0][0] == Approx(std::log2((10 + 0.025) / 10.1 / 0.25)));
}

TEST_CASE("Motif scan: filtered scan equals the plain scan, q-values are monotone in p",
          "[genomics][motifs]") {
    evoscope::genomics::FastaReader fasta(evoscope::test::data_path("genomes/lambda.fa"));
    const auto seq = fasta.fetch(fasta.contigs()[0].name, 0, 20000);
    std::array<std::int64_t, 4> counts{};
    count_bases(seq, counts);
    const auto bg = strand_symmetric_background(counts);
    const auto file = read_motifs(evoscope::test::data_path("motifs/jaspar_vertebrates.pfm"));
    const EncodedSequence enc(seq);
    std::size_t total = 0;
    // Scanners live in a vector that reallocates as it grows (they must survive moves).
    std::vector<MotifScanner> scanners;
    for (std::size_t i = 0; i < file.motifs.size(); i += 9) {
        scanners.emplace_back(file.motifs[i], bg, 1e-3);
    }
    for (std::size_t i = 0; i < file.motifs.size(); i += 9) {
        const MotifScanner& scanner = scanners[i / 9];
        std::vector<MotifHit> fast, plain;
        const auto n1 = scanner.scan(enc, "x", 100, i, fast);
        const auto n2 = scanner.scan_plain(enc, "x", 100, i, plain);
        CHECK(n1 == n2);
        REQUIRE(fast.size() == plain.size());
        auto key = [](const MotifHit& h) {
            return std::make_tuple(h.strand, h.begin);
        };
        std::sort(fast.begin(), fast.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
        std::sort(plain.begin(), plain.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
        for (std::size_t k = 0; k < fast.size(); ++k) {
            CHECK(fast[k].begin == plain[k].begin);
            CHECK(fast[k].pvalue == plain[k].pvalue);
            CHECK(fast[k].matched == plain[k].matched);
            CHECK(fast[k].pvalue <= 1e-3);
        }
        benjamini_hochberg(fast, n1);
        std::sort(fast.begin(), fast.end(), [](auto& a, auto& b) { return a.pvalue < b.pvalue; });
        for (std::size_t k = 1; k < fast.size(); ++k) {
            CHECK(fast[k - 1].qvalue <= fast[k].qvalue);
            CHECK(fast[k].qvalue >= fast[k].pvalue);
            CHECK(fast[k].qvalue <= 1.0);
        }
        total += fast.size();
    }
    CHECK(total > 20);
}

TEST_CASE("Motif discovery: Tomtom finds a motif itself, in both orientations",
          "[genomics][motifs][tomtom]") {
    const auto db = read_motifs(evoscope::test::data_path("motifs/jaspar_vertebrates.pfm")).motifs;
    const auto& ctcf =
        *std::find_if(db.begin(), db.end(), [](const Motif& m) { return m.id == "MA0139.1"; });
    const auto same = tomtom(ctcf, db);
    REQUIRE(same.size() == db.size());
    CHECK(db[same[0].target].id == "MA0139.1");
    CHECK(same[0].offset == 0);
    CHECK_FALSE(same[0].reverse);
    CHECK(same[0].overlap == 19);
    CHECK(same[0].pvalue < 1e-10);
    CHECK(same[0].evalue == Approx(same[0].pvalue * 205));
    for (std::size_t i = 1; i < same.size(); ++i) {
        CHECK(same[i - 1].pvalue <= same[i].pvalue);
        CHECK(same[i - 1].qvalue <= same[i].qvalue);
    }
    // A trimmed reverse complement: found on the '-' orientation at the right offset.
    auto part = reverse_complement(ctcf);
    part.matrix.erase(part.matrix.begin(), part.matrix.begin() + 3);  // rc columns 3..18
    const auto rc = tomtom(part, db);
    CHECK(db[rc[0].target].id == "MA0139.1");
    CHECK(rc[0].reverse);
    CHECK(rc[0].offset == 3);
    CHECK(rc[0].overlap == 16);
    const auto line = tomtom_tsv_line(part, db, rc[0]);
    CHECK_THAT(line, Contains("\tMA0139.1\t3\t"));
    CHECK(line.back() == '\n');
    CHECK(line[line.size() - 2] == '-');
}

TEST_CASE("Motif discovery: OOPS EM realigns shifted occurrences, trimming by information",
          "[genomics][motifs][em]") {
    const std::string word = "TGACTCAGGT";  // not a palindrome
    std::mt19937 rng(5);
    std::uniform_int_distribution<int> base(0, 3);
    std::uniform_int_distribution<int> shift(0, 10);
    std::vector<std::string> seqlets;
    std::vector<std::size_t> planted_at;
    for (int s = 0; s < 40; ++s) {
        std::string x(20, 'A');
        for (auto& c : x) {
            c = "ACGT"[base(rng)];
        }
        const auto at = static_cast<std::size_t>(shift(rng));
        x.replace(at, word.size(), word);
        if (s % 3 == 0) {
            x = evoscope::test::plain_revcomp(x);  // the occurrence is on the other strand
        }
        seqlets.push_back(x);
        planted_at.push_back(s % 3 == 0 ? 20 - word.size() - at : at);
    }
    // Start from the first 10 columns (misaligned); EM recovers the planted word.
    std::vector<std::string> starts;
    for (const auto& s : seqlets) {
        starts.push_back(s.substr(0, 10));
    }
    const auto start = count_matrix(starts, "m");
    OopsOptions o;
    o.width = 10;
    const auto r = refine_oops(seqlets, start, {0.25, 0.25, 0.25, 0.25}, o);
    std::string cons = consensus(r.motif.probabilities());
    for (auto& c : cons) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    CAPTURE(cons, r.iterations);
    REQUIRE((cons == word || cons == evoscope::test::plain_revcomp(word)));
    const bool flipped = cons != word;
    for (std::size_t s = 0; s < seqlets.size(); ++s) {
        CHECK(r.offsets[s] == planted_at[s]);
        CHECK(r.reverse[s] == ((s % 3 == 0) != flipped));
    }

    Motif flanked;
    flanked.id = "f";
    flanked.matrix = {{0.25, 0.25, 0.25, 0.25},
                      {0.9, 0.05, 0.03, 0.02},
                      {0.3, 0.3, 0.2, 0.2},
                      {0.02, 0.03, 0.05, 0.9},
                      {0.25, 0.25, 0.25, 0.25}};
    const auto ic = information_content(flanked);
    CHECK(ic[0] == Approx(0.0).margin(1e-12));
    const auto trimmed = trim_motif(flanked, 0.3);
    REQUIRE(trimmed.width() == 3);  // the weak middle column stays (inside the motif)
    CHECK(trimmed.matrix[0][0] == 0.9);
    const auto svg = logo_svg(trimmed);
    CHECK(svg.rfind("</svg>\n") == svg.size() - 7);
    CHECK_THAT(svg, Contains("fill=\"#D62839\">T</text>"));
}
