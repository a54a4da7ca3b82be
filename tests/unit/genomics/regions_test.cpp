#include "genomics/regions.hpp"

#include <catch2/catch.hpp>
#include <htslib/bgzf.h>

#include "core/error.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope::genomics;
using evoscope::FormatError;
using evoscope::InputError;
using evoscope::IoError;
using evoscope::test::fixture_path;
using evoscope::test::TempDir;
using evoscope::test::write_file;

namespace {

// The contigs of tests/data/genomics/small.fa (see tests/data/README.md).
std::vector<ContigInfo> small_contigs() {
    return {{"ctg1", 120}, {"ctg2", 37}, {"HLA-A*01:01", 30}, {"MT", 16}, {"1", 25}};
}

ContigSet small_set() {
    return ContigSet(small_contigs(),
                     ContigAliases::from_file(fixture_path("genomics/aliases.tsv")));
}

}  // namespace

TEST_CASE("ContigAliases work in both directions and transitively", "[genomics][regions]") {
    ContigAliases aliases;
    aliases.add("chr1", "1");
    aliases.add("1", "NC_000001.11");
    CHECK(aliases.aliases_of("chr1") == std::vector<std::string>{"1", "NC_000001.11"});
    CHECK(aliases.aliases_of("1") == std::vector<std::string>{"chr1", "NC_000001.11"});
    CHECK(aliases.aliases_of("NC_000001.11") == std::vector<std::string>{"1", "chr1"});
    CHECK(aliases.aliases_of("chr2").empty());
    aliases.add("x", "x");
    CHECK(aliases.aliases_of("x").empty());
}

TEST_CASE("ContigAliases::from_file reads the fixture and reports bad lines",
          "[genomics][regions]") {
    const auto aliases = ContigAliases::from_file(fixture_path("genomics/aliases.tsv"));
    CHECK(aliases.aliases_of("chrM") == std::vector<std::string>{"MT"});
    CHECK(aliases.aliases_of("MT") == std::vector<std::string>{"chrM"});
    CHECK(aliases.aliases_of("ctg2") == std::vector<std::string>{"chr2"});

    TempDir dir;
    write_file(dir / "bad.tsv", "# header\nchr1 1\nlonely\n");
    CHECK_THROWS_AS(ContigAliases::from_file(dir / "bad.tsv"), FormatError);
    CHECK_THROWS_WITH(ContigAliases::from_file(dir / "bad.tsv"),
                      Catch::Contains((dir / "bad.tsv").string() + ":3:"));
    CHECK_THROWS_AS(ContigAliases::from_file(dir / "missing.tsv"), IoError);
}

TEST_CASE("ContigSet resolves names directly and through aliases", "[genomics][regions]") {
    const ContigSet set = small_set();
    CHECK(set.contigs().size() == 5);
    CHECK(set.resolve("ctg1") == std::optional<std::string>("ctg1"));
    CHECK(set.resolve("chrM") == std::optional<std::string>("MT"));
    CHECK(set.resolve("chr1") == std::optional<std::string>("1"));
    CHECK(set.resolve("chr2") == std::optional<std::string>("ctg2"));
    CHECK_FALSE(set.resolve("chrX").has_value());
    CHECK(set.require("chrM").name == "MT");
    CHECK(set.require("chrM").length == 16);

    // Without aliases the UCSC name is unknown.
    const ContigSet plain(small_contigs());
    CHECK_FALSE(plain.resolve("chrM").has_value());
}

TEST_CASE("unknown contigs list the closest names", "[genomics][regions]") {
    const ContigSet set = small_set();
    try {
        set.require("ctg3", " in test");
        FAIL("expected InputError");
    } catch (const InputError& e) {
        const std::string msg = e.what();
        CHECK_THAT(msg, Catch::StartsWith("unknown contig 'ctg3' in test; closest names: "));
        CHECK_THAT(msg, Catch::Contains("ctg1") && Catch::Contains("ctg2"));
    }
    CHECK_THROWS_AS(ContigSet({}).require("a"), InputError);
}

