// The torch-free stages called in process, as a library user (or a future `evoscope run`) does:
// their results agree with what they wrote.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "formats/safetensors.hpp"
#include "genomics/regions.hpp"
#include "pipelines/main_job.hpp"
#include "pipelines/markov.hpp"
#include "pipelines/model_info.hpp"
#include "pipelines/windows.hpp"
#include "tests/support/test_support.hpp"

using evoscope::test::data_path;
using evoscope::test::fixture_path;
using evoscope::test::read_file;
using evoscope::test::TempDir;
using evoscope::test::tsv_rows;
namespace fs = std::filesystem;
namespace pl = evoscope::pipelines;

TEST_CASE("run_windows: the result counts the BED lines it wrote", "[unit][pipelines]") {
    TempDir tmp;
    pl::WindowsOptions o;
    o.source.fasta = fixture_path("genomics/small.fa").string();
    o.source.window_bp = 20;
    o.source.stride_bp = 10;
    o.source.strand = "both";
    o.output = (tmp / "w.bed").string();
    const auto result = pl::run_windows(o);
    const auto rows = tsv_rows(read_file(tmp / "w.bed"));
    CHECK(result.n_regions == 5);  // every contig of small.fa
    CHECK(result.n_windows == static_cast<std::int64_t>(rows.size()));
    CHECK(result.n_windows > 0);
    // ctg1 is 120 bp: starts 0, 10, ..., 100 (the window at 100 reaches the end) on each strand.
    const auto n_ctg1 =
        std::count_if(rows.begin(), rows.end(), [](const auto& r) { return r[0] == "ctg1"; });
    CHECK(n_ctg1 == 2 * 11);
    CHECK(rows[0] == std::vector<std::string>{"ctg1", "0", "20", "ctg1:1-20(+)", "0", "+"});
}

TEST_CASE("run_windows: an existing output is kept without force, and nothing is half written",
          "[unit][pipelines]") {
    TempDir tmp;
    evoscope::test::write_file(tmp / "w.bed", "keep\n");
    pl::WindowsOptions o;
    o.source.fasta = fixture_path("genomics/small.fa").string();
    o.output = (tmp / "w.bed").string();
    CHECK_THROWS_AS(pl::run_windows(o), evoscope::Error);
    CHECK(read_file(tmp / "w.bed") == "keep\n");
    o.source.regions = {"no_such_contig"};
    o.output = (tmp / "x.bed").string();
    CHECK_THROWS_AS(pl::run_windows(o), evoscope::InputError);
    CHECK_FALSE(fs::exists(tmp / "x.bed"));
}

TEST_CASE("run_markov: one row per order, order 3 beats order 0 on held-out lambda",
          "[unit][pipelines]") {
    TempDir tmp;
    pl::MarkovOptions o;
    o.fasta = {data_path("genomes/lambda.fa").string()};
    o.orders = "0,3";
    o.holdout_fraction = 0.1;
    o.output = (tmp / "m.tsv").string();
    const auto result = pl::run_markov(o);
    const auto rows = tsv_rows(read_file(tmp / "m.tsv"));
    REQUIRE(rows.size() == 3);  // header + orders 0 and 3
    CHECK(result.n_rows == 2);
    REQUIRE(rows[1][0] == "0");
    REQUIRE(rows[2][0] == "3");
    const double order0 = std::stod(rows[1].back());
    const double order3 = std::stod(rows[2].back());
    CHECK(order0 > 1.95);  // lambda is close to uniform at order 0
    CHECK(order0 < 2.01);
    CHECK(order3 < order0);  // context helps on held-out sequence
    CHECK(order3 > 1.8);
}

TEST_CASE("split_holdout: the shared --holdout-fraction rule", "[unit][pipelines]") {
    const evoscope::genomics::Interval region{"c", 100, 200, evoscope::genomics::Strand::Forward};
    const auto split = evoscope::genomics::split_holdout(region, 0.1);
    CHECK(split.train.begin == 100);
    CHECK(split.train.end == 190);
    CHECK(split.eval.begin == 190);
    CHECK(split.eval.end == 200);
    const auto odd =
        evoscope::genomics::split_holdout({"c", 0, 15, evoscope::genomics::Strand::Forward}, 0.1);
    CHECK(odd.eval.length() == 2);  // ceil(1.5)
}

TEST_CASE("run_main_job: a dry run lists the steps and writes nothing", "[unit][pipelines]") {
    TempDir tmp;
    pl::MainJobOptions o;
    o.outdir = (tmp / "demo").string();
    o.dry_run = true;
    const auto result = pl::run_main_job(o);
    std::vector<std::string> names;
    for (const auto& s : result.steps) {
        names.push_back(s.name);
        CHECK(s.status == "would run");
    }
    CHECK(names == std::vector<std::string>{"embed",
                                            "sae-train",
                                            "encode",
                                            "control-init",
                                            "control-embed",
                                            "control-sae-train",
                                            "control-encode",
                                            "align",
                                            "motifs",
                                            "tracks",
                                            "report"});
    CHECK_FALSE(fs::exists(tmp / "demo"));
    o.control = false;
    CHECK(pl::run_main_job(o).steps.size() == 7);
}

