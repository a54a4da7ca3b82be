#include "genomics/fasta_reader.hpp"

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <htslib/bgzf.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope::genomics;
using evoscope::FormatError;
using evoscope::InputError;
using evoscope::IoError;
using evoscope::test::data_path;
using evoscope::test::fixture_path;
using evoscope::test::read_file;
using evoscope::test::TempDir;
using evoscope::test::write_file;
namespace fs = std::filesystem;

namespace {

struct Record {
    std::string name;
    std::string seq;
};

// Independent reader: the whole file in memory, header words and concatenated lines.
std::vector<Record> parse_fasta_text(const std::string& text) {
    std::vector<Record> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string::npos)
            nl = text.size();
        std::string line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.empty())
            continue;
        if (line[0] == '>') {
            out.push_back({line.substr(1, line.find_first_of(" \t") - 1), {}});
        } else {
            out.back().seq += line;
        }
    }
    return out;
}

// Options that never write beside the bundled genomes in data/.
FastaOptions cache_only(const TempDir& cache) {
    FastaOptions o;
    o.index_cache_dir = cache.path();
    o.index_beside_fasta = false;
    return o;
}

void write_bgzf(const fs::path& path, const std::string& content, const char* mode = "w") {
    BGZF* fp = bgzf_open(path.c_str(), mode);
    REQUIRE(fp != nullptr);
    REQUIRE(bgzf_write(fp, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    REQUIRE(bgzf_close(fp) == 0);
}

std::string expect_format_error(const fs::path& fasta, FastaOptions options = {}) {
    try {
        FastaReader r(fasta, std::move(options));
    } catch (const FormatError& e) {
        return e.what();
    }
    FAIL("expected FormatError for " << fasta);
    return {};
}

}  // namespace

TEST_CASE("fetch matches an independent parser on the bundled genomes", "[genomics][fasta]") {
    TempDir cache;
    std::mt19937_64 rng(12345);
    for (const char* genome :
         {"genomes/ctrachomatis.fa", "genomes/lambda.fa", "genomes/athaliana_chloroplast.fa"}) {
        CAPTURE(genome);
        const auto records = parse_fasta_text(read_file(data_path(genome)));
        const FastaReader fasta(data_path(genome), cache_only(cache));
        REQUIRE(fasta.contigs().size() == records.size());
        for (std::size_t i = 0; i < records.size(); ++i) {
            const auto& rec = records[i];
            const auto n = static_cast<std::int64_t>(rec.seq.size());
            CHECK(fasta.contigs()[i].name == rec.name);
            CHECK(fasta.contigs()[i].length == n);
            CHECK(fasta.contig_length(rec.name) == n);
            CHECK(fasta.fetch(rec.name, 0, 1) == rec.seq.substr(0, 1));
            CHECK(fasta.fetch(rec.name, n - 1, n) == rec.seq.substr(rec.seq.size() - 1));
            CHECK(fasta.fetch(rec.name, 0, n) == rec.seq);
            for (int k = 0; k < 200; ++k) {
                const auto b = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
                const auto len = static_cast<std::int64_t>(rng() % 5000);
                const auto e = std::min(n, b + len);
                REQUIRE(
                    fasta.fetch(rec.name, b, e) ==
                    rec.seq.substr(static_cast<std::size_t>(b), static_cast<std::size_t>(e - b)));
            }
        }
    }
}

TEST_CASE("fetch checks contig and range", "[genomics][fasta]") {
    TempDir dir;
    fs::copy_file(fixture_path("genomics/small.fa"), dir / "small.fa");
    const FastaReader fasta(dir / "small.fa");
    CHECK(fasta.fetch("ctg1", 10, 20) == "atggacaacg");  // soft-masking is preserved
    CHECK(fasta.fetch("ctg1", 5, 5).empty());
    CHECK(fasta.fetch("HLA-A*01:01", 0, 3) == "CTC");
    CHECK(fasta.fetch("1", 8, 22) == "GGGGCCTGCGATGT");  // across lines of 10
    CHECK_THROWS_AS(fasta.fetch("ctg1", -1, 5), InputError);
    CHECK_THROWS_AS(fasta.fetch("ctg1", 10, 5), InputError);
    CHECK_THROWS_WITH(fasta.fetch("ctg1", 100, 121),
                      Catch::Contains("outside contig 'ctg1' (length 120)"));
    CHECK_THROWS_WITH(
        fasta.fetch("ctg3", 0, 1),
        Catch::Contains("unknown contig 'ctg3'") && Catch::Contains("closest names: ctg1"));
    CHECK_FALSE(fasta.contig_length("ctg3").has_value());
    CHECK_FALSE(fasta.is_bgzf());
}

TEST_CASE("a missing index is built beside the FASTA", "[genomics][fasta]") {
    TempDir dir;
    fs::copy_file(fixture_path("genomics/small.fa"), dir / "small.fa");
    const FastaReader fasta(dir / "small.fa");
    CHECK(fasta.index_path() == dir / "small.fa.fai");
    CHECK(fs::exists(dir / "small.fa.fai"));
    CHECK(read_file(dir / "small.fa.fai").substr(0, 14) == "ctg1\t120\t44\t50");
    // No temporaries left behind.
    CHECK(evoscope::test::list_dir(dir.path()) ==
          std::vector<std::string>{"small.fa", "small.fa.fai"});
}

TEST_CASE("a stale index is rebuilt", "[genomics][fasta]") {
    TempDir dir;
    const auto fa = dir / "x.fa";
    write_file(fa, ">a\nACGT\n");
    {
        const FastaReader first(fa);
        CHECK(first.contig_length("a") == 4);
    }
    write_file(fa, ">a\nACGTACGTAA\n>b\nCC\n");
    fs::last_write_time(dir / "x.fa.fai", fs::last_write_time(fa) - std::chrono::seconds(10));
    const FastaReader second(fa);
    CHECK(second.contig_length("a") == 10);
    CHECK(second.fetch("b", 0, 2) == "CC");
    CHECK(fs::last_write_time(dir / "x.fa.fai") >= fs::last_write_time(fa));
}

TEST_CASE("an index that no longer fits the file is detected on fetch", "[genomics][fasta]") {
    TempDir dir;
    const auto fa = dir / "x.fa";
    write_file(fa, ">a\nACGTACGT\nACGTACGT\nACGT\n");
    { const FastaReader first(fa); }
    // Rewrap to lines of 4 and make the FASTA look older than its index.
    write_file(fa, ">a\nACGT\nACGT\nACGT\nACGT\nACGT\n");
    fs::last_write_time(fa, fs::last_write_time(dir / "x.fa.fai") - std::chrono::seconds(10));
    const FastaReader stale(fa);
    CHECK(stale.fetch("a", 0, 4) == "ACGT");  // the first line still fits
    CHECK_THROWS_AS(stale.fetch("a", 0, 12), IoError);
}

TEST_CASE("the index goes to the cache directory when asked or when the folder is read-only",
          "[genomics][fasta]") {
    TempDir dir;
    TempDir cache;
    fs::create_directories(dir / "a");
    fs::create_directories(dir / "b");
    fs::copy_file(fixture_path("genomics/small.fa"), dir / "a" / "small.fa");
    fs::copy_file(fixture_path("genomics/small.fa"), dir / "b" / "small.fa");

    SECTION("FastaOptions::index_beside_fasta = false") {
        FastaOptions options;
        options.index_cache_dir = cache / "nested" / "dir";  // created on demand
        options.index_beside_fasta = false;
        const FastaReader a(dir / "a" / "small.fa", options);
        const FastaReader b(dir / "b" / "small.fa", options);
        CHECK(a.index_path().parent_path() == cache / "nested" / "dir");
        CHECK(a.index_path() != b.index_path());  // unique per absolute path
        CHECK_THAT(a.index_path().filename().string(), Catch::EndsWith("-small.fa.fai"));
        CHECK_FALSE(fs::exists(dir / "a" / "small.fa.fai"));
        CHECK(a.fetch("MT", 0, 4) == "AAGA");
        // A second open reuses the cached index.
        const auto t = fs::last_write_time(a.index_path());
        const FastaReader again(dir / "a" / "small.fa", options);
        CHECK(again.index_path() == a.index_path());
        CHECK(fs::last_write_time(again.index_path()) == t);
    }

    SECTION("EVOSCOPE_CACHE_DIR is the default cache directory") {
        const char* old = std::getenv("EVOSCOPE_CACHE_DIR");
        const std::string saved = old != nullptr ? old : "";
        ::setenv("EVOSCOPE_CACHE_DIR", cache.path().c_str(), 1);
        FastaOptions options;
        options.index_beside_fasta = false;
        const FastaReader a(dir / "a" / "small.fa", options);
        if (old != nullptr) {
            ::setenv("EVOSCOPE_CACHE_DIR", saved.c_str(), 1);
        } else {
            ::unsetenv("EVOSCOPE_CACHE_DIR");
        }
        CHECK(a.index_path().parent_path() == cache.path());
    }

    SECTION("a folder nobody can create files in, even root: /proc/self/fd") {
        // /proc/self/fd/N opens the FASTA, but no file can be created beside it, so this is the
        // genuine read-only fallback whatever our uid.
        const int fd = ::open((dir / "a" / "small.fa").c_str(), O_RDONLY);
        REQUIRE(fd >= 0);
        const fs::path via_proc = "/proc/self/fd/" + std::to_string(fd);
        FastaOptions options;
        options.index_cache_dir = cache.path();
        {
            const FastaReader fasta(via_proc, options);
            CHECK(fasta.index_path().parent_path() == cache.path());
            CHECK(fasta.fetch("ctg1", 0, 5) == "GGCGG");
        }
        ::close(fd);
    }

    SECTION("chmod a-w folder (only meaningful when not root)") {
        if (::geteuid() == 0) {
            WARN(
                "running as root: chmod'ed folders stay writable, the /proc/self/fd section "
                "covers the read-only fallback instead");
        } else {
            fs::permissions(
                dir / "b",
                fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                fs::perm_options::remove);
            FastaOptions options;
            options.index_cache_dir = cache.path();
            const FastaReader fasta(dir / "b" / "small.fa", options);
            CHECK(fasta.index_path().parent_path() == cache.path());
            CHECK_FALSE(fs::exists(dir / "b" / "small.fa.fai"));
        }
    }
}

TEST_CASE("bgzip-compressed and plain FASTA give identical sequence", "[genomics][fasta][bgzf]") {
    TempDir dir;
    const std::string text = read_file(data_path("genomes/ctrachomatis.fa"));
    write_bgzf(dir / "ct.fa.gz", text);  // about 16 BGZF blocks
    TempDir cache;
    const FastaReader plain(data_path("genomes/ctrachomatis.fa"), cache_only(cache));
    const FastaReader packed(dir / "ct.fa.gz");
    CHECK(packed.is_bgzf());
    CHECK(fs::exists(dir / "ct.fa.gz.gzi"));
    CHECK(packed.index_path() == dir / "ct.fa.gz.fai");
    REQUIRE(packed.contigs().size() == plain.contigs().size());
    const auto& ctg = plain.contigs()[0];
    CHECK(packed.contigs()[0].name == ctg.name);
    CHECK(packed.contigs()[0].length == ctg.length);
    std::mt19937_64 rng(7);
    for (int k = 0; k < 300; ++k) {
        const auto b = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(ctg.length));
        const auto e = std::min(ctg.length, b + static_cast<std::int64_t>(rng() % 70000));
        REQUIRE(packed.fetch(ctg.name, b, e) == plain.fetch(ctg.name, b, e));
    }
    // Index in the cache directory: both .fai and .gzi go there. (A fresh index beside the
    // file is always used, so take a copy that has none.)
    fs::create_directories(dir / "copy");
    fs::copy_file(dir / "ct.fa.gz", dir / "copy" / "ct.fa.gz");
    TempDir cache2;
    const FastaReader cached(dir / "copy" / "ct.fa.gz", cache_only(cache2));
    CHECK(evoscope::test::list_dir(dir / "copy") == std::vector<std::string>{"ct.fa.gz"});
    CHECK(cached.index_path().parent_path() == cache2.path());
    CHECK(evoscope::test::list_dir(cache2.path()).size() == 2);
    CHECK(cached.fetch(ctg.name, 500'000, 500'100) == plain.fetch(ctg.name, 500'000, 500'100));
}