TEST_CASE("parse_region: accepted syntax", "[genomics][regions]") {
    const ContigSet set = small_set();
    CHECK(parse_region("ctg1", set) == Interval{"ctg1", 0, 120, Strand::Unknown});
    CHECK(parse_region("ctg1:11-20", set) == Interval{"ctg1", 10, 20, Strand::Unknown});
    CHECK(parse_region("ctg1:1-120", set) == Interval{"ctg1", 0, 120, Strand::Unknown});
    CHECK(parse_region("ctg1:1-1", set) == Interval{"ctg1", 0, 1, Strand::Unknown});
    CHECK(parse_region("ctg1:100", set) == Interval{"ctg1", 99, 100, Strand::Unknown});
    CHECK(parse_region("ctg1:100-", set) == Interval{"ctg1", 99, 120, Strand::Unknown});
    CHECK(parse_region("  ctg1:5-6 ", set) == Interval{"ctg1", 4, 6, Strand::Unknown});
    // Aliases give the reference's own name.
    CHECK(parse_region("chrM:2-3", set) == Interval{"MT", 1, 3, Strand::Unknown});
    CHECK(parse_region("chr1", set) == Interval{"1", 0, 25, Strand::Unknown});
    // Names with colons: whole-string match, split at the last ':', or braces.
    CHECK(parse_region("HLA-A*01:01", set) == Interval{"HLA-A*01:01", 0, 30, Strand::Unknown});
    CHECK(parse_region("HLA-A*01:01:3-4", set) == Interval{"HLA-A*01:01", 2, 4, Strand::Unknown});
    CHECK(parse_region("{HLA-A*01:01}:3-4", set) == Interval{"HLA-A*01:01", 2, 4, Strand::Unknown});
    CHECK(parse_region("{HLA-A*01:01}", set) == Interval{"HLA-A*01:01", 0, 30, Strand::Unknown});
}

