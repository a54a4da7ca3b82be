// The browser-track writers: bigWig (read back with genomics/track_reader and libBigWig's own
// reader for the header), BED9 and bedGraph lines, bgzip + tabix (queried through htslib), and
// .2bit (read back with an independent parser written here from the format description).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <bigWig.h>
#include <catch2/catch.hpp>
#include <htslib/bgzf.h>
#include <htslib/kstring.h>
#include <htslib/tbx.h>

#include "core/error.hpp"
#include "genomics/bed_writer.hpp"
#include "genomics/bigwig_writer.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"
#include "genomics/track_reader.hpp"
#include "genomics/twobit_writer.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope::genomics;
using evoscope::InputError;
using evoscope::test::read_file;
using evoscope::test::TempDir;
using evoscope::test::write_file;
namespace fs = std::filesystem;

namespace {

std::vector<ContigInfo> two_contigs() {
    return {{"chrB", 1000}, {"chrA", 500}};
}

struct BigWigFacts {
    int n_levels = 0;
    double min_value = 0;
    double max_value = 0;
    std::uint64_t n_bases = 0;
    std::vector<std::string> chroms;
};

BigWigFacts bigwig_facts(const fs::path& path) {
    BigWigFacts f;
    bigWigFile_t* bw = bwOpen(path.c_str(), nullptr, "r");
    REQUIRE(bw != nullptr);
    f.n_levels = bw->hdr->nLevels;
    f.min_value = bw->hdr->minVal;
    f.max_value = bw->hdr->maxVal;
    f.n_bases = bw->hdr->nBasesCovered;
    for (std::int64_t i = 0; i < bw->cl->nKeys; ++i) {
        f.chroms.emplace_back(bw->cl->chrom[i]);
    }
    bwClose(bw);
    return f;
}

std::vector<std::string> tabix_query(const fs::path& gz, const std::string& region) {
    std::vector<std::string> out;
    BGZF* fp = bgzf_open(gz.c_str(), "r");
    REQUIRE(fp != nullptr);
    tbx_t* tbx = tbx_index_load(gz.c_str());
    REQUIRE(tbx != nullptr);
    hts_itr_t* itr = tbx_itr_querys(tbx, region.c_str());
    if (itr != nullptr) {
        kstring_t line = KS_INITIALIZE;
        while (tbx_bgzf_itr_next(fp, tbx, itr, &line) >= 0) {
            out.emplace_back(line.s, line.l);
        }
        ks_free(&line);
        tbx_itr_destroy(itr);
    }
    tbx_destroy(tbx);
    bgzf_close(fp);
    return out;
}

// A .2bit reader from the format description (UCSC "2bit" help page), independent of the writer.
std::map<std::string, std::string> read_twobit(const fs::path& path) {
    const std::string d = read_file(path);
    auto u32 = [&](std::size_t at) {
        REQUIRE(at + 4 <= d.size());
        std::uint32_t v = 0;
        for (int i = 3; i >= 0; --i) {
            v = (v << 8) | static_cast<unsigned char>(d[at + static_cast<std::size_t>(i)]);
        }
        return v;
    };
    REQUIRE(u32(0) == 0x1A412743);
    REQUIRE(u32(4) == 0);
    const std::uint32_t n = u32(8);
    std::size_t at = 16;
    std::map<std::string, std::string> out;
    for (std::uint32_t s = 0; s < n; ++s) {
        const auto len = static_cast<unsigned char>(d[at]);
        const std::string name = d.substr(at + 1, len);
        std::size_t rec = u32(at + 1 + len);
        at += 1 + len + 4;
        const std::uint32_t dna = u32(rec);
        const std::uint32_t n_blocks = u32(rec + 4);
        std::vector<std::uint32_t> n_start, n_size;
        for (std::uint32_t i = 0; i < n_blocks; ++i) {
            n_start.push_back(u32(rec + 8 + 4 * i));
            n_size.push_back(u32(rec + 8 + 4 * n_blocks + 4 * i));
        }
        rec += 8 + 8 * n_blocks;
        const std::uint32_t m_blocks = u32(rec);
        std::vector<std::uint32_t> m_start, m_size;
        for (std::uint32_t i = 0; i < m_blocks; ++i) {
            m_start.push_back(u32(rec + 4 + 4 * i));
            m_size.push_back(u32(rec + 4 + 4 * m_blocks + 4 * i));
        }
        rec += 4 + 8 * m_blocks + 4;  // + reserved
        std::string seq;
        for (std::uint32_t i = 0; i < dna; ++i) {
            const auto byte = static_cast<unsigned char>(d[rec + i / 4]);
            seq += "TCAG"[(byte >> (6 - 2 * (i % 4))) & 3];
        }
        for (std::uint32_t i = 0; i < n_blocks; ++i) {
            for (std::uint32_t k = 0; k < n_size[i]; ++k) {
                seq[n_start[i] + k] = 'N';
            }
        }
        for (std::uint32_t i = 0; i < m_blocks; ++i) {
            for (std::uint32_t k = 0; k < m_size[i]; ++k) {
                const char c = seq[m_start[i] + k];
                seq[m_start[i] + k] = static_cast<char>(c - 'A' + 'a');
            }
        }
        out[name] = seq;
    }
    return out;
}

}  // namespace

