// `evoscope model train` end to end on the tiny every-block-type model and phage lambda:
// held-out loss goes down, checkpoints resume bit-identically, bad inputs fail clearly.
#include <cmath>
#include <sstream>

#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

namespace fs = std::filesystem;
using evoscope::test::data_path;
using evoscope::test::fixture_path;
using evoscope::test::read_file;
using evoscope::test::run_evoscope;
using evoscope::test::TempDir;
using evoscope::test::tsv_rows;

namespace {

const std::string kContig = "NC_001416.1";  // phage lambda, 48,502 bp

std::vector<std::string> train_args(const fs::path& out, const std::string& steps = "40") {
    return {"model",
            "train",
            "--config",
            fixture_path("model/tiny-sdh.yml").string(),
            "-f",
            data_path("genomes/lambda.fa").string(),
            "--holdout",
            kContig + ":44,001-48,502",
            "-w",
            "64",
            "-b",
            "4",
            "--steps",
            steps,
            "--warmup",
            "5",
            "--lr",
            "3e-3",
            "--eval-every",
            "10",
            "--checkpoint-every",
            "20",
            "--seed",
            "3",
            "-t",
            "1",
            "-o",
            out.string()};
}

}  // namespace

TEST_CASE("model train: lowers held-out loss, checkpoints, and resumes bit-identically",
          "[e2e][model][train]") {
    TempDir tmp;
    const auto full = tmp / "full";
    const auto r = run_evoscope(train_args(full));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    for (const auto* f : {"model.safetensors",
                          "train_log.tsv",
                          "loss.svg",
                          "checkpoints/step-20/model.safetensors",
                          "checkpoints/step-20/optimizer.safetensors",
                          "checkpoints/step-20/state.json",
                          "checkpoints/step-40/state.json"}) {
        CHECK(fs::exists(full / f));
    }
    CHECK(r.err.find("tok/s") != std::string::npos);
    CHECK(r.err.find("ETA") != std::string::npos);

    const auto rows = tsv_rows(read_file(full / "train_log.tsv"));
    REQUIRE(rows.size() == 42);  // header, step 0, steps 1..40
    CHECK(rows[0] ==
          std::vector<std::string>{
              "step", "tokens", "train_loss", "heldout_loss", "heldout_bits_per_base", "lr"});
    CHECK(rows[1][0] == "0");
    CHECK(rows[41][0] == "40");
    CHECK(rows[41][1] == std::to_string(40 * 4 * 64));
    const double initial = std::stod(rows[1][3]);
    const double final_loss = std::stod(rows[41][3]);
    CHECK(rows[11][3] != "NA");  // step 10 evaluated
    CHECK(rows[12][3] == "NA");
    CHECK(std::stod(rows[41][4]) == Approx(final_loss / std::log(2.0)).epsilon(1e-5));
    CHECK(final_loss < initial - 1.0);  // observed: 6.07 -> 2.3 nats
    CHECK(read_file(full / "loss.svg").find("<polyline") != std::string::npos);

    SECTION("the trained model scores the held-out region with the logged loss") {
        const auto s = run_evoscope({"model",
                                     "score",
                                     "-m",
                                     (full / "model.safetensors").string(),
                                     "-f",
                                     data_path("genomes/lambda.fa").string(),
                                     "-r",
                                     kContig + ":44,001-44,065"});
        INFO(s.err);
        CHECK(s.exit_code == 0);
        CHECK(s.err.find("mean loss") != std::string::npos);
    }

    SECTION("stop after 20 steps, then --resume: identical weights, optimizer state and log") {
        const auto part = tmp / "part";
        auto args = train_args(part);
        args.insert(args.end(), {"--stop-after", "20"});
        const auto a = run_evoscope(args);
        INFO(a.err);
        REQUIRE(a.exit_code == 0);
        CHECK_FALSE(fs::exists(part / "model.safetensors"));
        CHECK(fs::exists(part / "checkpoints/step-20/state.json"));
        CHECK(read_file(part / "checkpoints/step-20/optimizer.safetensors") ==
              read_file(full / "checkpoints/step-20/optimizer.safetensors"));
        const auto b = run_evoscope({"model", "train", "--resume", part.string(), "-t", "1"});
        INFO(b.err);
        REQUIRE(b.exit_code == 0);
        CHECK(read_file(part / "model.safetensors") == read_file(full / "model.safetensors"));
        CHECK(read_file(part / "checkpoints/step-40/optimizer.safetensors") ==
              read_file(full / "checkpoints/step-40/optimizer.safetensors"));
        CHECK(read_file(part / "train_log.tsv") == read_file(full / "train_log.tsv"));
        // Resume takes its settings from the checkpoint: other options are usage errors.
        const auto c = run_evoscope({"model", "train", "--resume", part.string(), "--lr", "1"});
        CHECK(c.exit_code == 2);
    }
}

