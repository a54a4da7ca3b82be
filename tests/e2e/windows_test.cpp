// `evoscope windows` and `evoscope variants-windows` end to end on the bundled genomes,
// checked against an independent plain FASTA reader and, when installed, samtools.
#include <filesystem>
#include <map>
#include <sstream>

#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

namespace fs = std::filesystem;
using evoscope::test::data_path;
using evoscope::test::plain_fasta;
using evoscope::test::plain_revcomp;
using evoscope::test::read_file;
using evoscope::test::run_evoscope;
using evoscope::test::TempDir;
using evoscope::test::tsv_rows;
using evoscope::test::write_file;

namespace {}  // namespace

TEST_CASE("windows: TSV windows on both strands equal an independent reader", "[e2e][windows]") {
    const auto fasta = data_path("genomes/lambda.fa");
    const auto genome = plain_fasta(fasta);
    const auto& seq = genome.begin()->second;
    const auto r = run_evoscope({"windows",
                                 "-f",
                                 fasta.string(),
                                 "-w",
                                 "5000",
                                 "-s",
                                 "3000",
                                 "--strand",
                                 "both",
                                 "--format",
                                 "tsv",
                                 "-q"});
    REQUIRE(r.exit_code == 0);
    const auto rows = tsv_rows(r.out);
    REQUIRE(rows.size() > 2);
    CHECK((rows[0] == std::vector<std::string>{"contig", "begin", "end", "strand", "sequence"}));
    std::size_t n_checked = 0;
    for (std::size_t i = 1; i < rows.size(); ++i) {
        const auto& row = rows[i];
        REQUIRE(row.size() == 5);
        const auto begin = std::stoul(row[1]);
        const auto end = std::stoul(row[2]);
        const auto expected = seq.substr(begin, end - begin);
        CHECK(row[4] == (row[3] == "+" ? expected : plain_revcomp(expected)));
        ++n_checked;
    }
    // 48,502 bp, window 5,000, stride 3,000: starts 0..45,000; the window at 45,000 is the first
    // to reach the end (shortened to 3,502 bp) and tiling stops there: 16 windows per strand.
    CHECK(n_checked == 2 * 16);
}

TEST_CASE("windows: FASTA output matches samtools faidx on the same regions", "[e2e][windows]") {
    if (!evoscope::test::have_program("samtools")) {
        WARN("samtools not installed: comparison skipped");
        return;
    }
    TempDir tmp;
    const auto fasta = tmp / "ct.fa";
    fs::copy_file(data_path("genomes/ctrachomatis.fa"), fasta);
    const auto bed = run_evoscope({"windows",
                                   "-f",
                                   fasta.string(),
                                   "-w",
                                   "8192",
                                   "-s",
                                   "4096",
                                   "-q",
                                   "-r",
                                   "CHLTCG:100,001-200,000"});
    REQUIRE(bed.exit_code == 0);
    std::vector<std::string> regions;
    for (const auto& row : tsv_rows(bed.out)) {
        REQUIRE(row.size() == 6);
        regions.push_back(row[0] + ":" + std::to_string(std::stol(row[1]) + 1) + "-" + row[2]);
    }
    REQUIRE(regions.size() == 24);  // starts 0..94,208 (+100,000): the 24th reaches the end
    std::vector<std::string> argv{"samtools", "faidx", fasta.string()};
    argv.insert(argv.end(), regions.begin(), regions.end());
    const auto sam = evoscope::test::run_program(argv);
    REQUIRE(sam.exit_code == 0);
    const auto ours = run_evoscope({"windows",
                                    "-f",
                                    fasta.string(),
                                    "-w",
                                    "8192",
                                    "-s",
                                    "4096",
                                    "-q",
                                    "-r",
                                    "CHLTCG:100,001-200,000",
                                    "--format",
                                    "fasta"});
    REQUIRE(ours.exit_code == 0);
    // Same sequence lines (60 per line, like samtools); headers differ only by the strand suffix.
    std::string ours_stripped;
    std::istringstream in(ours.out);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line[0] == '>')
            line = line.substr(0, line.find('('));
        ours_stripped += line + "\n";
    }
    CHECK(ours_stripped == sam.out);
}

TEST_CASE("windows: -o writes atomically and failures leave nothing behind", "[e2e][windows]") {
    TempDir tmp;
    const auto out = tmp / "w.bed";
    const auto fasta = data_path("genomes/lambda.fa").string();
    SECTION("success writes the file and nothing on stdout") {
        const auto r =
            run_evoscope({"windows", "-f", fasta, "-w", "10000", "-o", out.string(), "-q"});
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.empty());
        CHECK(tsv_rows(read_file(out)).size() == 5);
        CHECK(evoscope::test::list_dir(tmp.path()) == std::vector<std::string>{"w.bed"});
        SECTION("an existing output is refused without --force") {
            const auto again =
                run_evoscope({"windows", "-f", fasta, "-w", "10000", "-o", out.string()});
            CHECK(again.exit_code == 1);
            CHECK(again.err.find("--force") != std::string::npos);
            const auto forced =
                run_evoscope({"windows", "-f", fasta, "-w", "5000", "-o", out.string(), "--force"});
            CHECK(forced.exit_code == 0);
            CHECK(tsv_rows(read_file(out)).size() == 10);
        }
    }
    SECTION("an unknown contig fails with closest names and writes nothing") {
        const auto r =
            run_evoscope({"windows", "-f", fasta, "-r", "lambda:1-100", "-o", out.string()});
        CHECK(r.exit_code == 1);
        CHECK(r.err.rfind("[E::windows] ", 0) == 0);
        CHECK(r.err.find("closest") != std::string::npos);
        CHECK(r.err.find("NC_001416.1") != std::string::npos);
        CHECK(evoscope::test::list_dir(tmp.path()).empty());
    }
    SECTION("a missing FASTA names the file") {
        const auto r =
            run_evoscope({"windows", "-f", (tmp / "missing.fa").string(), "-o", out.string()});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("missing.fa") != std::string::npos);
        CHECK(evoscope::test::list_dir(tmp.path()).empty());
    }
    SECTION("a plain gzip FASTA is refused with advice to use bgzip") {
        const auto gz = tmp / "g.fa.gz";
        const auto rc = evoscope::test::run_program(
            {"sh", "-c", "gzip -c '" + fasta + "' > '" + gz.string() + "'"});
        REQUIRE(rc.exit_code == 0);
        const auto r = run_evoscope({"windows", "-f", gz.string(), "-o", out.string()});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("bgzip") != std::string::npos);
        CHECK_FALSE(fs::exists(out));
    }
}