TEST_CASE("sort_contigs_c_locale: strcmp order, as LC_ALL=C sort", "[unit][genomics][tracks]") {
    const auto s = sort_contigs_c_locale({{"chr10", 1}, {"chr2", 1}, {"Chr1", 1}, {"chr1", 1}});
    REQUIRE(s.size() == 4);
    CHECK(s[0].name == "Chr1");
    CHECK(s[1].name == "chr1");
    CHECK(s[2].name == "chr10");
    CHECK(s[3].name == "chr2");
}

TEST_CASE("BigWigWriter: entries read back, absent stays absent, equal neighbours merge",
          "[unit][genomics][tracks]") {
    TempDir tmp;
    const fs::path path = tmp / "t.bw";
    BigWigWriter w(path, two_contigs());
    w.add(0, 10, 11, 2.5F);
    w.add(0, 11, 12, 2.5F);  // merges with the previous
    w.add(0, 12, 13, 1.0F);
    w.add(0, 20, 30, 0.25F);  // a gap: 13..20 absent
    w.add(1, 0, 1, 7.0F);     // the second contig of the file
    w.add(1, 499, 500, -3.0F);
    REQUIRE(w.close());
    CHECK(w.n_entries() == 5);
    CHECK(w.n_bases() == 3 + 10 + 1 + 1);

    const ContigSet contigs(two_contigs());
    const TrackValues v = read_track(path, contigs, TrackFormat::BigWig);
    REQUIRE(v.size() == 2);
    REQUIRE(v[0].size() == 1000);
    CHECK(std::isnan(v[0][9]));
    CHECK(v[0][10] == 2.5F);
    CHECK(v[0][11] == 2.5F);
    CHECK(v[0][12] == 1.0F);
    for (int p = 13; p < 20; ++p) {
        CHECK(std::isnan(v[0][static_cast<std::size_t>(p)]));
    }
    CHECK(v[0][25] == 0.25F);
    CHECK(std::isnan(v[0][30]));
    CHECK(v[1][0] == 7.0F);
    CHECK(v[1][499] == -3.0F);
    CHECK(std::isnan(v[1][1]));

    const auto facts = bigwig_facts(path);
    CHECK(facts.n_levels > 0);
    CHECK(facts.chroms == std::vector<std::string>{"chrB", "chrA"});  // the order given
    CHECK(facts.min_value == -3.0);
    CHECK(facts.max_value == 7.0);
    CHECK(facts.n_bases == 15);
}

TEST_CASE("BigWigWriter: the header's maximum is right for a descending track",
          "[unit][genomics][tracks]") {
    TempDir tmp;
    BigWigWriter w(tmp / "d.bw", two_contigs());
    for (int i = 0; i < 100; ++i) {
        w.add(0, i, i + 1, static_cast<float>(100 - i));
    }
    REQUIRE(w.close());
    const auto facts = bigwig_facts(tmp / "d.bw");
    CHECK(facts.max_value == 100.0);
    CHECK(facts.min_value == 1.0);
}

TEST_CASE("BigWigWriter: many entries over several blocks read back exactly",
          "[unit][genomics][tracks]") {
    TempDir tmp;
    const std::vector<ContigInfo> contigs = {{"c", 200000}};
    BigWigWriter w(tmp / "big.bw", contigs);
    std::vector<float> expect(200000, std::nanf(""));
    for (std::int64_t p = 0; p < 200000; p += 3) {
        const auto v = static_cast<float>(p % 97) + 0.5F;
        w.add(0, p, p + 1, v);
        expect[static_cast<std::size_t>(p)] = v;
    }
    REQUIRE(w.close());
    CHECK(w.n_entries() == 66667);
    const TrackValues got = read_track(tmp / "big.bw", ContigSet(contigs), TrackFormat::BigWig);
    REQUIRE(got[0].size() == expect.size());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < expect.size(); ++i) {
        const bool same = std::isnan(expect[i]) ? std::isnan(got[0][i]) : got[0][i] == expect[i];
        mismatches += same ? 0 : 1;
    }
    CHECK(mismatches == 0);
    CHECK(bigwig_facts(tmp / "big.bw").n_levels > 0);
}

TEST_CASE("BigWigWriter: out-of-order and invalid entries are errors naming the file",
          "[unit][genomics][tracks]") {
    TempDir tmp;
    BigWigWriter w(tmp / "e.bw", two_contigs());
    w.add(1, 100, 110, 1.0F);
    CHECK_THROWS_WITH(w.add(0, 0, 1, 1.0F), Catch::Contains("e.bw") && Catch::Contains("order"));
    CHECK_THROWS_WITH(w.add(1, 105, 120, 1.0F), Catch::Contains("chrA:105-120"));
    CHECK_THROWS_AS(w.add(1, 490, 501, 1.0F), InputError);  // past the end
    CHECK_THROWS_AS(w.add(1, 200, 200, 1.0F), InputError);  // empty
    CHECK_THROWS_AS(w.add(1, 200, 201, std::nanf("")), InputError);
    CHECK_THROWS_AS(w.add(5, 0, 1, 1.0F), InputError);
    CHECK_THROWS_AS(BigWigWriter(tmp / "x.bw", {}), InputError);
    CHECK_THROWS_AS(BigWigWriter(tmp / "x.bw", {{"a", 5}, {"a", 6}}), InputError);
    CHECK_THROWS_AS(BigWigWriter(tmp / "x.bw", {{"a", std::int64_t{1} << 33}}), InputError);
}