TEST_CASE("plain gzip is refused with a pointer to bgzip", "[genomics][fasta][bgzf]") {
    TempDir dir;
    write_bgzf(dir / "x.fa.gz", ">a\nACGT\n", "wg");
    const std::string msg = expect_format_error(dir / "x.fa.gz");
    CHECK_THAT(msg, Catch::Contains("bgzip") && Catch::Contains("x.fa.gz"));
    CHECK_FALSE(fs::exists(dir / "x.fa.gz.fai"));
}

TEST_CASE("irregular line lengths are refused with the line number", "[genomics][fasta]") {
    TempDir dir;
    SECTION("a line longer than the first") {
        write_file(dir / "x.fa", ">a\nACGT\nACGT\nAC\n>b desc\nACGT\nACGTA\nAC\n");
        const std::string msg = expect_format_error(dir / "x.fa");
        CHECK_THAT(msg,
                   Catch::Contains((dir / "x.fa").string() + ":7:") &&
                       Catch::Contains("sequence 'b'") && Catch::Contains("line 7 has 5 bases"));
    }
    SECTION("a short line that is not the last of its record") {
        write_file(dir / "x.fa", ">a\nACGT\nAC\nACGT\n");
        const std::string msg = expect_format_error(dir / "x.fa");
        CHECK_THAT(msg, Catch::Contains(":3:") && Catch::Contains("line 3 has 2 bases"));
    }
    SECTION("a blank line inside a record") {
        write_file(dir / "x.fa", ">a\nACGT\n\nACGT\n");
        CHECK_THAT(expect_format_error(dir / "x.fa"), Catch::Contains(":3: blank line"));
    }
    SECTION("bgzip-compressed, found through BGZF") {
        std::string text = ">a\n";
        for (int i = 0; i < 3000; ++i)
            text += "ACGTACGTAC\n";  // lines 2..3001
        text += "ACGTACGTACG\n";     // line 3002: too long
        write_bgzf(dir / "x.fa.gz", text);
        CHECK_THAT(expect_format_error(dir / "x.fa.gz"), Catch::Contains(":3002:"));
    }
    CHECK(evoscope::test::list_dir(dir.path()).size() == 1);  // nothing half-written
}

