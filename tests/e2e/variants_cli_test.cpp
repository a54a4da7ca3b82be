// `evoscope variants-windows` end to end: a VCF written from real lambda bases.
#include <map>
#include <sstream>

#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

namespace fs = std::filesystem;
using evoscope::test::data_path;
using evoscope::test::read_file;
using evoscope::test::run_evoscope;
using evoscope::test::TempDir;
using evoscope::test::write_file;

namespace {

std::string lambda_sequence() {
    return evoscope::test::plain_fasta(data_path("genomes/lambda.fa")).at("NC_001416.1");
}

/// FASTA records as (header, sequence).
std::vector<std::pair<std::string, std::string>> fasta_records(const std::string& text) {
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line[0] == '>') {
            out.emplace_back(line.substr(1), "");
        } else if (!out.empty()) {
            out.back().second += line;
        }
    }
    return out;
}

}  // namespace

TEST_CASE("variants-windows: SNV and indel pairs are window-long and edit the right base",
          "[e2e][vcf]") {
    TempDir tmp;
    const std::string seq = lambda_sequence();
    const auto ref_at = [&](std::size_t pos1, std::size_t n) {
        return seq.substr(pos1 - 1, n);
    };
    const char alt_base = ref_at(1000, 1) == "A" ? 'C' : 'A';
    std::ostringstream vcf;
    vcf << "##fileformat=VCFv4.2\n##contig=<ID=NC_001416.1,length=48502>\n"
        << "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        << "NC_001416.1\t1000\tsnv1\t" << ref_at(1000, 1) << "\t" << alt_base << "\t.\t.\t.\n"
        << "NC_001416.1\t2000\tdel1\t" << ref_at(2000, 4) << "\t" << ref_at(2000, 1)
        << "\t.\t.\t.\n"
        << "NC_001416.1\t3000\tsv1\t" << ref_at(3000, 1) << "\t<DEL>\t.\t.\t.\n";
    write_file(tmp / "v.vcf", vcf.str());
    const auto r = run_evoscope({"variants",
                                 "windows",
                                 "--vcf",
                                 (tmp / "v.vcf").string(),
                                 "-f",
                                 data_path("genomes/lambda.fa").string(),
                                 "-w",
                                 "101",
                                 "--line-width",
                                 "0"});
    REQUIRE(r.exit_code == 0);
    const auto records = fasta_records(r.out);
    REQUIRE(records.size() == 4);  // two variants x (ref, alt); the symbolic one skipped
    CHECK(r.err.find("symbolic") != std::string::npos);
    for (const auto& [header, s] : records) {
        INFO(header);
        CHECK(s.size() == 101);
    }
    // SNV: centred (50 bases each side), ref window equals the genome, alt differs in one base.
    CHECK(records[0].first.rfind("NC_001416.1:1000:", 0) == 0);
    CHECK(records[0].first.find("/ref window=NC_001416.1:950-1050 id=snv1") != std::string::npos);
    CHECK(records[0].second == ref_at(950, 101));
    std::string edited = records[0].second;
    edited[50] = alt_base;
    CHECK(records[1].second == edited);
    // Deletion of 3 bases after the anchor: alt window = genome with those bases removed.
    const std::string deleted = seq.substr(0, 2000) + seq.substr(2003);
    const auto& ref_window = records[2].second;
    const auto begin = seq.find(ref_window);
    REQUIRE(begin != std::string::npos);
    CHECK(records[3].second == deleted.substr(begin, 101));
}

TEST_CASE("variants-windows: REF mismatches fail unless skipped", "[e2e][vcf]") {
    TempDir tmp;
    const std::string seq = lambda_sequence();
    const char wrong = seq[99] == 'A' ? 'C' : 'A';
    std::ostringstream vcf;
    vcf << "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        << "NC_001416.1\t100\t.\t" << wrong << "\tG\t.\t.\t.\n";
    write_file(tmp / "m.vcf", vcf.str());
    const auto out = tmp / "pairs.fa";
    const auto fail = run_evoscope({"variants",
                                    "windows",
                                    "--vcf",
                                    (tmp / "m.vcf").string(),
                                    "-f",
                                    data_path("genomes/lambda.fa").string(),
                                    "-w",
                                    "50",
                                    "-o",
                                    out.string()});
    CHECK(fail.exit_code == 1);
    CHECK(fail.err.rfind("[E::variants-windows] ", 0) == 0);
    CHECK(fail.err.find("m.vcf") != std::string::npos);
    CHECK_FALSE(fs::exists(out));
    const auto skip = run_evoscope({"variants",
                                    "windows",
                                    "--vcf",
                                    (tmp / "m.vcf").string(),
                                    "-f",
                                    data_path("genomes/lambda.fa").string(),
                                    "-w",
                                    "50",
                                    "-o",
                                    out.string(),
                                    "--skip-ref-mismatch"});
    CHECK(skip.exit_code == 0);
    CHECK(read_file(out).empty());
}
