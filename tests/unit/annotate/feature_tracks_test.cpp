// What `tracks` takes from annotate/: peaks of several features from one pass (the same as
// one feature at a time, plus each peak's run), align's labels, feature id lists, the best
// features per concept and the concept colours.
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "annotate/feature_labels.hpp"
#include "annotate/feature_peaks.hpp"
#include "core/error.hpp"
#include "store/feature_store.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope;
using namespace evoscope::annotate;
using evoscope::test::TempDir;
using evoscope::test::write_file;

namespace {

/// Dense values [feature][position] of one strand, written as CSR rows (zeros left out).
void append_dense(sae::FeatureStoreWriter& w,
                  const std::string& contig,
                  char strand,
                  const std::vector<std::vector<float>>& dense) {
    const std::size_t n = dense.front().size();
    std::vector<std::int64_t> row_ptr{0};
    std::vector<std::uint32_t> ids;
    std::vector<float> values;
    for (std::size_t p = 0; p < n; ++p) {
        for (std::size_t f = 0; f < dense.size(); ++f) {
            if (dense[f][p] != 0.0F) {
                ids.push_back(static_cast<std::uint32_t>(f));
                values.push_back(dense[f][p]);
            }
        }
        row_ptr.push_back(static_cast<std::int64_t>(ids.size()));
    }
    w.append(contig, 0, static_cast<std::int64_t>(n), strand, row_ptr, ids, values);
}

}  // namespace

TEST_CASE("FeaturePeakCollector: one pass gives each feature's feature_peaks, with runs",
          "[unit][annotate][tracks]") {
    TempDir tmp;
    sae::FeatureStoreHeader h;
    h.d_sae = 3;
    h.contigs = {{"c", 300}};
    std::vector<std::vector<float>> plus(3, std::vector<float>(300, 0.0F));
    std::vector<std::vector<float>> minus(3, std::vector<float>(300, 0.0F));
    // Feature 0: a bump 10..14 (max 10 at 12), a second bump on '-' at 100..102 (max 6).
    for (int p = 10; p < 15; ++p) {
        plus[0][static_cast<std::size_t>(p)] = static_cast<float>(10 - 2 * std::abs(p - 12));
    }
    minus[0][100] = 5.0F;
    minus[0][101] = 6.0F;
    minus[0][102] = 5.5F;
    // Feature 1: a plateau 190..195 at 4, across a chunk boundary (chunks of 64 positions).
    for (int p = 190; p < 196; ++p) {
        plus[1][static_cast<std::size_t>(p)] = 4.0F;
    }
    plus[1][250] = 1.0F;  // below half the maximum
    // Feature 2: never active.
    {
        sae::FeatureStoreWriter w(tmp / "s", h, 64);
        append_dense(w, "c", '+', plus);
        append_dense(w, "c", '-', minus);
        w.commit();
    }
    const sae::FeatureStore store(tmp / "s");
    const FeaturePeakOptions opt;
    FeaturePeakCollector collector(store, {1, 0, 2}, opt);
    store.scan([&](const sae::FeatureChunk& c, const sae::FeatureRows& r) { collector.add(c, r); });
    const auto all = collector.finish();
    REQUIRE(all.size() == 3);
    CHECK(all[2].empty());  // never active

    const auto f0 = feature_peaks(store, 0, opt);
    REQUIRE(all[1].size() == f0.size());
    for (std::size_t i = 0; i < f0.size(); ++i) {
        CHECK(all[1][i].position == f0[i].position);
        CHECK(all[1][i].strand == f0[i].strand);
        CHECK(all[1][i].value == f0[i].value);
    }
    REQUIRE(f0.size() == 2);
    CHECK(f0[0].position == 12);
    CHECK(f0[0].strand == '+');
    CHECK(f0[0].run_begin == 10);  // values >= 5 (half the maximum): 6, 8, 10, 8, 6
    CHECK(f0[0].run_end == 15);
    CHECK(f0[1].position == 101);
    CHECK(f0[1].strand == '-');
    CHECK(f0[1].run_begin == 100);
    CHECK(f0[1].run_end == 103);

    REQUIRE(all[0].size() == 1);  // a plateau gives its leftmost position
    CHECK(all[0][0].position == 190);
    CHECK(all[0][0].run_begin == 190);
    CHECK(all[0][0].run_end == 196);

    CHECK_THROWS_AS(FeaturePeakCollector(store, {3}, opt), InputError);
    CHECK_THROWS_AS(FeaturePeakCollector(store, {1, 1}, opt), InputError);
    CHECK_THROWS_AS(feature_peaks(store, 2, opt), InputError);
}

