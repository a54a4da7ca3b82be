// `evoscope markov` end to end: TSV layout, holdout rounding, explicit sets, several FASTA files,
// and the exit codes of input and usage errors.
#include <cstdlib>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

using evoscope::test::data_path;
using evoscope::test::read_file;
using evoscope::test::run_evoscope;
using evoscope::test::TempDir;
using evoscope::test::tsv_rows;
using evoscope::test::write_file;

namespace {

const std::string kLambdaContig = "NC_001416.1";
const std::vector<std::string> kHeader = {
    "order", "smoothing", "train", "eval", "n_bases", "n_skipped", "bits_per_base"};

std::string lambda() {
    return data_path("genomes/lambda.fa").string();
}

}  // namespace

TEST_CASE("markov: holdout TSV on lambda, both smoothings", "[e2e][markov]") {
    const auto r = run_evoscope({"markov",
                                 "-f",
                                 lambda(),
                                 "--holdout-fraction",
                                 "0.1",
                                 "--order",
                                 "0-3",
                                 "--smoothing",
                                 "both",
                                 "-q"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
    const auto rows = tsv_rows(r.out);
    REQUIRE(rows.size() == 1 + 8);
    CHECK(rows[0] == kHeader);
    for (std::size_t i = 1; i < rows.size(); ++i) {
        const auto& row = rows[i];
        REQUIRE(row.size() == 7);
        CHECK(row[0] == std::to_string((i - 1) % 4));
        CHECK(row[1] == (i <= 4 ? "kn" : "add-one"));
        CHECK(row[2] == "all");
        CHECK(row[3] == "lambda.fa");
        // 48,502 bp: eval = last ceil(4,850.2) = 4,851 bases (43,652-48,502).
        CHECK(row[4] == "4851");
        CHECK(row[5] == "0");
        const double bpb = std::strtod(row[6].c_str(), nullptr);
        CHECK(bpb > 1.5);
        CHECK(bpb < 2.05);
    }
}

TEST_CASE("markov: explicit train/eval sets, strands, BED and output file", "[e2e][markov]") {
    TempDir tmp;
    SECTION("regions and eval strand") {
        const auto r = run_evoscope({"markov",
                                     "-f",
                                     lambda(),
                                     "--train",
                                     kLambdaContig + ":1-40,000",
                                     "--eval",
                                     kLambdaContig + ":40001-48502",
                                     "-k",
                                     "2,4",
                                     "--eval-strand",
                                     "both",
                                     "--by",
                                     "region",
                                     "-q"});
        REQUIRE(r.exit_code == 0);
        const auto rows = tsv_rows(r.out);
        REQUIRE(rows.size() == 3);
        CHECK(rows[1][0] == "2");
        CHECK(rows[2][0] == "4");
        CHECK(rows[1][3] == kLambdaContig + ":40001-48502");
        CHECK(rows[1][4] == "17004");  // both strands of 8,502 bp
    }
    SECTION("BED eval set, one row per contig, output file") {
        write_file(tmp / "eval.bed",
                   kLambdaContig + "\t40000\t44000\n" + kLambdaContig + "\t45000\t48502\n");
        const auto out = (tmp / "bpb.tsv").string();
        const auto r = run_evoscope({"markov",
                                     "-f",
                                     lambda(),
                                     "--train",
                                     kLambdaContig + ":1-40000",
                                     "--eval-bed",
                                     (tmp / "eval.bed").string(),
                                     "-k",
                                     "3",
                                     "--by",
                                     "contig",
                                     "-o",
                                     out,
                                     "-q"});
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.empty());
        const auto rows = tsv_rows(read_file(out));
        REQUIRE(rows.size() == 2);
        CHECK(rows[1][3] == kLambdaContig);
        CHECK(rows[1][4] == "7502");
    }
    SECTION("N bases are skipped and counted") {
        write_file(tmp / "n.fa",
                   ">a\nACGTTGCAACGGTACCATGGACGTACGTTTGACCA\n>b\nACGTNNNNRYACGGTAC\n");
        const auto r = run_evoscope({"markov",
                                     "-f",
                                     (tmp / "n.fa").string(),
                                     "--train",
                                     "a",
                                     "--eval",
                                     "b",
                                     "-k",
                                     "1",
                                     "-q"});
        REQUIRE(r.exit_code == 0);
        const auto rows = tsv_rows(r.out);
        REQUIRE(rows.size() == 2);
        CHECK(rows[1][4] == "11");
        CHECK(rows[1][5] == "6");
    }
}

TEST_CASE("markov: several FASTA files, pooled and per FASTA", "[e2e][markov]") {
    const auto chloroplast = data_path("genomes/athaliana_chloroplast.fa").string();
    const auto pooled = run_evoscope({"markov",
                                      "-f",
                                      lambda(),
                                      "-f",
                                      chloroplast,
                                      "--holdout-fraction",
                                      "0.1",
                                      "-k",
                                      "0-2",
                                      "-q"});
    REQUIRE(pooled.exit_code == 0);
    const auto rows = tsv_rows(pooled.out);
    REQUIRE(rows.size() == 1 + 3 * 3);  // per order: lambda.fa, athaliana_chloroplast.fa, all
    CHECK(rows[1][3] == "lambda.fa");
    CHECK(rows[2][3] == "athaliana_chloroplast.fa");
    CHECK(rows[3][3] == "all");
    CHECK(std::stol(rows[3][4]) == std::stol(rows[1][4]) + std::stol(rows[2][4]));

    const auto separate = run_evoscope({"markov",
                                        "-f",
                                        lambda(),
                                        "-f",
                                        chloroplast,
                                        "--holdout-fraction",
                                        "0.1",
                                        "-k",
                                        "2",
                                        "--per-fasta",
                                        "-q"});
    REQUIRE(separate.exit_code == 0);
    const auto srows = tsv_rows(separate.out);
    REQUIRE(srows.size() == 3);
    CHECK(srows[1][2] == "lambda.fa");
    CHECK(srows[1][3] == "lambda.fa");
    CHECK(srows[2][2] == "athaliana_chloroplast.fa");
    CHECK(srows[1][4] == rows[7][4]);
    // A model of lambda alone fits lambda's held-out part at least as well as the pooled one.
    CHECK(std::stod(srows[1][6]) < std::stod(rows[7][6]) + 0.02);
}

TEST_CASE("markov: input errors exit 1 with a clear message", "[e2e][markov]") {
    TempDir tmp;
    SECTION("eval overlapping train is an error unless --allow-overlap") {
        const std::vector<std::string> args = {"markov",
                                               "-f",
                                               lambda(),
                                               "--train",
                                               kLambdaContig + ":1-40000",
                                               "--eval",
                                               kLambdaContig + ":39001-48502",
                                               "-k",
                                               "1"};
        const auto r = run_evoscope(args);
        CHECK(r.exit_code == 1);
        CHECK(r.out.empty());
        CHECK(r.err.find("[E::markov] eval region NC_001416.1:39001-48502 overlaps training region "
                         "NC_001416.1:1-40000") != std::string::npos);
        auto allowed = args;
        allowed.push_back("--allow-overlap");
        const auto ok = run_evoscope(allowed);
        CHECK(ok.exit_code == 0);
        CHECK(ok.err.find("[W::markov]") != std::string::npos);
    }
    SECTION("empty training set") {
        write_file(tmp / "n.fa", ">n\nNNNNNNNNNN\n>a\nACGTACGTAC\n");
        const auto r =
            run_evoscope({"markov", "-f", (tmp / "n.fa").string(), "--train", "n", "--eval", "a"});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("empty training set") != std::string::npos);
    }
    SECTION("holdout region outside the genome") {
        const auto r = run_evoscope({"markov",
                                     "-f",
                                     lambda(),
                                     "--holdout-fraction",
                                     "0.1",
                                     "-r",
                                     kLambdaContig + ":1-60000",
                                     "-k",
                                     "1"});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("60000") != std::string::npos);
    }
}

TEST_CASE("markov: usage errors exit 2", "[e2e][markov]") {
    // Each case: arguments and a piece of the expected message.
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"markov", "-f", lambda(), "--holdout-fraction", "0.1", "--order", "0,13"},
         "order 13 is outside 0..12"},
        {{"markov", "-f", lambda(), "--holdout-fraction", "0.1", "--smoothing", "witten-bell"},
         "witten-bell"},
        {{"markov", "-f", lambda()}, "--holdout-fraction"},
        {{"markov", "-f", lambda(), "--holdout-fraction", "0.1", "--train", kLambdaContig},
         "cannot be combined"},
        {{"markov", "--holdout-fraction", "0.1"}, "--fasta"},
    };
    for (const auto& [args, message] : cases) {
        std::string joined;
        for (const auto& a : args) {
            joined += a + " ";
        }
        CAPTURE(joined);
        const auto r = run_evoscope(args);
        CHECK(r.exit_code == 2);
        CHECK(r.out.empty());
        CHECK(r.err.find("[E::markov]") != std::string::npos);
        CHECK(r.err.find(message) != std::string::npos);
    }
}
