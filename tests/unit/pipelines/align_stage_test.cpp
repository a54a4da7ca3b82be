// The align stage in process on bedGraph tracks and hand-made concepts: outputs, atomic folder,
// input errors.
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "annotate/concepts.hpp"
#include "core/error.hpp"
#include "pipelines/align.hpp"
#include "store/feature_store.hpp"
#include "tests/support/test_support.hpp"

using evoscope::test::read_file;
using evoscope::test::TempDir;
using evoscope::test::tsv_rows;
using evoscope::test::write_file;
namespace fs = std::filesystem;
namespace pl = evoscope::pipelines;
namespace an = evoscope::annotate;

namespace {

/// chr1 of 4,000 bp; concept "CDS" on + at [200*i, 200*i + 80) for even i, one element each.
an::ConceptSet tiny_concepts() {
    an::ConceptSet set;
    set.contigs = {{"chr1", 4000}};
    an::Concept c;
    c.name = "CDS";
    c.category = "gene_structure";
    c.positive[0].resize(1);
    c.positive[1].resize(1);
    for (int i = 0; i < 20; i += 2) {
        const an::Span s{200 * i, 200 * i + 80};
        c.positive[0][0].push_back(s);
        c.elements.push_back({0, 0, {s}, fmt::format("g{}", i)});
    }
    set.concepts.push_back(c);
    return set;
}

}  // namespace

TEST_CASE("run_align_concepts: bedGraph tracks give the four tables and a concept per row",
          "[unit][pipelines]") {
    TempDir tmp;
    std::string exact;
    std::string other;
    for (int i = 0; i < 20; i += 2) {
        exact += fmt::format("chr1\t{}\t{}\t2.5\n", 200 * i, 200 * i + 80);
        other += fmt::format("chr1\t{}\t{}\t1\n", 200 * i + 100, 200 * i + 150);
    }
    write_file(tmp / "exact.bedGraph", "track type=bedGraph\n" + exact);
    write_file(tmp / "other.bedGraph", other);
    pl::AlignOptions o;
    o.tracks = {(tmp / "exact.bedGraph:+").string(), (tmp / "other.bedGraph").string()};
    o.output = (tmp / "out").string();
    o.split_block_bp = 500;
    o.shifts = 9;
    o.threads = 2;
    const auto run = pl::run_align_concepts(o, tiny_concepts());
    REQUIRE(run.sae.result.concepts.size() == 1);
    const auto& cr = run.sae.result.concepts[0];
    CHECK(run.sae.feature_names[static_cast<std::size_t>(cr.feature)] == "track:exact");
    CHECK(cr.test_score == Approx(1.0));
    CHECK(cr.p_value == Approx(0.1));
    for (const char* name : {"concepts.tsv", "features.tsv", "alignment.tsv.gz", "summary.json"}) {
        CHECK(fs::exists(tmp / "out" / name));
    }
    const auto rows = tsv_rows(read_file(tmp / "out" / "concepts.tsv"));
    REQUIRE(rows.size() == 2);
    CHECK(rows[0][0] == "concept");
    CHECK(rows[1][0] == "CDS");
    CHECK(rows[1][5] == "track:exact");
    const auto features = tsv_rows(read_file(tmp / "out" / "features.tsv"));
    REQUIRE(features.size() == 3);
    CHECK(features[1][1] == "CDS");
    // No leftovers beside the folder; an existing folder needs --force.
    CHECK(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()) == 3);
    CHECK_THROWS_AS(pl::run_align_concepts(o, tiny_concepts()), evoscope::InputError);
    o.force = true;
    CHECK_NOTHROW(pl::run_align_concepts(o, tiny_concepts()));
}

TEST_CASE("run_align_concepts: an unknown contig in a track is a one-line error naming it",
          "[unit][pipelines]") {
    TempDir tmp;
    write_file(tmp / "bad.bedGraph", "chr1\t0\t10\t1\nchrZ\t0\t10\t1\n");
    pl::AlignOptions o;
    o.tracks = {(tmp / "bad.bedGraph").string()};
    o.output = (tmp / "out").string();
    try {
        pl::run_align_concepts(o, tiny_concepts());
        FAIL("no error");
    } catch (const evoscope::InputError& e) {
        const std::string what = e.what();
        CHECK(what.find("unknown contig 'chrZ'") != std::string::npos);
        CHECK(what.find("bad.bedGraph:2") != std::string::npos);
        CHECK(what.find('\n') == std::string::npos);
    }
    CHECK_FALSE(fs::exists(tmp / "out"));
}

