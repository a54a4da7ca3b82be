#include "genomics/variants.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <htslib/bgzf.h>
#include <htslib/hts.h>
#include <htslib/hts_log.h>
#include <htslib/tbx.h>
#include <htslib/vcf.h>

#include "core/error.hpp"
#include "genomics/fasta_reader.hpp"
#include "tests/support/test_support.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using evoscope::genomics::FastaReader;
using evoscope::genomics::make_variant_windows;
using evoscope::genomics::Variant;
using evoscope::genomics::variant_window_layout;
using evoscope::genomics::VariantWindowPair;
using evoscope::genomics::VcfOptions;
using evoscope::genomics::VcfReader;
using evoscope::test::TempDir;

namespace {

/// The first record of a FASTA file, read without htslib (the test's independent view).
struct PlainGenome {
    std::string name;
    std::string seq;
};

PlainGenome read_plain_fasta(const fs::path& path) {
    std::ifstream in(path);
    PlainGenome genome;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line[0] == '>') {
            if (!genome.name.empty()) {
                break;
            }
            genome.name = line.substr(1, line.find_first_of(" \t") - 1);
        } else {
            genome.seq += line;
        }
    }
    return genome;
}

const PlainGenome& lambda() {
    static const PlainGenome genome =
        read_plain_fasta(evoscope::test::data_path("genomes/lambda.fa"));
    return genome;
}

std::string slice(std::int64_t begin, std::int64_t end) {
    return lambda().seq.substr(static_cast<std::size_t>(begin),
                               static_cast<std::size_t>(end - begin));
}

/// A base different from the genome's at 0-based `pos`.
std::string other_base(std::int64_t pos, int shift = 1) {
    static const std::string bases = "ACGT";
    const auto i = bases.find(lambda().seq[static_cast<std::size_t>(pos)]);
    return std::string(1, bases[(i + static_cast<std::size_t>(shift)) % 4]);
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](char c) {
        return static_cast<char>(std::tolower(c));
    });
    return text;
}

struct Rec {
    std::int64_t pos_1b;
    std::string id;
    std::string ref;
    std::string alt;
    std::string contig = {};  // empty: the lambda contig
};

std::string vcf_text(const std::vector<Rec>& records, const std::string& extra_header = {}) {
    std::string text = "##fileformat=VCFv4.2\n";
    text +=
        "##contig=<ID=" + lambda().name + ",length=" + std::to_string(lambda().seq.size()) + ">\n";
    text += extra_header;
    text += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";
    for (const auto& r : records) {
        text += (r.contig.empty() ? lambda().name : r.contig) + "\t" + std::to_string(r.pos_1b) +
                "\t" + r.id + "\t" + r.ref + "\t" + r.alt + "\t.\tPASS\t.\n";
    }
    return text;
}

std::vector<Variant> read_all(VcfReader& reader) {
    std::vector<Variant> out;
    while (auto v = reader.next()) {
        out.push_back(*v);
    }
    return out;
}

std::vector<Variant> read_all(const fs::path& vcf,
                              const FastaReader& fasta,
                              VcfOptions options = {}) {
    VcfReader reader(vcf, fasta, std::move(options));
    return read_all(reader);
}

