// motifs scan and motifs discover in process, on a real bundled genome with planted motifs.
#include "genomics/motifs.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "genomics/fasta_reader.hpp"
#include "pipelines/motifs_discover.hpp"
#include "pipelines/motifs_scan.hpp"
#include "store/feature_store.hpp"
#include "tests/support/test_support.hpp"

using evoscope::test::data_path;
using evoscope::test::read_file;
using evoscope::test::TempDir;
using evoscope::test::tsv_rows;
using evoscope::test::write_file;
namespace fs = std::filesystem;
namespace pl = evoscope::pipelines;
namespace g = evoscope::genomics;

namespace {

g::Motif database_motif(const std::string& id) {
    for (auto& m : g::read_motifs(data_path("motifs/jaspar_vertebrates.pfm")).motifs) {
        if (m.id == id) {
            return m;
        }
    }
    FAIL("motif " << id << " not in the bundled database");
    return {};
}

/// The best-scoring word of a motif (highest frequency per column).
std::string best_word(const g::Motif& m) {
    std::string s;
    for (const auto& row : m.probabilities()) {
        s += "ACGT"[std::max_element(row.begin(), row.end()) - row.begin()];
    }
    return s;
}

std::string lambda_prefix(std::int64_t n) {
    g::FastaReader fasta(data_path("genomes/lambda.fa"));
    return fasta.fetch(fasta.contigs()[0].name, 0, n);
}

}  // namespace

TEST_CASE("motifs scan: a planted motif is found at its exact positions and strands",
          "[unit][pipelines][motifs]") {
    TempDir tmp;
    const auto ctcf = database_motif("MA0139.1");
    const std::string word = best_word(ctcf);
    REQUIRE(word.size() == 19);
    std::string seq = lambda_prefix(30000);
    seq.replace(5000, word.size(), word);                                  // + strand
    seq.replace(17000, word.size(), evoscope::test::plain_revcomp(word));  // - strand
    write_file(tmp / "g.fa", ">planted\n" + seq + "\n");
    write_file(tmp / "m.meme", g::format_meme({ctcf, database_motif("MA0004.1")}));

    pl::MotifsScanOptions o;
    o.motifs = (tmp / "m.meme").string();
    o.fasta = (tmp / "g.fa").string();
    o.output = (tmp / "hits.tsv").string();
    const auto result = pl::run_motifs_scan(o);
    REQUIRE(result.motifs.size() == 2);
    CHECK(result.bases_scanned == 30000);
    CHECK(result.tests_per_motif[0] == 2 * (30000 - 19 + 1));

    const auto rows = tsv_rows(read_file(tmp / "hits.tsv"));
    REQUIRE(rows.size() == result.hits.size() + 1);
    CHECK(rows[0] == std::vector<std::string>{"motif_id",
                                              "motif_alt_id",
                                              "sequence_name",
                                              "start",
                                              "stop",
                                              "strand",
                                              "score",
                                              "p-value",
                                              "q-value",
                                              "matched_sequence"});
    bool plus = false;
    bool minus = false;
    for (std::size_t i = 1; i < rows.size(); ++i) {
        const auto& r = rows[i];
        REQUIRE(r.size() == 10);
        CHECK(std::stod(r[7]) <= 1e-4);
        CHECK(std::stoll(r[4]) - std::stoll(r[3]) + 1 ==
              static_cast<long long>(r[9].size()));  // 1-based inclusive
        if (r[0] == "MA0139.1" && r[3] == "5001" && r[4] == "5019" && r[5] == "+") {
            plus = true;
            CHECK(r[1] == "CTCF");
            CHECK(r[2] == "planted");
            CHECK(r[9] == word);
            CHECK(std::stod(r[7]) < 1e-9);
            CHECK(std::stod(r[8]) < 1e-4);
        }
        if (r[0] == "MA0139.1" && r[3] == "17001" && r[4] == "17019" && r[5] == "-") {
            minus = true;
            CHECK(r[9] == word);  // read on the hit's strand
        }
    }
    CHECK(plus);
    CHECK(minus);
    // The two planted sites are the two best CTCF hits.
    REQUIRE(result.hits.size() >= 2);
    CHECK(result.hits[0].motif == 0);
    CHECK(result.hits[1].motif == 0);
    CHECK((result.hits[0].begin == 5000 || result.hits[0].begin == 17000));
    // q-values are monotone in p within each motif.
    for (std::size_t i = 1; i < result.hits.size(); ++i) {
        if (result.hits[i].motif == result.hits[i - 1].motif) {
            CHECK(result.hits[i - 1].pvalue <= result.hits[i].pvalue);
            CHECK(result.hits[i - 1].qvalue <= result.hits[i].qvalue);
        }
    }

    SECTION("a region scan reports genomic coordinates and BED") {
        pl::MotifsScanOptions r = o;
        r.regions = {"planted:16,001-18,000", "planted:16500-16600"};
        r.bed = true;
        r.output = (tmp / "hits.bed").string();
        const auto res = pl::run_motifs_scan(r);
        CHECK(res.n_regions == 1);  // merged
        CHECK(res.bases_scanned == 2000);
        const auto bed = tsv_rows(read_file(tmp / "hits.bed"));
        bool found = false;
        for (const auto& b : bed) {
            REQUIRE(b.size() == 6);
            if (b[0] == "planted" && b[1] == "17000" && b[2] == "17019" && b[3] == "MA0139.1" &&
                b[5] == "-") {
                found = true;
            }
        }
        CHECK(found);
    }
    SECTION("--max-hits keeps the most significant") {
        pl::MotifsScanOptions r = o;
        r.max_hits = 1;
        r.thresh = 1e-2;
        r.output = (tmp / "few.tsv").string();
        const auto res = pl::run_motifs_scan(r);
        REQUIRE(res.hits.size() == 2);
        CHECK(res.dropped_per_motif[0] > 0);
        CHECK((res.hits[0].begin == 5000 || res.hits[0].begin == 17000));
    }
    SECTION("bad options") {
        pl::MotifsScanOptions r = o;
        r.thresh = 0;
        CHECK_THROWS_AS(pl::run_motifs_scan(r), evoscope::UsageError);
        r = o;
        r.regions = {"nope:1-10"};
        CHECK_THROWS_AS(pl::run_motifs_scan(r), evoscope::InputError);
    }
}