TEST_CASE("two records with the same name are refused, naming both header lines",
          "[genomics][fasta]") {
    TempDir dir;
    write_file(dir / "dup.fa", ">a first copy\nACGT\n>b\nGGGG\n>a second copy\nTTTT\n");
    const std::string msg = expect_format_error(dir / "dup.fa");
    CHECK_THAT(msg,
               Catch::Contains((dir / "dup.fa").string() + ":5:") &&
                   Catch::Contains("'a' is used twice") &&
                   Catch::Contains("line 1 '>a first copy'") &&
                   Catch::Contains("line 5 '>a second copy'"));
    CHECK(evoscope::test::list_dir(dir.path()).size() == 1);  // no index kept
}

TEST_CASE("files that are not FASTA are refused", "[genomics][fasta]") {
    TempDir dir;
    write_file(dir / "empty.fa", "");
    CHECK_THAT(expect_format_error(dir / "empty.fa"), Catch::Contains("empty"));
    write_file(dir / "text.fa", "hello world\n");
    CHECK_THAT(expect_format_error(dir / "text.fa"), Catch::Contains(":1: not FASTA"));
    write_file(dir / "reads.fq", "@r1\nACGT\n+\nIIII\n");
    CHECK_THAT(expect_format_error(dir / "reads.fq"), Catch::Contains("FASTQ"));
    write_file(dir / "nohdr.fa", ">a\nACGT\n>b\n");
    CHECK_THAT(expect_format_error(dir / "nohdr.fa"), Catch::Contains("'b' has no sequence"));
}

