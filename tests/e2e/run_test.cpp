// `evoscope run` end to end on a cut-down demo (24 kb of the bundled chloroplast, short
// windows, a small SAE, few shifts): every step runs, every output exists and is readable,
// a second run reuses every step, and a bad input leaves nothing behind.
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/test_support.hpp"

namespace fs = std::filesystem;
using evoscope::test::data_path;
using evoscope::test::read_file;
using evoscope::test::run_evoscope;
using evoscope::test::TempDir;
using evoscope::test::tsv_rows;

TEST_CASE("run: the whole chain on a cut-down demo, then a re-run reuses every step",
          "[e2e][run]") {
    TempDir tmp;
    const auto out = tmp / "demo";
    const std::vector<std::string> args = {"run",
                                           "-r",
                                           "NC_000932:1-24000",
                                           "-w",
                                           "512",
                                           "-s",
                                           "512",
                                           "--tokens",
                                           "20000",
                                           "--shifts",
                                           "5",
                                           "--top-features",
                                           "2",
                                           "-o",
                                           out.string()};
    const auto r = run_evoscope(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    for (const auto* step : {"embed",
                             "sae-train",
                             "encode",
                             "control-init",
                             "control-embed",
                             "control-sae-train",
                             "control-encode",
                             "align",
                             "motifs",
                             "tracks",
                             "report"}) {
        INFO(step);
        CHECK(r.err.find(std::string(step) + ": done in") != std::string::npos);
        CHECK(fs::exists(out / ".evoscope" / "steps" / (std::string(step) + ".json")));
    }
    CHECK(fs::exists(out / "acts" / "blocks.5" / "manifest.json"));
    CHECK(fs::exists(out / "sae" / "cfg.json"));
    CHECK(fs::exists(out / "sae" / "labels.tsv"));
    CHECK(fs::exists(out / "features" / "manifest.json"));
    CHECK(fs::exists(out / "control" / "features" / "manifest.json"));
    const auto concepts = tsv_rows(read_file(out / "align" / "concepts.tsv"));
    REQUIRE(concepts.size() > 3);
    CHECK(concepts[0][0] == "concept");
    int motifs = 0;
    for (const auto& e : fs::directory_iterator(out / "motifs")) {
        motifs += fs::exists(e.path() / "motif.meme") ? 1 : 0;
    }
    CHECK(motifs == 2);
    const auto run = nlohmann::json::parse(read_file(out / "run.json"));
    CHECK(run["settings"]["layer"] == "blocks.5");
    CHECK(run["inputs"]["fasta"]["md5"].get<std::string>().size() == 32);
    REQUIRE(run["steps"].size() == 11);
    CHECK(fs::exists(out / "report" / "index.html"));
    CHECK(fs::exists(out / "tracks" / "igv_session.xml"));
    CHECK(fs::exists(out / "tracks" / "manifest.tsv"));
    for (const auto& s : run["steps"]) {
        CHECK(s["status"] == "ran");
        CHECK(s["peak_rss_bytes"].get<std::int64_t>() > 0);
    }
    CHECK(r.err.find("peak memory") != std::string::npos);

    // The same command again: nothing recomputed.
    const auto again = run_evoscope(args);
    REQUIRE(again.exit_code == 0);
    CHECK(again.err.find(": done in") == std::string::npos);
    const auto run2 = nlohmann::json::parse(read_file(out / "run.json"));
    for (const auto& s : run2["steps"]) {
        CHECK(s["status"] == "reused");
    }

    // A changed setting redoes the steps downstream of it only.
    auto changed = args;
    changed[12] = "1";  // --top-features 1
    const auto third = run_evoscope(changed);
    REQUIRE(third.exit_code == 0);
    CHECK(third.err.find("motifs: done in") != std::string::npos);
    CHECK(third.err.find("align: done in") == std::string::npos);
}

TEST_CASE("run: a bad input is one error line and no output folder", "[e2e][run]") {
    TempDir tmp;
    const auto out = tmp / "demo";
    const auto r = run_evoscope({"run",
                                 "-f",
                                 data_path("genomes/athaliana_chloroplast.fa").string(),
                                 "-a",
                                 data_path("genomes/ctrachomatis.gff3").string(),
                                 "-o",
                                 out.string()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("[E::run]") != std::string::npos);
    CHECK_FALSE(fs::exists(out));
}