TEST_CASE("BigWigWriter: no entries gives no file, an unclosed writer leaves none",
          "[unit][genomics][tracks]") {
    TempDir tmp;
    {
        BigWigWriter w(tmp / "empty.bw", two_contigs());
        CHECK_FALSE(w.close());
    }
    CHECK_FALSE(fs::exists(tmp / "empty.bw"));
    {
        BigWigWriter w(tmp / "dropped.bw", two_contigs());
        w.add(0, 1, 2, 1.0F);
    }
    CHECK_FALSE(fs::exists(tmp / "dropped.bw"));
}

TEST_CASE("format_bed9 and format_bedgraph: the columns BEDv1 asks for",
          "[unit][genomics][tracks]") {
    Bed9Record r;
    r.contig = "chr1";
    r.begin = 10;
    r.end = 20;
    r.name = "f/12|gene";
    r.score = 1000;
    r.strand = '-';
    r.thick_begin = 14;
    r.thick_end = 15;
    r.rgb = {31, 119, 180};
    CHECK(format_bed9(r) == "chr1\t10\t20\tf/12|gene\t1000\t-\t14\t15\t31,119,180\n");
    Bed9Record bad = r;
    bad.name = "two words";
    CHECK_THROWS_AS(format_bed9(bad), InputError);
    bad = r;
    bad.score = 1001;
    CHECK_THROWS_AS(format_bed9(bad), InputError);
    bad = r;
    bad.thick_end = 21;
    CHECK_THROWS_AS(format_bed9(bad), InputError);
    CHECK(format_bedgraph("c", 0, 5, 0.1F) == "c\t0\t5\t0.1\n");
    CHECK(format_bedgraph("c", 5, 6, 3.0F) == "c\t5\t6\t3\n");
    CHECK(std::stof("1e-05") == 1e-05F);
    CHECK(format_bedgraph("c", 5, 6, 1e-05F) == "c\t5\t6\t1e-05\n");
}

TEST_CASE("bgzip_and_index: tabix queries return the overlapping lines",
          "[unit][genomics][tracks]") {
    TempDir tmp;
    const fs::path bed = tmp / "p.bed";
    write_file(bed,
               "chrA\t5\t9\ta\t10\t+\t6\t7\t1,2,3\n"
               "chrA\t100\t120\tb\t20\t-\t110\t111\t1,2,3\n"
               "chrB\t0\t3\tc\t30\t.\t0\t1\t1,2,3\n");
    const fs::path gz = bgzip_and_index(bed);
    CHECK(gz == tmp / "p.bed.gz");
    CHECK_FALSE(fs::exists(bed));
    CHECK(fs::exists(tmp / "p.bed.gz.tbi"));
    CHECK(tabix_query(gz, "chrA:1-10") ==
          std::vector<std::string>{"chrA\t5\t9\ta\t10\t+\t6\t7\t1,2,3"});
    CHECK(tabix_query(gz, "chrA:115-200").size() == 1);
    CHECK(tabix_query(gz, "chrA:10-100").empty());  // 1-based 10..100 = 0-based [9, 100)
    CHECK(tabix_query(gz, "chrB").size() == 1);

    // Unsorted input is refused with the file's name, and nothing is left behind.
    write_file(tmp / "u.bed",
               "chrA\t100\t101\tx\n"
               "chrA\t5\t6\ty\n");
    CHECK_THROWS_WITH(bgzip_and_index(tmp / "u.bed"), Catch::Contains("u.bed"));
    CHECK_FALSE(fs::exists(tmp / "u.bed.gz"));
}

TEST_CASE("write_twobit: sequences, N runs, other IUPAC codes and lower case read back",
          "[unit][genomics][tracks]") {
    TempDir tmp;
    const std::string a = "ACGTNNNNacgtnRYACGTA";  // R and Y become N in 2bit
    std::string b;
    for (int i = 0; i < 3000; ++i) {
        b += "GATTACA"[i % 7];
    }
    b[1500] = 'N';
    std::string fa = ">seqA desc\n" + a + "\n>seqB\n";
    for (std::size_t i = 0; i < b.size(); i += 60) {
        fa += b.substr(i, 60) + "\n";
    }
    write_file(tmp / "g.fa", fa);
    const FastaReader fasta(tmp / "g.fa");
    write_twobit(fasta, tmp / "g.2bit");
    const auto got = read_twobit(tmp / "g.2bit");
    REQUIRE(got.size() == 2);
    CHECK(got.at("seqA") == "ACGTNNNNacgtnNNACGTA");
    CHECK(got.at("seqB") == b);
}