TEST_CASE("run_main_job: bad inputs are refused before anything is written", "[unit][pipelines]") {
    TempDir tmp;
    pl::MainJobOptions o;
    o.outdir = (tmp / "out").string();
    SECTION("an output folder under a file") {
        evoscope::test::write_file(tmp / "afile", "x");
        o.outdir = (tmp / "afile" / "x").string();
        CHECK_THROWS_AS(pl::run_main_job(o), evoscope::IoError);
    }
    SECTION("an output that is a file") {
        evoscope::test::write_file(tmp / "afile", "x");
        o.outdir = (tmp / "afile").string();
        CHECK_THROWS_WITH(pl::run_main_job(o),
                          Catch::Matchers::Contains("exists and is not a folder"));
    }
    SECTION("an annotation whose contigs match no FASTA contig") {
        o.fasta = data_path("genomes/athaliana_chloroplast.fa").string();
        o.annotations = data_path("genomes/ctrachomatis.gff3").string();
        CHECK_THROWS_AS(pl::run_main_job(o), evoscope::InputError);
    }
    SECTION("an SAE whose d_in does not match the layer") {
        const auto sae = tmp / "sae";
        fs::create_directories(sae);
        evoscope::test::write_file(sae / "cfg.json", R"({"d_in": 64, "hook_name": "blocks.5"})");
        o.sae = sae.string();
        CHECK_THROWS_WITH(pl::run_main_job(o), Catch::Matchers::Contains("d_in 64"));
    }
    SECTION("an SAE trained on another layer of the same width") {
        const auto sae = tmp / "sae";
        fs::create_directories(sae);
        evoscope::test::write_file(sae / "cfg.json", R"({"d_in": 128, "hook_name": "blocks.3"})");
        o.sae = sae.string();
        CHECK_THROWS_WITH(pl::run_main_job(o),
                          Catch::Matchers::Contains("trained on layer blocks.3"));
    }
    SECTION("a layer the model does not have") {
        o.layer = "blocks.8";
        CHECK_THROWS_WITH(pl::run_main_job(o), Catch::Matchers::Contains("has 8 blocks"));
    }
    CHECK_FALSE(fs::exists(tmp / "out"));
}

TEST_CASE("file_md5: the RFC 1321 test vector", "[unit][pipelines]") {
    TempDir tmp;
    evoscope::test::write_file(tmp / "abc", "abc");
    CHECK(pl::file_md5(tmp / "abc") == "900150983cd24fb0d6963f7d28e17f72");
}

TEST_CASE("run_model_info: sizes from the header, trained context from metadata or max_seqlen",
          "[unit][pipelines]") {
    TempDir tmp;
    const std::vector<float> w(12, 1.0F);
    const std::vector<std::uint16_t> b(5, 0);
    const std::vector<evoscope::SafetensorsTensor> tensors{
        {"w", "F32", {4, 3}, std::as_bytes(std::span<const float>(w))},
        {"b", "BF16", {5}, std::as_bytes(std::span<const std::uint16_t>(b))}};
    const std::string yaml =
        "model_name: \"tiny\"\nhidden_size: 32\nnum_layers: 4\nmax_seqlen: 8192\n";
    evoscope::write_safetensors(tmp / "m.safetensors",
                                tensors,
                                {{"evoscope.config", yaml}, {"evoscope.trained_context", "1025"}});
    pl::ModelInfoOptions o;
    o.model = (tmp / "m.safetensors").string();
    o.output = (tmp / "info.tsv").string();
    const auto info = pl::run_model_info(o);
    CHECK(info.model_name == "tiny");
    CHECK(info.n_tensors == 2);
    CHECK(info.n_elements == 17);
    CHECK(info.dtype_elements.at("F32") == 12);
    CHECK(info.dtype_elements.at("BF16") == 5);
    CHECK(info.hidden_size == 32);
    CHECK(info.num_layers == 4);
    CHECK(info.trained_context == 1025);
    CHECK(info.trained_context_source == "evoscope.trained_context");
    CHECK(read_file(tmp / "info.tsv").find("trained_context\t1025\n") != std::string::npos);

    // No recorded context: the config's max_seqlen (what an official checkpoint was trained at).
    evoscope::write_safetensors(tmp / "n.safetensors", tensors, {{"evoscope.config", yaml}});
    o.model = (tmp / "n.safetensors").string();
    o.output = "-";
    const auto fallback = pl::run_model_info(o);
    CHECK(fallback.trained_context == 8192);
    CHECK(fallback.trained_context_source == "config max_seqlen");

    // A malformed value names the file and the key.
    evoscope::write_safetensors(
        tmp / "bad.safetensors", tensors, {{"evoscope.trained_context", "lots"}});
    o.model = (tmp / "bad.safetensors").string();
    CHECK_THROWS_WITH(
        pl::run_model_info(o),
        Catch::Contains("bad.safetensors") && Catch::Contains("evoscope.trained_context"));
}