TEST_CASE(
    "run_align_concepts: a feature store whose contig lengths differ from the FASTA's is "
    "an error",
    "[unit][pipelines]") {
    TempDir tmp;
    evoscope::sae::FeatureStoreHeader h;
    h.d_sae = 4;
    h.contigs = {{"chr1", 3000}};
    {
        evoscope::sae::FeatureStoreWriter w(tmp / "store", h);
        const std::vector<std::int64_t> row_ptr{0, 1};
        const std::vector<std::uint32_t> ids{1};
        const std::vector<float> values{1.0f};
        w.append("chr1", 0, 1, '+', row_ptr, ids, values);
        w.commit();
    }
    pl::AlignOptions o;
    o.features = (tmp / "store").string();
    o.output = (tmp / "out").string();
    CHECK_THROWS_WITH(pl::run_align_concepts(o, tiny_concepts()),
                      Catch::Contains("contig 'chr1' has length 3000 but the FASTA's is 4000"));
}

TEST_CASE("run_align: FASTA, GFF3 and a bedGraph track end to end", "[unit][pipelines]") {
    TempDir tmp;
    // gene A is chrT:11-300 on +; the track covers it.
    write_file(tmp / "geneA.bedGraph", "chrT\t10\t300\t1\n");
    pl::AlignOptions o;
    // Copies: the FASTA reader indexes the FASTA beside it, and fixtures stay untouched.
    fs::copy_file(evoscope::test::fixture_path("annotation/mini.fa"), tmp / "mini.fa");
    fs::copy_file(evoscope::test::fixture_path("annotation/mini.gff3"), tmp / "mini.gff3");
    o.fasta = (tmp / "mini.fa").string();
    o.annotations = (tmp / "mini.gff3").string();
    o.tracks = {(tmp / "geneA.bedGraph:+").string()};
    o.output = (tmp / "out").string();
    o.split_block_bp = 100;
    o.shifts = 9;
    const auto run = pl::run_align(o);
    const auto rows = tsv_rows(read_file(tmp / "out" / "concepts.tsv"));
    REQUIRE(rows.size() == run.sae.result.concepts.size() + 1);
    bool saw_gene = false;
    for (const auto& row : rows) {
        if (row[0] == "gene") {
            saw_gene = true;
            CHECK(row[5] == "track:geneA");
            CHECK(row[7] == "same");
        }
    }
    CHECK(saw_gene);
}

TEST_CASE(
    "run_align_concepts: labels.tsv goes beside the SAE's cfg.json and is kept without "
    "--force",
    "[unit][pipelines]") {
    TempDir tmp;
    fs::create_directories(tmp / "sae");
    write_file(tmp / "sae" / "cfg.json", "{}\n");
    evoscope::sae::FeatureStoreHeader h;
    h.d_sae = 3;
    h.sae_path = (tmp / "sae").string();
    h.contigs = {{"chr1", 4000}};
    const auto concepts = tiny_concepts();
    {
        evoscope::sae::FeatureStoreWriter w(tmp / "store", h);
        for (char strand : {'+', '-'}) {
            std::vector<std::int64_t> row_ptr{0};
            std::vector<std::uint32_t> ids;
            std::vector<float> values;
            for (std::int64_t p = 0; p < 4000; ++p) {
                bool in = false;
                for (const auto& s : concepts.concepts[0].positive[0][0]) {
                    in = in || (s.begin <= p && p < s.end);
                }
                if (strand == '+' && in) {
                    ids.push_back(0);
                    values.push_back(2.0f);
                }
                ids.push_back(2);
                values.push_back(0.5f);
                row_ptr.push_back(static_cast<std::int64_t>(ids.size()));
            }
            w.append("chr1", 0, 4000, strand, row_ptr, ids, values);
        }
        w.commit();
    }
    pl::AlignOptions o;
    o.features = (tmp / "store").string();
    o.output = (tmp / "out").string();
    o.split_block_bp = 500;
    o.shifts = 9;
    const auto run = pl::run_align_concepts(o, concepts);
    CHECK(run.labels_path == (tmp / "sae" / "labels.tsv").string());
    const auto labels = tsv_rows(read_file(tmp / "sae" / "labels.tsv"));
    REQUIRE(labels.size() == 2);
    CHECK(labels[1][0] == "0");
    CHECK(labels[1][1] == "CDS");
    write_file(tmp / "sae" / "labels.tsv", "mine\n");
    o.output = (tmp / "out2").string();
    const auto again = pl::run_align_concepts(o, concepts);
    CHECK(again.labels_path.empty());
    CHECK(read_file(tmp / "sae" / "labels.tsv") == "mine\n");
}