TEST_CASE("model train: bad inputs give clear errors", "[e2e][model][train]") {
    TempDir tmp;
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> args = {"model",
                                         "train",
                                         "--config",
                                         fixture_path("model/tiny-sdh.yml").string(),
                                         "-f",
                                         data_path("genomes/lambda.fa").string(),
                                         "--steps",
                                         "2",
                                         "-t",
                                         "1",
                                         "-o",
                                         (tmp / "out").string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_evoscope(args);
    };
    SECTION("no sequence left after removing the holdout") {
        const auto r = with({"--holdout", kContig});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("no training sequence is left") != std::string::npos);
    }
    SECTION("window longer than every contig") {
        const auto r = with({"-w", "60000"});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("--window 60000") != std::string::npos);
        CHECK(r.err.find("48502") != std::string::npos);
    }
    SECTION("window longer than every training piece left by the holdout") {
        const auto r = with({"-w", "30000", "--holdout", kContig + ":20,001-21,000"});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("after removing the held-out regions") != std::string::npos);
    }
    SECTION("holdout outside the genome") {
        const auto r = with({"--holdout", kContig + ":48,000-50,000"});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("--holdout") != std::string::npos);
        CHECK(r.err.find("48502") != std::string::npos);
        const auto bed = tmp / "h.bed";
        evoscope::test::write_file(bed, kContig + "\t100\t60000\n");
        const auto b = with({"--holdout", bed.string()});
        CHECK(b.exit_code == 1);
        CHECK(b.err.find("beyond the end") != std::string::npos);
        const auto u = with({"--holdout", "chrZ:1-10"});
        CHECK(u.exit_code == 1);
        CHECK(u.err.find("unknown contig 'chrZ'") != std::string::npos);
    }
    SECTION("one --genome-weights value per FASTA") {
        const auto r = with({"--genome-weights", "1,2"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("--genome-weights has 2 value(s) but there are 1 -f/--fasta") !=
              std::string::npos);
        const auto z = with({"--genome-weights", "0"});
        CHECK(z.exit_code == 1);
        CHECK(z.err.find("every sampling weight is 0") != std::string::npos);
    }
    SECTION("resume without a checkpoint, and no model source") {
        const auto r = run_evoscope({"model", "train", "--resume", (tmp / "nothing").string()});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("no checkpoint found") != std::string::npos);
        const auto n = run_evoscope({"model",
                                     "train",
                                     "-f",
                                     data_path("genomes/lambda.fa").string(),
                                     "-o",
                                     (tmp / "o2").string()});
        CHECK(n.exit_code == 2);
    }
    CHECK_FALSE(fs::exists(tmp / "out" / "model.safetensors"));
}

TEST_CASE("model train: --genome-weights sets each FASTA's share and survives --resume",
          "[e2e][model][train]") {
    TempDir tmp;
    auto args = [&](const fs::path& out, const std::string& stop_after) {
        std::vector<std::string> a = {"model",
                                      "train",
                                      "--config",
                                      fixture_path("model/tiny-sdh.yml").string(),
                                      "-f",
                                      data_path("genomes/lambda.fa").string(),
                                      "-f",
                                      data_path("genomes/athaliana_chloroplast.fa").string(),
                                      "--genome-weights",
                                      "3,1",
                                      "--holdout-fraction",
                                      "0.1",
                                      "-w",
                                      "64",
                                      "-b",
                                      "2",
                                      "--steps",
                                      "4",
                                      "--warmup",
                                      "1",
                                      "--eval-every",
                                      "4",
                                      "--checkpoint-every",
                                      "2",
                                      "--seed",
                                      "5",
                                      "-t",
                                      "1",
                                      "-o",
                                      out.string()};
        if (!stop_after.empty()) {
            a.push_back("--stop-after");
            a.push_back(stop_after);
        }
        return a;
    };
    const auto full = run_evoscope(args(tmp / "full", ""));
    INFO(full.err);
    REQUIRE(full.exit_code == 0);
    // lambda has 24% of the training bases of the two genomes but gets 75% of the windows.
    CHECK(full.err.find("lambda.fa: 75.0% of the windows (43651 training bp)") !=
          std::string::npos);
    CHECK(full.err.find("athaliana_chloroplast.fa: 25.0% of the windows (139030 training bp)") !=
          std::string::npos);
    const auto heldout = tsv_rows(read_file(tmp / "full" / "heldout.tsv"));
    REQUIRE(heldout.size() == 3);  // header and one row per genome
    // Interrupted after step 2 and resumed: the weights travel in state.json, so the data order and
    // therefore the weights are the same.
    REQUIRE(run_evoscope(args(tmp / "part", "2")).exit_code == 0);
    const auto resumed =
        run_evoscope({"model", "train", "--resume", (tmp / "part").string(), "-t", "1"});
    INFO(resumed.err);
    REQUIRE(resumed.exit_code == 0);
    CHECK(resumed.err.find("lambda.fa: 75.0% of the windows") != std::string::npos);
    CHECK(read_file(tmp / "part" / "model.safetensors") ==
          read_file(tmp / "full" / "model.safetensors"));
}
