#include "genomics/window.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "genomics/regions.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope::genomics;
using evoscope::InputError;
using evoscope::test::data_path;
using evoscope::test::fixture_path;
using evoscope::test::read_file;
using evoscope::test::TempDir;
using evoscope::test::write_file;
namespace fs = std::filesystem;

namespace {

// --- an independent reference: whole file in memory, hand-written complement ---------------

using evoscope::test::plain_fasta_text;
using evoscope::test::plain_revcomp;

std::string ref_upper(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

/// Expected bases of [begin, end) on a contig, wrapping past its end.
std::string ref_window(const std::string& contig_seq, std::int64_t begin, std::int64_t end) {
    std::string out;
    for (std::int64_t i = begin; i < end; ++i) {
        out +=
            contig_seq[static_cast<std::size_t>(i % static_cast<std::int64_t>(contig_seq.size()))];
    }
    return out;
}

std::vector<Window> collect(WindowStream& stream) {
    std::vector<Window> out;
    while (auto w = stream.next())
        out.push_back(std::move(*w));
    return out;
}

using Spans = std::vector<std::pair<std::int64_t, std::int64_t>>;

Spans spans_of(const std::vector<Window>& windows) {
    Spans out;
    for (const auto& w : windows)
        out.emplace_back(w.interval.begin, w.interval.end);
    return out;
}

/// Checks every window against the reference: bases, strand, case policy, wrap flag.
void check_against_reference(const std::vector<Window>& windows,
                             const std::map<std::string, std::string>& ref,
                             const WindowConfig& config) {
    for (const auto& w : windows) {
        const std::string& seq = ref.at(w.interval.contig);
        std::string expect = ref_window(seq, w.interval.begin, w.interval.end);
        if (w.interval.strand == Strand::Reverse)
            expect = plain_revcomp(expect);
        if (config.case_policy == CasePolicy::Upper)
            expect = ref_upper(expect);
        CAPTURE(format_region_1b(w.interval), strand_char(w.interval.strand));
        REQUIRE(w.sequence == expect);
        CHECK(w.wraps == (w.interval.end > static_cast<std::int64_t>(seq.size())));
    }
}

/// A small FASTA written into `dir`: contig "t" of 100 bases (lines of 30) and "s" of 7.
struct SmallGenome {
    TempDir dir;
    fs::path path;
    std::map<std::string, std::string> ref;
    FastaReader fasta;

    static fs::path write(const TempDir& d) {
        std::string t;
        for (int i = 0; i < 100; ++i)
            t += "ACGTTGCAAGGC"[(i * 7 + i / 13) % 12];
        t[40] = 'a';
        t[41] = 'c';
        std::string text = ">t\n";
        for (std::size_t i = 0; i < t.size(); i += 30)
            text += t.substr(i, 30) + "\n";
        text += ">s\nACGTNNA\n";
        write_file(d / "g.fa", text);
        return d / "g.fa";
    }

    SmallGenome() : path(write(dir)), ref(plain_fasta_text(read_file(path))), fasta(path) {}
};

WindowConfig tiles(std::int64_t window_bp, std::int64_t stride_bp, EndPolicy policy) {
    WindowConfig c;
    c.window_bp = window_bp;
    c.stride_bp = stride_bp;
    c.end_policy = policy;
    return c;
}

Spans run_spans(const FastaReader& fasta, const Interval& region, const WindowConfig& config) {
    WindowStream stream(fasta, {region}, config);
    return spans_of(collect(stream));
}

}  // namespace

TEST_CASE("windows equal an independent reader on the bundled genomes", "[genomics][window]") {
    TempDir cache;
    FastaOptions options;
    options.index_cache_dir = cache.path();
    options.index_beside_fasta = false;

    SECTION("C. trachomatis, 8192 bp at stride 4096, both strands, case kept") {
        const auto ref = plain_fasta_text(read_file(data_path("genomes/ctrachomatis.fa")));
        const FastaReader fasta(data_path("genomes/ctrachomatis.fa"), options);
        WindowConfig config = tiles(8192, 4096, EndPolicy::Shorter);
        config.strand = StrandMode::Both;
        config.case_policy = CasePolicy::Keep;
        WindowStream stream(fasta, whole_genome(ContigSet(fasta.contigs())), config);
        const auto windows = collect(stream);
        const auto length = static_cast<std::int64_t>(ref.begin()->second.size());
        // Starts 0, 4096, ... up to the first window that reaches the end.
        const std::int64_t n_starts = (length - 8192 + 4095) / 4096 + 1;
        REQUIRE(static_cast<std::int64_t>(windows.size()) == 2 * n_starts);
        CHECK(stream.n_emitted() == 2 * n_starts);
        for (std::size_t i = 0; i < windows.size(); ++i) {
            CHECK(windows[i].interval.begin == static_cast<std::int64_t>(i / 2) * 4096);
        }
        CHECK(windows.back().interval.end == length);
        check_against_reference(windows, ref, config);
    }

    SECTION("lambda, reverse strand, shift-back, upper-cased") {
        const auto ref = plain_fasta_text(read_file(data_path("genomes/lambda.fa")));
        const FastaReader fasta(data_path("genomes/lambda.fa"), options);
        WindowConfig config = tiles(1000, 700, EndPolicy::ShiftBack);
        config.strand = StrandMode::Reverse;
        const auto& name = fasta.contigs()[0].name;
        std::vector<Interval> regions = {
            {name, 0, 48502}, {name, 12345, 23456}, {name, 47000, 47500}};
        WindowStream stream(fasta, regions, config);
        const auto windows = collect(stream);
        check_against_reference(windows, ref, config);
        for (const auto& w : windows) {
            CHECK(w.interval.strand == Strand::Reverse);
            CHECK(w.interval.length() == 1000);
        }
        CHECK(windows.back().region_index == 2);
        CHECK(windows.back().interval == Interval{name, 46500, 47500, Strand::Reverse});
    }

    SECTION("A. thaliana chloroplast, small read chunks, drop, circular off") {
        const auto ref = plain_fasta_text(read_file(data_path("genomes/athaliana_chloroplast.fa")));
        const FastaReader fasta(data_path("genomes/athaliana_chloroplast.fa"), options);
        WindowConfig config = tiles(5000, 3333, EndPolicy::Drop);
        config.strand = StrandMode::Both;
        config.read_chunk_bp = 7001;  // many refills, windows straddle chunk ends
        WindowStream stream(fasta, whole_genome(ContigSet(fasta.contigs())), config);
        const auto windows = collect(stream);
        REQUIRE_FALSE(windows.empty());
        check_against_reference(windows, ref, config);
        for (const auto& w : windows)
            CHECK(w.interval.length() == 5000);
    }

    SECTION("A. thaliana chloroplast as a circular genome") {
        const auto ref = plain_fasta_text(read_file(data_path("genomes/athaliana_chloroplast.fa")));
        const FastaReader fasta(data_path("genomes/athaliana_chloroplast.fa"), options);
        WindowConfig config = tiles(8192, 8192, EndPolicy::Drop);
        config.circular = {"*"};
        WindowStream stream(fasta, whole_genome(ContigSet(fasta.contigs())), config);
        const auto windows = collect(stream);
        REQUIRE(windows.back().wraps);
        CHECK(windows.back().interval.end > 154478);
        check_against_reference(windows, ref, config);
    }
}

TEST_CASE("end-of-region policies", "[genomics][window]") {
    SmallGenome g;
    const Interval t{"t", 0, 100};
    SECTION("stride = window") {
        CHECK(run_spans(g.fasta, t, tiles(30, 30, EndPolicy::Shorter)) ==
              Spans{{0, 30}, {30, 60}, {60, 90}, {90, 100}});
        CHECK(run_spans(g.fasta, t, tiles(30, 30, EndPolicy::ShiftBack)) ==
              Spans{{0, 30}, {30, 60}, {60, 90}, {70, 100}});
        CHECK(run_spans(g.fasta, t, tiles(30, 30, EndPolicy::Drop)) ==
              Spans{{0, 30}, {30, 60}, {60, 90}});
    }
    SECTION("overlapping windows: one last window, not a run of shorter ones") {
        CHECK(run_spans(g.fasta, t, tiles(30, 20, EndPolicy::Shorter)) ==
              Spans{{0, 30}, {20, 50}, {40, 70}, {60, 90}, {80, 100}});
        CHECK(run_spans(g.fasta, t, tiles(30, 20, EndPolicy::ShiftBack)) ==
              Spans{{0, 30}, {20, 50}, {40, 70}, {60, 90}, {70, 100}});
        CHECK(run_spans(g.fasta, t, tiles(30, 20, EndPolicy::Drop)) ==
              Spans{{0, 30}, {20, 50}, {40, 70}, {60, 90}});
    }
    SECTION("exact fit: every policy agrees") {
        for (const auto policy : {EndPolicy::Shorter, EndPolicy::ShiftBack, EndPolicy::Drop}) {
            CHECK(run_spans(g.fasta, t, tiles(25, 25, policy)) ==
                  Spans{{0, 25}, {25, 50}, {50, 75}, {75, 100}});
        }
    }
    SECTION("a sub-region: ShiftBack may start before the region but stays in the contig") {
        const Interval r{"t", 10, 75};
        CHECK(run_spans(g.fasta, r, tiles(30, 30, EndPolicy::Shorter)) ==
              Spans{{10, 40}, {40, 70}, {70, 75}});
        CHECK(run_spans(g.fasta, r, tiles(30, 30, EndPolicy::ShiftBack)) ==
              Spans{{10, 40}, {40, 70}, {45, 75}});
    }
}

TEST_CASE("a region shorter than the window", "[genomics][window]") {
    SmallGenome g;
    CHECK(run_spans(g.fasta, {"t", 80, 95}, tiles(30, 30, EndPolicy::Shorter)) == Spans{{80, 95}});
    CHECK(run_spans(g.fasta, {"t", 80, 95}, tiles(30, 30, EndPolicy::ShiftBack)) ==
          Spans{{65, 95}});
    CHECK(run_spans(g.fasta, {"t", 10, 20}, tiles(30, 30, EndPolicy::ShiftBack)) == Spans{{0, 30}});
    CHECK(run_spans(g.fasta, {"t", 80, 95}, tiles(30, 30, EndPolicy::Drop)).empty());
    // Contig shorter than the window: ShiftBack gives the whole contig.
    CHECK(run_spans(g.fasta, {"s", 0, 7}, tiles(30, 30, EndPolicy::ShiftBack)) == Spans{{0, 7}});
    CHECK(run_spans(g.fasta, {"s", 2, 4}, tiles(30, 30, EndPolicy::ShiftBack)) == Spans{{0, 7}});
    CHECK(run_spans(g.fasta, {"s", 0, 7}, tiles(30, 30, EndPolicy::Drop)).empty());
    // An empty region yields nothing.
    CHECK(run_spans(g.fasta, {"t", 5, 5}, tiles(30, 30, EndPolicy::ShiftBack)).empty());

    WindowConfig c = tiles(30, 30, EndPolicy::ShiftBack);
    WindowStream stream(g.fasta, {{"t", 80, 95}}, c);
    const auto windows = collect(stream);
    check_against_reference(windows, g.ref, c);
}

TEST_CASE("stride larger than the window leaves gaps", "[genomics][window]") {
    SmallGenome g;
    CHECK(run_spans(g.fasta, {"t", 0, 100}, tiles(10, 25, EndPolicy::Shorter)) ==
          Spans{{0, 10}, {25, 35}, {50, 60}, {75, 85}});
    CHECK(run_spans(g.fasta, {"t", 0, 80}, tiles(10, 25, EndPolicy::Shorter)) ==
          Spans{{0, 10}, {25, 35}, {50, 60}, {75, 80}});
    CHECK(run_spans(g.fasta, {"t", 0, 80}, tiles(10, 25, EndPolicy::ShiftBack)) ==
          Spans{{0, 10}, {25, 35}, {50, 60}, {70, 80}});
}

TEST_CASE("circular contigs wrap around", "[genomics][window]") {
    SmallGenome g;
    WindowConfig c = tiles(30, 30, EndPolicy::Drop);
    c.circular = {"t"};
    c.strand = StrandMode::Both;
    WindowStream stream(g.fasta, {{"t", 0, 100}, {"s", 0, 7}}, c);
    const auto windows = collect(stream);
    // t: 4 windows x 2 strands, the last wrapping 20 bases; s is not circular and shorter
    // than the window, so Drop removes it.
    REQUIRE(windows.size() == 8);
    CHECK(spans_of(windows).back() == std::pair<std::int64_t, std::int64_t>{90, 120});
    CHECK(windows[6].wraps);
    CHECK(windows[6].sequence == g.ref["t"].substr(90) + g.ref["t"].substr(0, 20));
    check_against_reference(windows, g.ref, c);

    SECTION("overlapping windows: every start before the end is a full window") {
        WindowConfig o = tiles(30, 20, EndPolicy::Shorter);
        o.circular = {"*"};
        CHECK(run_spans(g.fasta, {"t", 0, 100}, o) ==
              Spans{{0, 30}, {20, 50}, {40, 70}, {60, 90}, {80, 110}});
    }
    SECTION("regions that stop before the contig end do not wrap") {
        WindowConfig o = tiles(30, 30, EndPolicy::Shorter);
        o.circular = {"t"};
        CHECK(run_spans(g.fasta, {"t", 0, 95}, o) == Spans{{0, 30}, {30, 60}, {60, 90}, {90, 95}});
    }
    SECTION("a contig shorter than the window falls back to the end policy") {
        WindowConfig o = tiles(30, 30, EndPolicy::Shorter);
        o.circular = {"*"};
        CHECK(run_spans(g.fasta, {"s", 0, 7}, o) == Spans{{0, 7}});
    }
}

TEST_CASE("windows above the N fraction are skipped and counted", "[genomics][window]") {
    TempDir dir;
    fs::copy_file(fixture_path("genomics/small.fa"), dir / "small.fa");
    const FastaReader fasta(dir / "small.fa");  // ctg1: N at 60..79
    WindowConfig c = tiles(30, 30, EndPolicy::Shorter);
    c.max_n_fraction = 0.5;
    {
        WindowStream stream(fasta, {{"ctg1", 0, 120}}, c);
        CHECK(spans_of(collect(stream)) == Spans{{0, 30}, {30, 60}, {90, 120}});  // [60,90): 2/3 N
        CHECK(stream.n_skipped_n() == 1);
        CHECK(stream.n_emitted() == 3);
    }
    {
        c.strand = StrandMode::Both;
        WindowStream stream(fasta, {{"ctg1", 0, 120}}, c);
        CHECK(collect(stream).size() == 6);
        CHECK(stream.n_skipped_n() == 2);  // both strands of the skipped window
    }
    {
        c.max_n_fraction = 0.0;
        c.strand = StrandMode::Forward;
        c.window_bp = c.stride_bp = 20;
        WindowStream stream(fasta, {{"ctg1", 0, 120}}, c);
        CHECK(spans_of(collect(stream)) ==
              Spans{{0, 20}, {20, 40}, {40, 60}, {80, 100}, {100, 120}});
        CHECK(stream.n_skipped_n() == 1);
    }
}

TEST_CASE("soft-masked bases: upper by default, or kept", "[genomics][window]") {
    TempDir dir;
    fs::copy_file(fixture_path("genomics/small.fa"), dir / "small.fa");
    const FastaReader fasta(dir / "small.fa");  // ctg1: lowercase at 10..19
    WindowConfig c = tiles(10, 10, EndPolicy::Shorter);
    c.strand = StrandMode::Both;
    {
        WindowStream stream(fasta, {{"ctg1", 10, 20}}, c);
        const auto windows = collect(stream);
        REQUIRE(windows.size() == 2);
        CHECK(windows[0].sequence == "ATGGACAACG");
        CHECK(windows[1].sequence == "CGTTGTCCAT");
    }
    {
        c.case_policy = CasePolicy::Keep;
        WindowStream stream(fasta, {{"ctg1", 5, 25}}, c);
        const auto windows = collect(stream);
        REQUIRE(windows.size() == 4);
        CHECK(windows[0].sequence == "GACGAatgga");
        CHECK(windows[1].sequence == "tccatTCGTC");
        CHECK(windows[2].sequence == "caacgACGGT");
        CHECK(windows[3].sequence == "ACCGTcgttg");
    }
    {
        // IUPAC codes in both cases through the reverse strand.
        c.case_policy = CasePolicy::Keep;
        c.window_bp = c.stride_bp = 37;
        c.strand = StrandMode::Reverse;
        WindowStream stream(fasta, {{"ctg2", 0, 37}}, c);
        const auto windows = collect(stream);
        REQUIRE(windows.size() == 1);
        CHECK(windows[0].sequence == plain_revcomp("ACGTRYKMBVDHSWNacgtrykmbvdhswnACGTacg"));
    }
}

TEST_CASE("StrandMode::Both emits + then - for each window", "[genomics][window]") {
    SmallGenome g;
    WindowConfig c = tiles(40, 40, EndPolicy::Shorter);
    c.strand = StrandMode::Both;
    WindowStream stream(g.fasta, {{"t", 0, 100}, {"s", 0, 7}}, c);
    const auto windows = collect(stream);
    REQUIRE(windows.size() == 8);
    for (std::size_t i = 0; i < windows.size(); i += 2) {
        CHECK(windows[i].interval.strand == Strand::Forward);
        CHECK(windows[i + 1].interval.strand == Strand::Reverse);
        CHECK(windows[i].interval.begin == windows[i + 1].interval.begin);
        CHECK(windows[i].interval.end == windows[i + 1].interval.end);
        CHECK(windows[i + 1].sequence == plain_revcomp(windows[i].sequence));
    }
    CHECK(windows[6].region_index == 1);
    CHECK(windows[6].sequence == "ACGTNNA");
    check_against_reference(windows, g.ref, c);
}

TEST_CASE("next_batch hands out windows in batches", "[genomics][window]") {
    SmallGenome g;
    WindowConfig c = tiles(10, 10, EndPolicy::Shorter);
    c.read_chunk_bp = 7;  // smaller than a window: every read is exactly one window
    WindowStream stream(g.fasta, {{"t", 0, 100}}, c);
    std::vector<Window> out;
    CHECK(stream.next_batch(out, 4) == 4);
    CHECK(stream.next_batch(out, 4) == 4);
    CHECK(stream.next_batch(out, 4) == 2);
    CHECK(stream.next_batch(out, 4) == 0);
    CHECK_FALSE(stream.next().has_value());
    REQUIRE(out.size() == 10);
    CHECK(stream.n_emitted() == 10);
    check_against_reference(out, g.ref, c);
}

TEST_CASE("window settings are validated", "[genomics][window]") {
    CHECK_NOTHROW(validate(WindowConfig{}));
    WindowConfig c;
    c.window_bp = 0;
    c.stride_bp = -5;
    c.max_n_fraction = 1.5;
    try {
        validate(c);
        FAIL("expected InputError");
    } catch (const InputError& e) {
        const std::string msg = e.what();
        CHECK_THAT(msg, Catch::Contains("window size must be > 0 (got 0)"));
        CHECK_THAT(msg, Catch::Contains("stride must be > 0 (got -5)"));
        CHECK_THAT(msg, Catch::Contains("max N fraction must be within [0, 1] (got 1.5)"));
    }
    c = WindowConfig{};
    c.max_n_fraction = -0.1;
    CHECK_THROWS_AS(validate(c), InputError);

    CHECK(parse_strand_mode("+") == StrandMode::Forward);
    CHECK(parse_strand_mode("-") == StrandMode::Reverse);
    CHECK(parse_strand_mode("both") == StrandMode::Both);
    CHECK_THROWS_WITH(parse_strand_mode("up"), Catch::Contains("+, -, both"));
    CHECK(parse_end_policy("shorter") == EndPolicy::Shorter);
    CHECK(parse_end_policy("shift") == EndPolicy::ShiftBack);
    CHECK(parse_end_policy("drop") == EndPolicy::Drop);
    CHECK_THROWS_WITH(parse_end_policy("pad"), Catch::Contains("shorter, shift, drop"));
    CHECK(parse_case_policy("upper") == CasePolicy::Upper);
    CHECK(parse_case_policy("keep") == CasePolicy::Keep);
    CHECK_THROWS_WITH(parse_case_policy("lower"), Catch::Contains("upper, keep"));

    SmallGenome g;
    CHECK_THROWS_AS(WindowStream(g.fasta, {{"t", 0, 101}}, WindowConfig{}), InputError);
    CHECK_THROWS_WITH(WindowStream(g.fasta, {{"tt", 0, 10}}, WindowConfig{}),
                      Catch::Contains("unknown contig 'tt'"));
    CHECK_THROWS_AS(WindowStream(g.fasta, {{"t", 0, 10}}, c), InputError);
}

TEST_CASE("bytes that cannot be complemented are reported with the window", "[genomics][window]") {
    TempDir dir;
    write_file(dir / "x.fa", ">x\nACGTXACGTA\n");
    const FastaReader fasta(dir / "x.fa");
    WindowConfig c = tiles(5, 5, EndPolicy::Shorter);
    {
        WindowStream forward(fasta, {{"x", 0, 10}}, c);
        CHECK(collect(forward).size() == 2);  // + strand passes bytes through
    }
    c.strand = StrandMode::Reverse;
    WindowStream reverse(fasta, {{"x", 0, 10}}, c);
    CHECK_THROWS_WITH(reverse.next(), Catch::Contains("'X'") && Catch::Contains("x:1-5"));
}