void bgzip(const fs::path& in, const fs::path& out) {
    const std::string text = evoscope::test::read_file(in);
    BGZF* fp = bgzf_open(out.c_str(), "w");
    REQUIRE(fp != nullptr);
    REQUIRE(bgzf_write(fp, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    REQUIRE(bgzf_close(fp) == 0);
}

void vcf_to_indexed_bcf(const fs::path& vcf, const fs::path& bcf) {
    htsFile* in = hts_open(vcf.c_str(), "r");
    REQUIRE(in != nullptr);
    bcf_hdr_t* hdr = bcf_hdr_read(in);
    REQUIRE(hdr != nullptr);
    htsFile* out = hts_open(bcf.c_str(), "wb");
    REQUIRE(out != nullptr);
    REQUIRE(bcf_hdr_write(out, hdr) == 0);
    bcf1_t* rec = bcf_init();
    while (bcf_read(in, hdr, rec) == 0) {
        REQUIRE(bcf_write(out, hdr, rec) == 0);
    }
    bcf_destroy(rec);
    bcf_hdr_destroy(hdr);
    REQUIRE(hts_close(out) == 0);
    REQUIRE(hts_close(in) == 0);
    REQUIRE(bcf_index_build(bcf.c_str(), 14) == 0);  // .csi
}

/// Keeps htslib's own warnings about the deliberately broken inputs off the test output.
class QuietHtslib {
public:
    QuietHtslib() : previous_(hts_get_log_level()) { hts_set_log_level(HTS_LOG_OFF); }

    ~QuietHtslib() { hts_set_log_level(previous_); }

    QuietHtslib(const QuietHtslib&) = delete;
    QuietHtslib& operator=(const QuietHtslib&) = delete;

private:
    htsLogLevel previous_;
};

/// The site fields of a variant (record numbers differ between whole-file and region reads).
std::string site(const Variant& v) {
    return v.contig + ":" + std::to_string(v.pos) + ":" + v.ref + ">" + v.alt + ":" + v.id;
}

std::vector<std::string> sites(const std::vector<Variant>& variants) {
    std::vector<std::string> out;
    for (const auto& v : variants) {
        out.push_back(site(v));
    }
    return out;
}

}  // namespace

TEST_CASE("VcfReader: SNV, indels, MNP and multi-allelic records are split, symbolic skipped",
          "[genomics][vcf]") {
    const FastaReader fasta(evoscope::test::data_path("genomes/lambda.fa"));
    const std::string& ctg = lambda().name;
    const std::string ins_alt = slice(2000, 2001) + "TTAG";
    const std::vector<Rec> records = {
        {1001, "snv1", slice(1000, 1001), other_base(1000)},
        {2001, "ins1", slice(2000, 2001), ins_alt},
        {3001, "del1", slice(3000, 3006), slice(3000, 3001)},
        {4001, "mnp1", slice(4000, 4003), other_base(4000) + other_base(4001) + other_base(4002)},
        {5001,
         ".",
         slice(5000, 5001),
         other_base(5000, 1) + "," + other_base(5000, 2) + "," + slice(5000, 5001) + "CC"},
        {6001, "lower", lower(slice(6000, 6002)), lower(slice(6000, 6001))},
        {7001, "sv", slice(7000, 7001), "<DEL>"},
        {7101, "gvcf", slice(7100, 7101), other_base(7100) + ",<NON_REF>"},
        {7201, "ref_block", slice(7200, 7201), "<*>"},
        {7301,
         "bnd",
         slice(7300, 7301),
         slice(7300, 7301) + "[" + ctg + ":9000[,]" + ctg + ":9100]" + slice(7300, 7301)},
        {7401, "star", slice(7400, 7401), other_base(7400) + ",*"},
        {7501, "single_bnd", slice(7500, 7501), slice(7500, 7501) + "."},
        {7601, "no_alt", slice(7600, 7601), "."},
    };
    TempDir tmp;
    const fs::path vcf = tmp / "calls.vcf";
    evoscope::test::write_file(vcf, vcf_text(records));

    VcfReader reader(vcf, fasta);
    const std::vector<Variant> got = read_all(reader);
    const std::vector<Variant> expected = {
        {ctg, 1000, slice(1000, 1001), other_base(1000), "snv1", 1},
        {ctg, 2000, slice(2000, 2001), ins_alt, "ins1", 2},
        {ctg, 3000, slice(3000, 3006), slice(3000, 3001), "del1", 3},
        {ctg,
         4000,
         slice(4000, 4003),
         other_base(4000) + other_base(4001) + other_base(4002),
         "mnp1",
         4},
        {ctg, 5000, slice(5000, 5001), other_base(5000, 1), ".", 5},
        {ctg, 5000, slice(5000, 5001), other_base(5000, 2), ".", 5},
        {ctg, 5000, slice(5000, 5001), slice(5000, 5001) + "CC", ".", 5},
        {ctg, 6000, slice(6000, 6002), slice(6000, 6001), "lower", 6},  // upper-cased
        {ctg, 7100, slice(7100, 7101), other_base(7100), "gvcf", 8},
        {ctg, 7400, slice(7400, 7401), other_base(7400), "star", 11},
    };
    CHECK(got == expected);
    const auto& s = reader.summary();
    CHECK(s.n_records == 13);
    CHECK(s.n_variants == 10);
    CHECK(s.n_symbolic_skipped == 7);  // <DEL>, <NON_REF>, <*>, 2 breakends, '*', single bnd
    CHECK(s.n_ref_mismatch_skipped == 0);
    CHECK(reader.summary_line() ==
          "records 13, variants 10, symbolic skipped 7, REF mismatches skipped 0");
    CHECK_FALSE(reader.next().has_value());  // stays at the end
}

TEST_CASE("VcfReader: REF mismatches are errors naming file, record and position, or skipped",
          "[genomics][vcf]") {
    const FastaReader fasta(evoscope::test::data_path("genomes/lambda.fa"));
    const std::int64_t n = static_cast<std::int64_t>(lambda().seq.size());
    TempDir tmp;
    const fs::path vcf = tmp / "mismatch.vcf";
    const std::string wrong = other_base(1500);
    evoscope::test::write_file(vcf,
                               vcf_text({{1001, "ok1", slice(1000, 1001), other_base(1000)},
                                         {1501, "bad", wrong, slice(1500, 1501)},
                                         {1601,
                                          "bad_multi",
                                          other_base(1600) + slice(1601, 1603),
                                          slice(1600, 1601) + "," + other_base(1600, 2)},
                                         {1701, "ok2", slice(1700, 1701), other_base(1700)},
                                         {1801, "iupac_ref", "K", "A"},
                                         {n, "past_end", slice(n - 1, n) + "A", slice(n - 1, n)}}));

    SECTION("error") {
        VcfReader reader(vcf, fasta);
        REQUIRE(reader.next().has_value());
        const std::string expected = vcf.string() + ":2: REF '" + wrong +
                                     "' does not match the reference '" + slice(1500, 1501) +
                                     "' at " + lambda().name + ":1501";
        CHECK_THROWS_WITH(reader.next(), Contains(expected));
        CHECK_THROWS_AS(read_all(vcf, fasta), evoscope::InputError);
    }
    SECTION("skip and count") {
        VcfReader reader(vcf, fasta, VcfOptions{.regions = {}, .skip_ref_mismatch = true});
        const auto got = read_all(reader);
        REQUIRE(got.size() == 2);
        CHECK(got[0].id == "ok1");
        CHECK(got[1].id == "ok2");
        CHECK(got[1].line_or_record == 4);
        const auto& s = reader.summary();
        CHECK(s.n_records == 6);
        CHECK(s.n_ref_mismatch_skipped == 1 + 2 + 1);  // per ALT allele, incl. the past-end REF
        CHECK(s.n_ref_n_skipped == 1);
        CHECK(reader.summary_line() ==
              "records 6, variants 2, symbolic skipped 0, "
              "REF mismatches skipped 4, REF non-ACGTN skipped 1");
    }
    SECTION("a REF running past the contig end is an error too") {
        const fs::path end_vcf = tmp / "end.vcf";
        evoscope::test::write_file(end_vcf,
                                   vcf_text({{n, "past_end", slice(n - 1, n) + "A", "A"}}));
        CHECK_THROWS_WITH(read_all(end_vcf, fasta), Contains("runs past the end of the contig"));
    }
}

TEST_CASE("VcfReader: an IUPAC code in the reference matches the bases it stands for",
          "[genomics][vcf]") {
    // A two-contig genome with soft-masked and ambiguous bases, written next to the VCF.
    TempDir tmp;
    const fs::path fa = tmp / "mini.fa";
    const std::string chr_a = lambda().seq.substr(0, 40);
    std::string chr_b = lambda().seq.substr(100, 40);
    chr_b[10] = 'R';  // A or G
    chr_b[20] = 'c';  // soft-masked
    evoscope::test::write_file(fa, ">chrA\n" + chr_a + "\n>chrB\n" + chr_b + "\n");
    const FastaReader fasta(fa);
    const fs::path vcf = tmp / "iupac.vcf";
    evoscope::test::write_file(vcf,
                               "##fileformat=VCFv4.2\n##contig=<ID=chrB,length=40>\n"
                               "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                               "chrB\t11\tr_as_a\tA\tT\t.\t.\t.\n"
                               "chrB\t11\tr_as_g\tG\tT\t.\t.\t.\n"
                               "chrB\t11\tr_as_c\tC\tT\t.\t.\t.\n"
                               "chrB\t21\tsoft\tC\tG\t.\t.\t.\n");
    VcfReader reader(vcf, fasta, VcfOptions{.regions = {}, .skip_ref_mismatch = true});
    CHECK(sites(read_all(reader)) ==
          std::vector<std::string>{"chrB:10:A>T:r_as_a", "chrB:10:G>T:r_as_g", "chrB:20:C>G:soft"});
    CHECK(reader.summary().n_ref_mismatch_skipped == 1);
}

TEST_CASE("VcfReader: plain VCF, bgzip+tabix with regions and BCF give the same variants",
          "[genomics][vcf]") {
    const FastaReader fasta(evoscope::test::data_path("genomes/lambda.fa"));
    const std::vector<Rec> records = {
        {501, "a", slice(500, 501), other_base(500)},
        {1201, "b", slice(1200, 1204), slice(1200, 1201)},
        {2501, "c", slice(2500, 2501), slice(2500, 2501) + "GGA"},
        {3001, "d", slice(3000, 3001), other_base(3000) + "," + other_base(3000, 2)},
        {3101, "e", slice(3100, 3101), "<DEL>"},
        {4001, "f", slice(4000, 4002), other_base(4000) + other_base(4001)},
        {9001, "g", slice(9000, 9001), other_base(9000)},
    };
    TempDir tmp;
    const fs::path vcf = tmp / "calls.vcf";
    const fs::path gz = tmp / "calls.vcf.gz";
    const fs::path bcf = tmp / "calls.bcf";
    evoscope::test::write_file(vcf, vcf_text(records));
    bgzip(vcf, gz);
    REQUIRE(tbx_index_build(gz.c_str(), 0, &tbx_conf_vcf) == 0);
    vcf_to_indexed_bcf(vcf, bcf);

    const auto plain = read_all(vcf, fasta);
    REQUIRE(plain.size() == 7);
    CHECK(read_all(gz, fasta) == plain);   // streaming bgzip
    CHECK(read_all(bcf, fasta) == plain);  // streaming BCF, same record numbers
    {
        VcfReader first(vcf, fasta);
        REQUIRE(first.next() == plain.front());
        VcfReader moved = std::move(first);  // carries on where it was
        const auto rest = read_all(moved);
        CHECK(rest == std::vector<Variant>(plain.begin() + 1, plain.end()));
        CHECK(moved.summary().n_variants == 7);
    }

    // Two overlapping regions (1-based inclusive, thousands separators allowed): each record
    // comes once, in file order.
    const VcfOptions regions{
        .regions = {lambda().name + ":1,000-3,050", lambda().name + ":3000-4500"},
        .skip_ref_mismatch = false};
    std::vector<std::string> expected;
    for (const auto& v : plain) {
        if (v.pos >= 999 && v.pos < 4500) {
            expected.push_back(site(v));
        }
    }
    REQUIRE(expected.size() == 5);  // b, c, d (2 ALTs), f
    VcfReader from_gz(gz, fasta, regions);
    CHECK(sites(read_all(from_gz)) == expected);
    CHECK(from_gz.summary().n_symbolic_skipped == 1);
    CHECK(sites(read_all(bcf, fasta, regions)) == expected);

    // A region on a contig the VCF has no records for is simply empty.
    const VcfOptions far{.regions = {lambda().name + ":20000-30000"}, .skip_ref_mismatch = false};
    CHECK(read_all(gz, fasta, far).empty());
    // The whole contig as a region returns everything.
    const VcfOptions whole{.regions = {lambda().name}, .skip_ref_mismatch = false};
    CHECK(sites(read_all(bcf, fasta, whole)) == sites(plain));
}

TEST_CASE("VcfReader: regions without an index say how to make one", "[genomics][vcf]") {
    const FastaReader fasta(evoscope::test::data_path("genomes/lambda.fa"));
    TempDir tmp;
    const fs::path vcf = tmp / "calls.vcf";
    const fs::path gz = tmp / "calls.vcf.gz";
    evoscope::test::write_file(vcf, vcf_text({{501, "a", slice(500, 501), other_base(500)}}));
    bgzip(vcf, gz);
    const VcfOptions regions{.regions = {lambda().name + ":1-1000"}, .skip_ref_mismatch = false};

    CHECK_THROWS_AS(VcfReader(gz, fasta, regions), evoscope::InputError);
    CHECK_THROWS_WITH(VcfReader(gz, fasta, regions), Contains("bcftools index"));
    CHECK_THROWS_WITH(VcfReader(vcf, fasta, regions), Contains("bgzip"));
    CHECK_THROWS_WITH(VcfReader(vcf, fasta, regions), Contains("bcftools index"));

    REQUIRE(tbx_index_build(gz.c_str(), 0, &tbx_conf_vcf) == 0);
    const VcfOptions unknown{.regions = {"NC_001416:1-1000"}, .skip_ref_mismatch = false};
    CHECK_THROWS_AS(VcfReader(gz, fasta, unknown), evoscope::InputError);
    CHECK_THROWS_WITH(VcfReader(gz, fasta, unknown), Contains("closest names: NC_001416.1"));
    CHECK(read_all(gz, fasta, regions).size() == 1);
}

TEST_CASE("VcfReader: region strings are checked before htslib sees them", "[genomics][vcf]") {
    const FastaReader fasta(evoscope::test::data_path("genomes/lambda.fa"));
    const std::string& ctg = lambda().name;
    TempDir tmp;
    const fs::path vcf = tmp / "calls.vcf";
    const fs::path gz = tmp / "calls.vcf.gz";
    evoscope::test::write_file(vcf,
                               vcf_text({{501, "a", slice(500, 501), other_base(500)},
                                         {1001, "b", slice(1000, 1001), other_base(1000)}}));
    bgzip(vcf, gz);
    REQUIRE(tbx_index_build(gz.c_str(), 0, &tbx_conf_vcf) == 0);
    const auto ids = [&](const std::string& region) {
        std::vector<std::string> out;
        for (const auto& v : read_all(gz, fasta, VcfOptions{.regions = {region}})) {
            out.push_back(v.id);
        }
        return out;
    };
    CHECK(ids(ctg + ":501") == std::vector<std::string>{"a"});  // a single base
    CHECK(ids(ctg + ":500") == std::vector<std::string>{});
    CHECK(ids(ctg + ":502-") == std::vector<std::string>{"b"});
    CHECK(ids("{" + ctg + "}:1-1,001") == std::vector<std::string>{"a", "b"});
    for (const std::string& bad : {ctg + ":100-50", ctg + ":-5", ctg + ":abc", ctg + ":1-48503"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(VcfReader(gz, fasta, VcfOptions{.regions = {bad}}), evoscope::InputError);
    }
}

TEST_CASE("VcfReader: bad inputs give the right error types", "[genomics][vcf]") {
    const FastaReader fasta(evoscope::test::data_path("genomes/lambda.fa"));
    TempDir tmp;
    const QuietHtslib quiet;

    SECTION("missing file is an IoError") {
        CHECK_THROWS_AS(VcfReader(tmp / "nope.vcf", fasta), evoscope::IoError);
        const VcfOptions regions{.regions = {lambda().name}, .skip_ref_mismatch = false};
        CHECK_THROWS_AS(VcfReader(tmp / "nope.vcf.gz", fasta, regions), evoscope::IoError);
    }
    SECTION("a contig that is not in the FASTA is an InputError with closest names") {
        const fs::path vcf = tmp / "contig.vcf";
        evoscope::test::write_file(vcf,
                                   vcf_text({{501, "a", slice(500, 501), other_base(500)},
                                             {10, "b", "A", "C", "NC_001416"}},
                                            "##contig=<ID=NC_001416,length=100>\n"));
        VcfReader reader(vcf, fasta);
        REQUIRE(reader.next().has_value());
        CHECK_THROWS_AS(reader.next(), evoscope::InputError);
        try {
            VcfReader again(vcf, fasta);
            read_all(again);
            FAIL("no error");
        } catch (const evoscope::InputError& e) {
            CHECK_THAT(e.what(), Contains(vcf.string() + ":2:"));
            CHECK_THAT(e.what(), Contains("'NC_001416'"));
            CHECK_THAT(e.what(), Contains("closest names: NC_001416.1"));
        }
    }
    SECTION("a file that is not a VCF is a FormatError") {
        CHECK_THROWS_AS(VcfReader(evoscope::test::data_path("genomes/lambda.fa"), fasta),
                        evoscope::FormatError);
    }
    SECTION("malformed records are FormatErrors with path and record number") {
        const std::string good = lambda().name + "\t501\ta\t" + slice(500, 501) + "\t" +
                                 other_base(500) + "\t.\tPASS\t.\n";
        // htslib 1.16 accepts all of these without an error code; the reader checks them.
        const std::string bad_line =
            GENERATE(std::string("\t702\n"),                       // too few columns: no REF
                     std::string("\tabc\tb\tA\tC\t.\tPASS\t.\n"),  // POS not a number
                     std::string("\t0\tb\tA\tC\t.\tPASS\t.\n"),    // POS 0
                     std::string(" 702 b A C . PASS .\n"));        // spaces instead of tabs
        const fs::path vcf = tmp / "bad.vcf";
        evoscope::test::write_file(vcf, vcf_text({}) + good + lambda().name + bad_line);
        VcfReader reader(vcf, fasta);
        REQUIRE(reader.next().has_value());
        try {
            reader.next();
            FAIL("no error for " << bad_line);
        } catch (const evoscope::FormatError& e) {
            CHECK_THAT(e.what(), Contains(vcf.string() + ":2:"));
        }
    }
    SECTION("a truncated bgzip file is a FormatError (htslib read error)") {
        std::vector<Rec> many;
        for (std::int64_t pos = 100; pos < 48000; pos += 10) {
            many.push_back(
                {pos + 1, "v" + std::to_string(pos), slice(pos, pos + 1), other_base(pos)});
        }
        const fs::path vcf = tmp / "many.vcf";
        const fs::path gz = tmp / "many.vcf.gz";
        evoscope::test::write_file(vcf, vcf_text(many));
        bgzip(vcf, gz);
        const std::string bytes = evoscope::test::read_file(gz);
        evoscope::test::write_file(gz, bytes.substr(0, bytes.size() / 2));
        VcfReader reader(gz, fasta);
        try {
            read_all(reader);
            FAIL("no error");
        } catch (const evoscope::FormatError& e) {
            CHECK_THAT(e.what(), Contains(gz.string() + ":"));
            CHECK_THAT(e.what(), Contains("truncated or corrupt"));
        }
    }
    SECTION("an ALT with characters other than ACGTN is a FormatError") {
        const fs::path vcf = tmp / "alt.vcf";
        evoscope::test::write_file(vcf, vcf_text({{501, "a", slice(500, 501), "R"}}));
        CHECK_THROWS_AS(read_all(vcf, fasta), evoscope::FormatError);
    }
}

TEST_CASE("variant_window_layout: the centring and shifting rule on hand-computed cases",
          "[genomics][vcf]") {
    // n = contig length, p = pos, R/A = REF/ALT lengths, W = window; expected ref/alt begins.
    using I = std::int64_t;
    using Row = std::tuple<I, I, I, I, I, I, I>;
    const auto [n, p, r, a, w, ref_begin, alt_begin] = GENERATE(table<I, I, I, I, I, I, I>({
        Row{100, 50, 1, 1, 8, 47, 47},   // SNV, W even: 3 left, 4 right
        Row{100, 50, 1, 1, 9, 46, 46},   // SNV, W odd: 4 and 4
        Row{100, 50, 1, 5, 10, 46, 46},  // insertion: centred on the padding base
        Row{100, 50, 5, 1, 10, 48, 48},  // deletion: centred on the REF midpoint
        Row{100, 50, 3, 3, 9, 47, 47},   // MNP: 3 + 3 + 3
        Row{100, 2, 1, 1, 10, 0, 0},     // near the start: shifted right
        Row{100, 98, 1, 1, 10, 90, 90},  // near the end: shifted left
        Row{100, 94, 6, 1, 10, 90, 85},  // deletion of the contig's last 5 bases
        Row{100, 99, 1, 4, 10, 90, 90},  // insertion after the last base
        Row{10, 5, 1, 1, 10, 0, 0},      // window == contig
    }));
    CAPTURE(n, p, r, a, w);
    const auto layout = variant_window_layout(n, p, r, a, w);
    CHECK(layout.ref_begin == ref_begin);
    CHECK(layout.alt_begin == alt_begin);
}

TEST_CASE("variant_window_layout: impossible windows are InputErrors", "[genomics][vcf]") {
    using evoscope::InputError;
    CHECK_THROWS_AS(variant_window_layout(100, 50, 1, 1, 0), InputError);
    CHECK_THROWS_AS(variant_window_layout(100, 50, 11, 1, 10), InputError);  // REF > W
    CHECK_THROWS_AS(variant_window_layout(9, 5, 1, 1, 10), InputError);      // contig < W
    CHECK_THROWS_AS(variant_window_layout(10, 5, 3, 1, 10), InputError);     // haplotype < W
    CHECK_THROWS_AS(variant_window_layout(100, 99, 2, 1, 10), InputError);   // REF past the end
    CHECK_THROWS_AS(variant_window_layout(100, -1, 1, 1, 10), InputError);
    CHECK_THROWS_AS(variant_window_layout(100, 5, 0, 1, 10), InputError);
}

TEST_CASE(
    "make_variant_windows: both windows are window_bp long, ref is the genome slice and "
    "alt the edited genome",
    "[genomics][vcf]") {
    const FastaReader fasta(evoscope::test::data_path("genomes/lambda.fa"));
    const std::string& ctg = lambda().name;
    const auto n = static_cast<std::int64_t>(lambda().seq.size());

    struct Case {
        const char* what;
        std::int64_t pos;
        std::string ref;
        std::string alt;
        std::int64_t window_bp;
        std::int64_t ref_begin;  // hand-computed from the rule
        std::int64_t alt_begin;
    };

    const std::vector<Case> cases = {
        {"SNV centred", 1000, slice(1000, 1001), other_base(1000), 10, 996, 996},
        {"SNV odd window", 1000, slice(1000, 1001), other_base(1000), 9, 996, 996},
        {"insertion", 2000, slice(2000, 2001), slice(2000, 2001) + "TTAG", 10, 1996, 1996},
        {"deletion", 3000, slice(3000, 3006), slice(3000, 3001), 10, 2998, 2998},
        {"MNP", 4000, slice(4000, 4003), other_base(4000) + other_base(4001) + "A", 9, 3997, 3997},
        {"insertion longer than the room",
         5000,
         slice(5000, 5001),
         slice(5000, 5001) + std::string(19, 'C'),
         10,
         4996,
         4996},
        {"lower-case alleles", 6000, lower(slice(6000, 6002)), "ac", 12, 5995, 5995},
        {"SNV at the contig start", 1, slice(1, 2), other_base(1), 10, 0, 0},
        {"SNV at the contig end", n - 1, slice(n - 1, n), other_base(n - 1), 10, n - 10, n - 10},
        {"deletion at the contig end",
         n - 6,
         slice(n - 6, n),
         slice(n - 6, n - 5),
         10,
         n - 10,
         n - 15},
        {"large window", 20000, slice(20000, 20001), other_base(20000), 1000, 19501, 19501},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        const Variant v{ctg, c.pos, c.ref, c.alt, "x", 1};
        const VariantWindowPair pair = make_variant_windows(fasta, v, c.window_bp);
        const auto w = static_cast<std::size_t>(c.window_bp);
        REQUIRE(pair.ref_seq.size() == w);
        REQUIRE(pair.alt_seq.size() == w);
        CHECK(pair.variant == v);
        CHECK(pair.ref_window.contig == ctg);
        CHECK(pair.ref_window.begin == c.ref_begin);
        CHECK(pair.ref_window.end == c.ref_begin + c.window_bp);
        CHECK(pair.ref_seq == slice(c.ref_begin, c.ref_begin + c.window_bp));
        CHECK(pair.ref_offset == c.pos - c.ref_begin);
        CHECK(pair.alt_offset == c.pos - c.alt_begin);
        // The alternate haplotype, built independently, then the same slice.
        std::string alt_upper = c.alt;
        std::transform(alt_upper.begin(), alt_upper.end(), alt_upper.begin(), [](char ch) {
            return static_cast<char>(std::toupper(ch));
        });
        const std::string haplotype =
            lambda().seq.substr(0, static_cast<std::size_t>(c.pos)) + alt_upper +
            lambda().seq.substr(static_cast<std::size_t>(c.pos) + c.ref.size());
        CHECK(pair.alt_seq == haplotype.substr(static_cast<std::size_t>(c.alt_begin), w));
        // The variant is inside the ref window.
        CHECK(c.pos >= pair.ref_window.begin);
        CHECK(c.pos + static_cast<std::int64_t>(c.ref.size()) <= pair.ref_window.end);
    }
}

TEST_CASE("make_variant_windows: every variant read from a VCF gets a window pair",
          "[genomics][vcf]") {
    const FastaReader fasta(evoscope::test::data_path("genomes/lambda.fa"));
    const auto n = static_cast<std::int64_t>(lambda().seq.size());
    TempDir tmp;
    const fs::path vcf = tmp / "calls.vcf";
    evoscope::test::write_file(
        vcf,
        vcf_text({{1, "first", slice(0, 1), other_base(0)},
                  {1001, "ins", slice(1000, 1001), slice(1000, 1001) + "AC"},
                  {n - 3, "del_end", slice(n - 4, n), slice(n - 4, n - 3)}}));
    VcfReader reader(vcf, fasta);
    int n_pairs = 0;
    while (auto v = reader.next()) {
        const auto pair = make_variant_windows(fasta, *v, 64);
        CHECK(pair.ref_seq.size() == 64);
        CHECK(pair.alt_seq.size() == 64);
        CHECK(pair.ref_seq.substr(static_cast<std::size_t>(pair.ref_offset), v->ref.size()) ==
              v->ref);
        CHECK(pair.alt_seq.substr(static_cast<std::size_t>(pair.alt_offset), v->alt.size()) ==
              v->alt);
        ++n_pairs;
    }
    CHECK(n_pairs == 3);
}

TEST_CASE("make_variant_windows: bad variants are InputErrors", "[genomics][vcf]") {
    const FastaReader fasta(evoscope::test::data_path("genomes/lambda.fa"));
    const std::string& ctg = lambda().name;
    const auto n = static_cast<std::int64_t>(lambda().seq.size());
    using evoscope::InputError;
    const Variant snv{ctg, 100, slice(100, 101), other_base(100), ".", 1};
    CHECK_THROWS_AS(make_variant_windows(fasta, snv, n + 1), InputError);  // contig < window
    CHECK_THROWS_WITH(make_variant_windows(fasta, snv, n + 1), Contains("shorter than the window"));
    const Variant mismatch{ctg, 100, other_base(100), slice(100, 101), ".", 1};
    CHECK_THROWS_WITH(make_variant_windows(fasta, mismatch, 10), Contains("does not match"));
    const Variant unknown{"chr1", 100, "A", "C", ".", 1};
    CHECK_THROWS_WITH(make_variant_windows(fasta, unknown, 10), Contains("closest names"));
    const Variant symbolic{ctg, 100, slice(100, 101), "<DEL>", ".", 1};
    CHECK_THROWS_AS(make_variant_windows(fasta, symbolic, 10), InputError);
}