TEST_CASE("read_feature_labels: align's features.tsv by column name", "[unit][annotate][tracks]") {
    TempDir tmp;
    write_file(tmp / "features.tsv",
               "feature\tlabel\tconcept\tthreshold\tsense\tval_score\ttest_score\tmax\n"
               "f/0\tgene\tgene\t0\tpooled\t0.9\t0.8\t3\n"
               "f/1\t-\tCDS\t0\tpooled\t0.4\t0.2\t3\n"
               "f/2\tCDS+motif:MA0001.1\tCDS\t0\tsame\t0.7\tNA\t3\n");
    const auto labels = read_feature_labels(tmp.path());  // the folder
    REQUIRE(labels.size() == 3);
    CHECK(labels[0].id == 0);
    CHECK(labels[0].labelled());
    CHECK(labels[0].test_score == 0.8);
    CHECK_FALSE(labels[1].labelled());
    CHECK(labels[1].concept_name == "CDS");
    CHECK(labels[2].label == "CDS+motif:MA0001.1");
    CHECK(labels[2].test_score == 0.0);

    write_file(tmp / "bad.tsv",
               "feature\tlabel\n"
               "f/0\tgene\n");
    CHECK_THROWS_WITH(read_feature_labels(tmp / "bad.tsv"),
                      Catch::Contains("bad.tsv:1") && Catch::Contains("concept"));
    write_file(tmp / "bad2.tsv",
               "feature\tlabel\tconcept\tval_score\ttest_score\n"
               "x7\tgene\tgene\t1\t1\n");
    CHECK_THROWS_WITH(read_feature_labels(tmp / "bad2.tsv"), Catch::Contains("bad2.tsv:2"));
    CHECK_THROWS_AS(read_feature_labels(tmp / "missing"), IoError);
}

TEST_CASE("parse_feature_ids: ids, ranges and f/N names", "[unit][annotate][tracks]") {
    CHECK(parse_feature_ids("12,57") == std::vector<std::uint32_t>{12, 57});
    CHECK(parse_feature_ids("3-5, f/9,f10,4") == std::vector<std::uint32_t>{3, 4, 5, 9, 10});
    CHECK_THROWS_WITH(parse_feature_ids("12,x"), Catch::Contains("'x'"));
    CHECK_THROWS_AS(parse_feature_ids("5-3"), UsageError);
    CHECK_THROWS_AS(parse_feature_ids(","), UsageError);
    CHECK_THROWS_AS(parse_feature_ids("-1"), UsageError);
}

TEST_CASE("top_features_per_concept: best test score per concept, labelled only",
          "[unit][annotate][tracks]") {
    std::vector<FeatureLabel> l(6);
    for (std::uint32_t i = 0; i < 6; ++i) {
        l[i].id = i;
    }
    l[0] = {0, "gene", "gene", 0.9, 0.5};
    l[1] = {1, "gene", "gene", 0.8, 0.7};
    l[2] = {2, "gene", "gene", 0.99, 0.6};
    l[3] = {3, "CDS+motif:M", "CDS", 0.7, 0.6};
    l[4] = {4, "-", "CDS", 0.99, 0.99};  // unlabelled: never chosen
    l[5] = {5, "CDS", "CDS", 0.8, 0.6};  // ties 3 on test, wins on validation
    CHECK(top_features_per_concept(l, 2) == std::vector<std::uint32_t>{5, 3, 1, 2});
    CHECK(top_features_per_concept(l, 1) == std::vector<std::uint32_t>{5, 1});
}

TEST_CASE("concept_color: fixed colours, stable hashed ones, grey unlabelled",
          "[unit][annotate][tracks]") {
    CHECK(concept_color("gene") == std::array<int, 3>{31, 119, 180});
    CHECK(concept_color("CDS+motif:MA0001.1") == concept_color("CDS"));
    CHECK(concept_color("-") == std::array<int, 3>{160, 160, 160});
    CHECK(concept_color("motif:MA0006.1") == concept_color("motif:MA0006.1"));
    CHECK(concept_color("gene") != concept_color("CDS"));
}
