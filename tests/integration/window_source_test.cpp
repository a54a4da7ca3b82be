// In-process: the CLI's WindowSource over the bundled genomes (regions + BED + aliases).
#include "pipelines/window_source.hpp"

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "tests/support/test_support.hpp"

using evoscope::test::data_path;
using evoscope::test::TempDir;
using evoscope::test::write_file;

TEST_CASE("WindowSource: -r regions, a BED file and aliases combine in order",
          "[integration][windows]") {
    TempDir tmp;
    write_file(tmp / "aliases.txt", "# ours  theirs\nCHLTCG ct\n");
    write_file(tmp / "regions.bed", "ct\t0\t1000\nct\t5000\t5100\n");
    evoscope::pipelines::WindowSourceOptions o;
    o.fasta = data_path("genomes/ctrachomatis.fa").string();
    o.regions = {"ct:2,001-3,000"};
    o.regions_bed = (tmp / "regions.bed").string();
    o.rename_contigs = (tmp / "aliases.txt").string();
    o.window_bp = 400;
    o.stride_bp = 400;
    const evoscope::pipelines::WindowSource source(o);
    REQUIRE(source.regions().size() == 3);
    CHECK(source.regions()[0].contig == "CHLTCG");
    CHECK(source.regions()[0].begin == 2000);
    CHECK(source.regions()[0].end == 3000);
    auto stream = source.stream();
    std::vector<std::int64_t> begins;
    while (auto w = stream.next()) {
        begins.push_back(w->interval.begin);
        CHECK(w->sequence == source.fasta().fetch("CHLTCG", w->interval.begin, w->interval.end));
    }
    CHECK((begins == std::vector<std::int64_t>{2000, 2400, 2800, 0, 400, 800, 5000}));
}

TEST_CASE("WindowSource: bad settings are rejected before any output", "[integration][windows]") {
    evoscope::pipelines::WindowSourceOptions o;
    o.fasta = data_path("genomes/lambda.fa").string();
    o.circular = {"chr1"};
    REQUIRE_THROWS_AS(evoscope::pipelines::WindowSource(o), evoscope::InputError);
}