TEST_CASE("missing or unreadable FASTA is an IoError naming the path", "[genomics][fasta]") {
    TempDir dir;
    CHECK_THROWS_AS(FastaReader(dir / "missing.fa"), IoError);
    CHECK_THROWS_WITH(FastaReader(dir / "missing.fa"), Catch::Contains("missing.fa"));
    CHECK_THROWS_AS(FastaReader(dir.path()), IoError);
}

TEST_CASE("CRLF line endings are indexed", "[genomics][fasta]") {
    TempDir dir;
    write_file(dir / "crlf.fa", ">a\r\nACGT\r\nGG\r\n");
    const FastaReader fasta(dir / "crlf.fa");
    CHECK(fasta.fetch("a", 0, 6) == "ACGTGG");
}

TEST_CASE("clone() and moves give independent working readers", "[genomics][fasta]") {
    TempDir dir;
    fs::copy_file(fixture_path("genomics/small.fa"), dir / "small.fa");
    FastaReader original(dir / "small.fa");
    const FastaReader copy = original.clone();
    CHECK(copy.path() == original.path());
    CHECK(copy.index_path() == original.index_path());
    // Interleaved reads on both handles.
    for (std::int64_t b = 0; b < 110; b += 7) {
        CHECK(copy.fetch("ctg1", b, b + 10) == original.fetch("ctg1", b, b + 10));
    }
    FastaReader moved(std::move(original));
    CHECK(moved.fetch("ctg2", 0, 4) == "ACGT");
    CHECK(copy.fetch("ctg2", 0, 4) == "ACGT");
}
