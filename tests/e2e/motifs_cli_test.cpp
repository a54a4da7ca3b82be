// `evoscope motifs scan` and `motifs discover` as a user runs them: exit codes, stdout, stderr.
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

using evoscope::test::data_path;
using evoscope::test::run_evoscope;
using evoscope::test::TempDir;
using evoscope::test::tsv_rows;

TEST_CASE("motifs scan: FIMO TSV on stdout, the summary on stderr", "[e2e][motifs]") {
    const auto r = run_evoscope({"motifs",
                                 "scan",
                                 "--motifs",
                                 data_path("motifs/jaspar_insecta.jaspar").string(),
                                 "-f",
                                 data_path("genomes/lambda.fa").string(),
                                 "-r",
                                 "NC_001416.1:10,001-20,000",
                                 "--thresh",
                                 "1e-5"});
    REQUIRE(r.exit_code == 0);
    const auto rows = tsv_rows(r.out);
    REQUIRE(rows.size() >= 2);
    CHECK(rows[0][0] == "motif_id");
    for (std::size_t i = 1; i < rows.size(); ++i) {
        REQUIRE(rows[i].size() == 10);
        CHECK(rows[i][2] == "NC_001416.1");
        CHECK(std::stoll(rows[i][3]) >= 10001);
        CHECK(std::stoll(rows[i][4]) <= 20000);
        CHECK(std::stod(rows[i][7]) <= 1e-5);
    }
    CHECK(r.err.find("[I::motifs-scan]") != std::string::npos);
}

TEST_CASE("motifs scan and discover: usage and input errors", "[e2e][motifs]") {
    TempDir tmp;
    auto r = run_evoscope({"motifs", "scan", "-f", data_path("genomes/lambda.fa").string()});
    CHECK(r.exit_code == 2);  // --motifs is required
    CHECK(r.out.empty());
    evoscope::test::write_file(tmp / "bad.pfm", ">m\n1 2\n3 4\n");
    r = run_evoscope({"motifs",
                      "scan",
                      "--motifs",
                      (tmp / "bad.pfm").string(),
                      "-f",
                      data_path("genomes/lambda.fa").string()});
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("bad.pfm:3:") != std::string::npos);
    r = run_evoscope({"motifs", "discover", "--feature", "1", "-o", (tmp / "out").string()});
    CHECK(r.exit_code == 2);  // --features and --fasta are required
}