TEST_CASE("parse_region: thousands separators", "[genomics][regions]") {
    const ContigSet set({{"big", 5'000'000}});
    CHECK(parse_region("big:1,001-2,000", set) == Interval{"big", 1000, 2000, Strand::Unknown});
    CHECK(parse_region("big:1,000,000", set) ==
          Interval{"big", 999'999, 1'000'000, Strand::Unknown});
    CHECK_THROWS_AS(parse_region("big:1,,0-5", set), InputError);
    CHECK_THROWS_AS(parse_region("big:,100-200", set), InputError);
}

TEST_CASE("parse_region: errors name the region", "[genomics][regions]") {
    const ContigSet set = small_set();
    CHECK_THROWS_WITH(parse_region("ctg1:0-10", set),
                      Catch::Contains("'ctg1:0-10'") && Catch::Contains(">= 1"));
    CHECK_THROWS_WITH(parse_region("ctg1:20-10", set),
                      Catch::Contains("'ctg1:20-10'") && Catch::Contains("after end"));
    CHECK_THROWS_WITH(parse_region("ctg1:100-121", set),
                      Catch::Contains("'ctg1:100-121'") && Catch::Contains("out of bounds"));
    CHECK_THROWS_WITH(parse_region("ctg1:121", set), Catch::Contains("out of bounds"));
    CHECK_THROWS_WITH(parse_region("ctg1:abc-10", set),
                      Catch::Contains("'ctg1:abc-10'") && Catch::Contains("not a number"));
    CHECK_THROWS_WITH(parse_region("ctg1:5-x", set), Catch::Contains("end 'x'"));
    CHECK_THROWS_AS(parse_region("ctg1:-5", set), InputError);
    CHECK_THROWS_AS(parse_region("ctg1:", set), InputError);
    CHECK_THROWS_AS(parse_region("", set), InputError);
    CHECK_THROWS_AS(parse_region("{ctg1:1-5", set), InputError);
    CHECK_THROWS_AS(parse_region("{ctg1}x", set), InputError);
    CHECK_THROWS_WITH(parse_region("chrQ:1-5", set),
                      Catch::Contains("unknown contig 'chrQ'") && Catch::Contains("closest names"));
    CHECK_THROWS_WITH(parse_region("nope", set), Catch::Contains("unknown contig 'nope'"));
}

TEST_CASE("parse_regions keeps order", "[genomics][regions]") {
    const auto out = parse_regions({"ctg2:1-5", "ctg1"}, small_set());
    REQUIRE(out.size() == 2);
    CHECK(out[0] == Interval{"ctg2", 0, 5, Strand::Unknown});
    CHECK(out[1] == Interval{"ctg1", 0, 120, Strand::Unknown});
}

TEST_CASE("read_bed_regions reads the fixture", "[genomics][regions][bed]") {
    const auto out = read_bed_regions(fixture_path("genomics/regions.bed"), small_set());
    REQUIRE(out.size() == 4);
    CHECK(out[0] == Interval{"ctg1", 0, 50, Strand::Forward});
    CHECK(out[1] == Interval{"ctg1", 60, 120, Strand::Reverse});
    CHECK(out[2] == Interval{"MT", 0, 16, Strand::Unknown});  // chrM through the alias
    CHECK(out[3] == Interval{"ctg2", 5, 5, Strand::Unknown});
}

TEST_CASE("read_bed_regions reads gzip-compressed BED", "[genomics][regions][bed]") {
    TempDir dir;
    const auto path = dir / "r.bed.gz";
    BGZF* fp = bgzf_open(path.c_str(), "wg");  // 'g': plain gzip
    REQUIRE(fp != nullptr);
    const std::string text = "ctg1\t1\t2\n";
    REQUIRE(bgzf_write(fp, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    REQUIRE(bgzf_close(fp) == 0);
    const auto out = read_bed_regions(path, small_set());
    REQUIRE(out.size() == 1);
    CHECK(out[0] == Interval{"ctg1", 1, 2, Strand::Unknown});
}

TEST_CASE("read_bed_regions errors carry path:line", "[genomics][regions][bed]") {
    const ContigSet set = small_set();
    TempDir dir;

    struct Case {
        std::string content;
        std::string expect;
        bool format_error;
    };

    const std::vector<Case> cases = {
        {"ctg1\t0\t10\nctg1\t5\n", ":2: expected at least 3 columns", true},
        {"# c\nctg1\tx\t10\n", ":2: invalid begin 'x'", true},
        {"ctg1\t0\t1e3\n", ":1: invalid end '1e3'", true},
        {"ctg1\t20\t10\n", ":1: begin 20 is after end 10", true},
        {"ctg1\t-1\t10\n", ":1: negative begin", true},
        {"ctg1\t0\t10\tn\t0\t?\n", ":1: invalid strand '?'", true},
        {"\n\nchr9\t0\t10\n", ":3; closest names", false},
        {"ctg1\t0\t121\n", ":1: end 121 is beyond the end of contig 'ctg1'", false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.content);
        const auto path = dir / "bad.bed";
        write_file(path, c.content);
        try {
            read_bed_regions(path, set);
            FAIL("expected an error");
        } catch (const FormatError& e) {
            CHECK(c.format_error);
            CHECK_THAT(std::string(e.what()), Catch::Contains(path.string() + c.expect));
        } catch (const InputError& e) {
            CHECK_FALSE(c.format_error);
            CHECK_THAT(std::string(e.what()), Catch::Contains(path.string() + c.expect));
        }
    }
    CHECK_THROWS_AS(read_bed_regions(dir / "missing.bed", set), IoError);
}

TEST_CASE("whole_genome gives one interval per contig in order", "[genomics][regions]") {
    const auto out = whole_genome(small_set());
    REQUIRE(out.size() == 5);
    CHECK(out[0] == Interval{"ctg1", 0, 120, Strand::Unknown});
    CHECK(out[2] == Interval{"HLA-A*01:01", 0, 30, Strand::Unknown});
    CHECK(out[4] == Interval{"1", 0, 25, Strand::Unknown});
}