TEST_CASE("motifs discover: planted occurrences and synthetic activations give back the motif",
          "[unit][pipelines][motifs]") {
    TempDir tmp;
    const auto ctcf = database_motif("MA0139.1");
    const auto probs = ctcf.probabilities();
    const std::size_t w = probs.size();
    std::string seq = lambda_prefix(40000);
    std::mt19937 rng(42);
    std::uniform_real_distribution<double> unif(0.0, 1.0);

    struct Site {
        std::int64_t begin;
        char strand;
    };

    std::vector<Site> sites;
    for (std::int64_t b = 500; b + 600 < static_cast<std::int64_t>(seq.size()); b += 1000) {
        std::string occ;
        for (const auto& row : probs) {  // a draw from the motif
            double u = unif(rng);
            std::size_t k = 0;
            while (k < 3 && u > row[k]) {
                u -= row[k];
                ++k;
            }
            occ += "ACGT"[k];
        }
        const char strand = unif(rng) < 0.5 ? '+' : '-';
        if (strand == '-') {
            occ = evoscope::test::plain_revcomp(occ);
        }
        seq.replace(static_cast<std::size_t>(b), w, occ);
        sites.push_back({b, strand});
    }
    REQUIRE(sites.size() >= 30);
    write_file(tmp / "g.fa", ">planted\n" + seq + "\n");

    // Feature 1 peaks at the centre of each occurrence (+-2 bp jitter) on the occurrence's
    // strand row; feature 0 is weak noise everywhere; feature 1 also has low-level noise.
    const auto n = static_cast<std::int64_t>(seq.size());
    evoscope::sae::FeatureStoreHeader header;
    header.d_sae = 3;
    header.contigs = {{"planted", n}};
    {
        evoscope::sae::FeatureStoreWriter writer(tmp / "features", header, 4096);
        for (char strand : {'+', '-'}) {
            std::vector<float> f1(static_cast<std::size_t>(n), 0.0F);
            std::uniform_int_distribution<int> jitter(-2, 2);
            for (const auto& s : sites) {
                if (s.strand != strand) {
                    continue;
                }
                const auto centre = s.begin + static_cast<std::int64_t>(w / 2) + jitter(rng);
                for (int d = -4; d <= 4; ++d) {
                    f1[static_cast<std::size_t>(centre + d)] =
                        static_cast<float>(8.0 * std::exp(-0.3 * d * d) + unif(rng));
                }
            }
            std::vector<std::int64_t> row_ptr{0};
            std::vector<std::uint32_t> ids;
            std::vector<float> values;
            for (std::int64_t p = 0; p < n; ++p) {
                ids.push_back(0);
                values.push_back(static_cast<float>(unif(rng)));
                float v = f1[static_cast<std::size_t>(p)];
                if (v == 0.0F && unif(rng) < 0.05) {
                    v = static_cast<float>(2.0 * unif(rng));  // below half the maximum
                }
                if (v > 0.0F) {
                    ids.push_back(1);
                    values.push_back(v);
                }
                row_ptr.push_back(static_cast<std::int64_t>(ids.size()));
            }
            writer.append("planted", 0, n, strand, row_ptr, ids, values);
        }
        writer.commit();
    }
    // A small database with the planted motif among others.
    std::vector<g::Motif> db;
    for (const char* id : {"MA0004.1", "MA0006.1", "MA0139.1", "MA0138.2", "MA0009.1"}) {
        db.push_back(database_motif(id));
    }
    write_file(tmp / "db.meme", g::format_meme(db));

    pl::MotifsDiscoverOptions o;
    o.features = (tmp / "features").string();
    o.feature = 1;
    o.fasta = (tmp / "g.fa").string();
    o.motifs = (tmp / "db.meme").string();
    o.output_dir = (tmp / "out").string();
    o.width = 20;
    o.slack = 5;
    const auto result = pl::run_motifs_discover(o);
    CHECK(result.peaks.size() == sites.size());
    for (const auto& p : result.peaks) {
        CHECK(p.value > 6.0F);
    }
    // The discovered motif (either orientation) against the planted matrix: the best alignment
    // of Pearson-correlated columns covers most of the motif.
    REQUIRE(!result.matches.empty());
    const auto& best = result.matches.front();
    CHECK(db[best.target].id == "MA0139.1");
    CHECK(best.pvalue < 1e-3);
    CHECK(best.overlap >= 12);
    CHECK(best.score / best.overlap > 0.8);
    CHECK(result.motif.width() >= 12);

    for (const char* f : {"motif.meme", "logo.svg", "tomtom.tsv", "peaks.bed"}) {
        CHECK(fs::exists(tmp / "out" / f));
    }
    const auto tomtom_rows = tsv_rows(read_file(tmp / "out" / "tomtom.tsv"));
    REQUIRE(tomtom_rows.size() >= 2);
    CHECK(tomtom_rows[0][0] == "Query_ID");
    CHECK(tomtom_rows[0].size() == 10);
    CHECK(tomtom_rows[1][0] == "feature_1");
    CHECK(tomtom_rows[1][1] == "MA0139.1");
    const auto meme = g::read_motifs(tmp / "out" / "motif.meme");
    REQUIRE(meme.motifs.size() == 1);
    CHECK(meme.motifs[0].id == "feature_1");
    CHECK(meme.motifs[0].width() == result.motif.width());
    const auto svg = read_file(tmp / "out" / "logo.svg");
    CHECK(svg.find("<svg") == 0);
    CHECK(svg.find("#109648") != std::string::npos);  // A in green

    SECTION("an unknown feature is refused") {
        o.feature = 7;
        o.force = true;
        CHECK_THROWS_AS(pl::run_motifs_discover(o), evoscope::InputError);
    }
}
