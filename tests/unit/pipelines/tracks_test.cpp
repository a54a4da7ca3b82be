// The tracks stage in process on a hand-made store: bigWig values, absent positions, merging,
// bins, strand files, peak BED9, the deepTools matrix (a '-' gene's row reversed), the browser
// configurations, the manifest, and clean errors that leave no output folder.
#include "pipelines/tracks.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <bigWig.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <zlib.h>

#include "core/error.hpp"
#include "genomics/regions.hpp"
#include "genomics/track_reader.hpp"
#include "pipelines/tracks_configs.hpp"
#include "store/feature_store.hpp"
#include "tests/support/test_support.hpp"

using evoscope::test::read_file;
using evoscope::test::TempDir;
using evoscope::test::tsv_rows;
using evoscope::test::write_file;
namespace fs = std::filesystem;
namespace pl = evoscope::pipelines;
namespace g = evoscope::genomics;

namespace {

constexpr std::int64_t kLenB = 10000;     // chrB, first in the FASTA
constexpr std::int64_t kLenA = 6000;      // chrA
constexpr std::int64_t kCoveredA = 3000;  // chrA '+' rows stored only for [0, 3000)

/// dense[feature][position] for one contig and strand.
using Dense = std::vector<std::vector<float>>;

void append_dense(evoscope::sae::FeatureStoreWriter& w,
                  const std::string& contig,
                  char strand,
                  const Dense& dense,
                  std::int64_t n) {
    std::vector<std::int64_t> row_ptr{0};
    std::vector<std::uint32_t> ids;
    std::vector<float> values;
    for (std::int64_t p = 0; p < n; ++p) {
        for (std::size_t f = 0; f < dense.size(); ++f) {
            const float v = dense[f][static_cast<std::size_t>(p)];
            if (v != 0.0F) {
                ids.push_back(static_cast<std::uint32_t>(f));
                values.push_back(v);
            }
        }
        row_ptr.push_back(static_cast<std::int64_t>(ids.size()));
    }
    w.append(contig, 0, n, strand, row_ptr, ids, values);
}

/// The fixture: FASTA (chrB, chrA), a store with 4 features, a GFF3 with a '+' and a '-' gene,
/// and an align features.tsv labelling f/1 "gene".
///   f/0: never active.
///   f/1: chrB '+' 100..109 = 1..10 (max 10); chrB '+' 200..204 = 3 (one merged entry);
///        chrA '-' 50 = 5; chrA '+' 2998 = 8.
///   f/2: chrB '-' 5000..5009 = 2 only (no '+' bigWig).
///   f/3: chrB '+' 900..999 = 1 (upstream of the '+' gene at 1000..2000);
///        chrB '-' 7000..7999 = position - 6999 (upstream of the '-' gene at 6000..7000).
struct Fixture {
    TempDir tmp;

    Fixture() {
        std::string fa = ">chrB\n";
        for (std::int64_t i = 0; i < kLenB; i += 100) {
            fa += std::string(100, "ACGT"[(i / 100) % 4]) + "\n";
        }
        fa += ">chrA\n";
        for (std::int64_t i = 0; i < kLenA; i += 100) {
            fa += std::string(100, 'G') + "\n";
        }
        write_file(tmp / "g.fa", fa);
        write_file(tmp / "g.gff3",
                   "##gff-version 3\n"
                   "chrB\tt\tgene\t1001\t2000\t.\t+\t.\tID=gP;Name=plusGene\n"
                   "chrB\tt\tgene\t6001\t7000\t.\t-\t.\tID=gM;Name=minusGene\n"
                   "chrB\tt\tCDS\t1001\t1500\t.\t+\t0\tParent=gP\n");
        create_directories(tmp / "align");
        write_file(tmp / "align" / "features.tsv",
                   "feature\tlabel\tconcept\tthreshold\tsense\tval_score\ttest_score\n"
                   "f/0\t-\t-\tNA\tNA\t0\t0\n"
                   "f/1\tgene\tgene\t0\tsame\t0.9\t0.8\n"
                   "f/2\t-\tCDS\t0\tsame\t0.3\t0.1\n"
                   "f/3\tgene\tgene\t0\tsame\t0.7\t0.6\n");

        evoscope::sae::FeatureStoreHeader h;
        h.d_sae = 4;
        h.contigs = {{"chrB", kLenB}, {"chrA", kLenA}};
        h.site = "blocks.1";
        evoscope::sae::FeatureStoreWriter w(tmp / "features", h, 512);
        Dense b_plus(4, std::vector<float>(kLenB, 0.0F));
        Dense b_minus = b_plus;
        Dense a_plus(4, std::vector<float>(kLenA, 0.0F));
        Dense a_minus = a_plus;
        for (int p = 100; p < 110; ++p) {
            b_plus[1][static_cast<std::size_t>(p)] = static_cast<float>(p - 99);
        }
        for (int p = 200; p < 205; ++p) {
            b_plus[1][static_cast<std::size_t>(p)] = 3.0F;
        }
        a_minus[1][50] = 5.0F;
        a_plus[1][2998] = 8.0F;
        for (int p = 5000; p < 5010; ++p) {
            b_minus[2][static_cast<std::size_t>(p)] = 2.0F;
        }
        for (int p = 900; p < 1000; ++p) {
            b_plus[3][static_cast<std::size_t>(p)] = 1.0F;
        }
        for (int p = 7000; p < 8000; ++p) {
            b_minus[3][static_cast<std::size_t>(p)] = static_cast<float>(p - 6999);
        }
        append_dense(w, "chrB", '+', b_plus, kLenB);
        append_dense(w, "chrB", '-', b_minus, kLenB);
        append_dense(w, "chrA", '+', a_plus, kCoveredA);
        append_dense(w, "chrA", '-', a_minus, kLenA);
        w.commit();
    }

    pl::TracksOptions options() const {
        pl::TracksOptions o;
        o.features = (tmp / "features").string();
        o.fasta = (tmp / "g.fa").string();
        o.output = (tmp / "out").string();
        return o;
    }

    static void create_directories(const fs::path& p) { fs::create_directories(p); }
};

g::TrackValues read_bw(const fs::path& path) {
    const g::ContigSet contigs({{"chrB", kLenB}, {"chrA", kLenA}});
    return g::read_track(path, contigs, g::TrackFormat::BigWig);
}

std::vector<std::string> bigwig_chroms(const fs::path& path, int* n_levels) {
    bigWigFile_t* bw = bwOpen(path.c_str(), nullptr, "r");
    REQUIRE(bw != nullptr);
    std::vector<std::string> out;
    for (std::int64_t i = 0; i < bw->cl->nKeys; ++i) {
        out.emplace_back(bw->cl->chrom[i]);
    }
    *n_levels = bw->hdr->nLevels;
    bwClose(bw);
    return out;
}

std::string gunzip(const fs::path& path) {
    gzFile gz = gzopen(path.c_str(), "rb");
    REQUIRE(gz != nullptr);
    std::string out;
    char buf[1 << 14];
    int n = 0;
    while ((n = gzread(gz, buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    gzclose(gz);
    return out;
}

}  // namespace

TEST_CASE("tracks: bigWigs per strand hold the store's values, zeros and gaps are absent",
          "[unit][pipelines][tracks]") {
    Fixture fx;
    auto o = fx.options();
    o.feature_ids = "0-3";
    o.align = (fx.tmp / "align").string();
    const auto r = pl::run_tracks(o);
    CHECK(r.features == std::vector<std::uint32_t>{1, 2, 3});
    CHECK(r.inactive == std::vector<std::uint32_t>{0});
    CHECK(r.n_passes == 1);
    const fs::path out = fx.tmp / "out";

    // f/1 '+': the ramp and the merged run of 3s; everything else absent.
    const auto v = read_bw(out / "bigwig/f1.plus.bw");
    REQUIRE(v[0].size() == kLenB);
    REQUIRE(v[1].size() == kLenA);
    for (int p = 100; p < 110; ++p) {
        CHECK(v[0][static_cast<std::size_t>(p)] == static_cast<float>(p - 99));
    }
    CHECK(std::isnan(v[0][99]));
    CHECK(std::isnan(v[0][110]));  // covered, feature inactive: absent, not 0
    CHECK(v[0][202] == 3.0F);
    CHECK(v[1][2998] == 8.0F);
    CHECK(std::isnan(v[1][4000]));  // not covered on '+'
    const auto m = read_bw(out / "bigwig/f1.minus.bw");
    REQUIRE(m[1].size() == kLenA);
    CHECK(m[1][50] == 5.0F);
    CHECK(m[0].empty());  // '+' values are not in the '-' file: nothing on chrB

    int levels = 0;
    CHECK(bigwig_chroms(out / "bigwig/f1.plus.bw", &levels) ==
          std::vector<std::string>{"chrA", "chrB"});  // C-locale order, not the FASTA's
    CHECK(levels > 0);

    // Entries: 10 + 1 merged on chrB, 1 on chrA.
    bool found = false;
    for (const auto& f : r.files) {
        if (f.path == "bigwig/f1.plus.bw") {
            found = true;
            CHECK(f.n_records == 12);
            CHECK(f.label == "gene");
            CHECK(f.strand == '+');
        }
    }
    CHECK(found);
    // f/2 is active on '-' only: no '+' file. f/0 is never active: no files.
    CHECK(fs::exists(out / "bigwig/f2.minus.bw"));
    CHECK_FALSE(fs::exists(out / "bigwig/f2.plus.bw"));
    CHECK_FALSE(fs::exists(out / "bigwig/f0.plus.bw"));
    CHECK_FALSE(fs::exists(out / "peaks/f0.peaks.bed"));
}

TEST_CASE("tracks: --bin-size takes the mean over the bin's covered positions",
          "[unit][pipelines][tracks]") {
    Fixture fx;
    auto o = fx.options();
    o.feature_ids = "1";
    o.bin_size = 7;
    o.bedgraph = true;
    pl::run_tracks(o);
    const auto v = read_bw(fx.tmp / "out/bigwig/f1.plus.bw");
    REQUIRE(v[0].size() == kLenB);
    REQUIRE(v[1].size() == kLenA);
    // Bin [98, 105): values 1..6 at 100..105? 100..104 are 1..5 -> sum 15 over 7 covered.
    CHECK(v[0][98] == Approx(15.0 / 7.0));
    CHECK(v[0][104] == Approx(15.0 / 7.0));
    // Bin [2996, 3003) on chrA '+': covered 2996..2999 only (4 positions), one value 8 -> 2.
    CHECK(v[1][2996] == 2.0F);
    CHECK(v[1][3002] == 2.0F);  // the entry spans the whole bin
    CHECK(std::isnan(v[1][3003]));
    // The bedGraph holds the same entries.
    const auto bg = tsv_rows(read_file(fx.tmp / "out/bedgraph/f1.plus.bedGraph"));
    REQUIRE_FALSE(bg.empty());
    CHECK(bg.front() == std::vector<std::string>{"chrA", "2996", "3003", "2"});
    CHECK(bg[1][0] == "chrB");
    CHECK(bg[1][1] == "98");
}

TEST_CASE("tracks: peak BED9 sorted, scored, coloured and named by the align label",
          "[unit][pipelines][tracks]") {
    Fixture fx;
    auto o = fx.options();
    o.feature_ids = "1,2";
    o.align = (fx.tmp / "align").string();
    pl::run_tracks(o);
    const auto bed = tsv_rows(read_file(fx.tmp / "out/peaks/f1.peaks.bed"));
    // Peaks at >= 5 (half of 10): chrA '-' 50 (5), chrA '+' 2998 (8), chrB '+' 109 (10, run
    // 104..109).
    REQUIRE(bed.size() == 3);
    CHECK(bed[0] == std::vector<std::string>{
                        "chrA", "50", "51", "f/1|gene", "500", "-", "50", "51", "31,119,180"});
    CHECK(bed[1] ==
          std::vector<std::string>{
              "chrA", "2998", "2999", "f/1|gene", "800", "+", "2998", "2999", "31,119,180"});
    CHECK(bed[2] == std::vector<std::string>{
                        "chrB", "104", "110", "f/1|gene", "1000", "+", "109", "110", "31,119,180"});
    const auto bed2 = tsv_rows(read_file(fx.tmp / "out/peaks/f2.peaks.bed"));
    REQUIRE(bed2.size() == 1);
    CHECK(bed2[0][3] == "f/2");          // unlabelled in features.tsv
    CHECK(bed2[0][8] == "160,160,160");  // grey
    CHECK(bed2[0][1] == "5000");         // the plateau's leftmost position, whole run
    CHECK(bed2[0][2] == "5010");

    SECTION("--bgzip compresses and indexes them") {
        o.bgzip = true;
        o.force = true;
        pl::run_tracks(o);
        CHECK(fs::exists(fx.tmp / "out/peaks/f1.peaks.bed.gz"));
        CHECK(fs::exists(fx.tmp / "out/peaks/f1.peaks.bed.gz.tbi"));
        CHECK_FALSE(fs::exists(fx.tmp / "out/peaks/f1.peaks.bed"));
        CHECK(read_file(fx.tmp / "out/igv_tracks.json").find("f1.peaks.bed.gz.tbi") !=
              std::string::npos);
    }
}

TEST_CASE("tracks: deepTools matrices around gene starts and ends, '-' genes reversed",
          "[unit][pipelines][tracks]") {
    Fixture fx;
    auto o = fx.options();
    o.feature_ids = "3,1";
    o.annotations = (fx.tmp / "g.gff3").string();
    const auto r = pl::run_tracks(o);
    CHECK(r.n_matrix_rows == 2);
    const std::string text = gunzip(fx.tmp / "out/matrix/gene_start.matrix.gz");
    REQUIRE(text.rfind("@{", 0) == 0);
    const auto header = nlohmann::json::parse(text.substr(1, text.find('\n') - 1));
    for (const char* key : {"upstream",
                            "downstream",
                            "body",
                            "bin size",
                            "ref point",
                            "group_labels",
                            "group_boundaries",
                            "sample_labels",
                            "sample_boundaries",
                            "unscaled 5 prime",
                            "unscaled 3 prime"}) {
        INFO(key);
        CHECK(header.contains(key));
    }
    CHECK(header["upstream"] == nlohmann::json::array({1000, 1000}));
    CHECK(header["bin size"] == nlohmann::json::array({10, 10}));
    CHECK(header["ref point"] == nlohmann::json::array({"TSS", "TSS"}));
    CHECK(header["sample_labels"] == nlohmann::json::array({"f/3", "f/1"}));
    CHECK(header["sample_boundaries"] == nlohmann::json::array({0, 200, 400}));
    CHECK(header["group_boundaries"] == nlohmann::json::array({0, 2}));
    CHECK(text.find("\"upstream\"") < text.find("\"downstream\""));  // deepTools' key order

    const auto rows = tsv_rows(text.substr(text.find('\n') + 1));
    REQUIRE(rows.size() == 2);  // one row per gene
    for (const auto& row : rows) {
        CHECK(row.size() == 6 + 400);
    }
    // '+' gene at 1000..2000: f/3's 1s at 900..999 are the 10 bins just before the TSS.
    CHECK(rows[0][0] == "chrB");
    CHECK(rows[0][1] == "1000");
    CHECK(rows[0][2] == "2000");
    CHECK(rows[0][3] == "plusGene");
    CHECK(rows[0][5] == "+");
    CHECK(rows[0][6 + 89] == "0.000000");
    CHECK(rows[0][6 + 90] == "1.000000");
    CHECK(rows[0][6 + 99] == "1.000000");
    CHECK(rows[0][6 + 100] == "0.000000");
    // '-' gene at 6000..7000: upstream is [7000, 8000), read right to left. Bin 0 is the
    // farthest upstream [7990, 8000) (values 991..1000), bin 99 is [7000, 7010) (1..10).
    CHECK(rows[1][3] == "minusGene");
    CHECK(rows[1][5] == "-");
    CHECK(rows[1][6 + 0] == "995.500000");
    CHECK(rows[1][6 + 99] == "5.500000");
    CHECK(rows[1][6 + 100] == "0.000000");  // inside the gene, covered, inactive
    // f/1 (second sample) is 0 around both genes on their strands.
    CHECK(rows[1][6 + 200] == "0.000000");

    // Gene ends: the '-' gene's TES is its begin (6000): downstream of it is [5000, 6000).
    const std::string ends = gunzip(fx.tmp / "out/matrix/gene_end.matrix.gz");
    const auto end_header = nlohmann::json::parse(ends.substr(1, ends.find('\n') - 1));
    CHECK(end_header["ref point"] == nlohmann::json::array({"TES", "TES"}));
    const auto end_rows = tsv_rows(ends.substr(ends.find('\n') + 1));
    REQUIRE(end_rows.size() == 2);
    // Upstream of the '-' TES is [6000, 7000) inside the gene (0s); further: nothing reaches
    // [7000, 8000), so f/3 shows only zeros here.
    CHECK(end_rows[1][6 + 0] == "0.000000");

    SECTION("bins off the contig's end are nan, covered inactive bins 0") {
        // chrB '+' gene 9500..9990: its TES window [8990, 10990) runs 990 bp past the end.
        write_file(fx.tmp / "edge.gff3",
                   "##gff-version 3\nchrB\tt\tgene\t9501\t9990\t.\t+\t.\tID=e\n");
        auto e = o;
        e.annotations = (fx.tmp / "edge.gff3").string();
        e.force = true;
        pl::run_tracks(e);
        const std::string t = gunzip(fx.tmp / "out/matrix/gene_end.matrix.gz");
        const auto row = tsv_rows(t.substr(t.find('\n') + 1)).at(0);
        CHECK(row[6 + 99] == "0.000000");   // [9980, 9990)
        CHECK(row[6 + 100] == "0.000000");  // [9990, 10000)
        CHECK(row[6 + 101] == "nan");       // [10000, 10010): off the contig
        CHECK(row[6 + 199] == "nan");
    }
}

TEST_CASE("tracks: --align alone draws the best features per concept, configs and manifest",
          "[unit][pipelines][tracks]") {
    Fixture fx;
    auto o = fx.options();
    o.align = (fx.tmp / "align").string();
    o.top_per_concept = 1;
    const auto r = pl::run_tracks(o);
    CHECK(r.features == std::vector<std::uint32_t>{1});  // gene: f/1 (test 0.8) beats f/3
    const fs::path out = fx.tmp / "out";

    // manifest.tsv lists every file of the folder.
    const auto rows = tsv_rows(read_file(out / "manifest.tsv"));
    REQUIRE(rows.size() > 1);
    CHECK(rows[0] == std::vector<std::string>{
                         "feature", "label", "concept", "kind", "strand", "path", "n_records"});
    std::size_t n_files = 0;
    for (const auto& e : fs::recursive_directory_iterator(out)) {
        n_files += e.is_regular_file() ? 1 : 0;
    }
    CHECK(rows.size() - 1 == n_files);
    for (std::size_t i = 1; i < rows.size(); ++i) {
        INFO(rows[i][5]);
        CHECK(fs::exists(out / rows[i][5]));
    }
    const auto manifest = nlohmann::json::parse(read_file(out / "manifest.json"));
    CHECK(manifest["format"] == "evoscope-tracks");
    CHECK(manifest["features"][0]["label"] == "gene");
    CHECK(manifest["features"][0]["color"] == "31,119,180");

    // UCSC hub: an assembly hub with the genome as .2bit; a multiWig container per concept.
    const std::string hub = read_file(out / "hub.txt");
    for (const char* key :
         {"hub ", "shortLabel ", "longLabel ", "genomesFile genomes.txt", "email "}) {
        CHECK(hub.find(key) != std::string::npos);
    }
    const std::string genomes = read_file(out / "genomes.txt");
    for (const char* key : {"genome g\n",
                            "trackDb trackDb.txt",
                            "twoBitPath genome.2bit",
                            "organism ",
                            "defaultPos chrB:1-10000"}) {
        INFO(key);
        CHECK(genomes.find(key) != std::string::npos);
    }
    CHECK(fs::file_size(out / "genome.2bit") > 16000 / 4);
    const std::string trackdb = read_file(out / "trackDb.txt");
    CHECK(trackdb.find("track evoscope_gene\ncontainer multiWig\n") != std::string::npos);
    CHECK(trackdb.find("    parent evoscope_gene\n") != std::string::npos);
    CHECK(trackdb.find("    bigDataUrl bigwig/f1.plus.bw\n") != std::string::npos);
    CHECK(trackdb.find("    bigDataUrl bigwig/f1.minus.bw\n") != std::string::npos);
    CHECK(trackdb.find("    color 31,119,180\n") != std::string::npos);
    // Every stanza has the keys UCSC requires of a hub track.
    std::size_t pos = 0;
    int stanzas = 0;
    while ((pos = trackdb.find("track ", pos)) != std::string::npos) {
        const std::size_t end = trackdb.find("\n\n", pos);
        const std::string stanza = trackdb.substr(pos, end - pos);
        for (const char* key : {"type bigWig", "shortLabel ", "longLabel "}) {
            CHECK(stanza.find(key) != std::string::npos);
        }
        if (stanza.find("container") == std::string::npos) {
            CHECK(stanza.find("bigDataUrl ") != std::string::npos);
        }
        ++stanzas;
        pos = end;
    }
    CHECK(stanzas == 3);

    // IGV session: the FASTA as genome, relative track paths.
    const std::string igv = read_file(out / "igv_session.xml");
    CHECK(igv.find("<Session genome=\"" +
                   fs::absolute(fx.tmp / "g.fa").lexically_normal().string() + "\"") !=
          std::string::npos);
    CHECK(igv.find("path=\"bigwig/f1.plus.bw\"") != std::string::npos);
    CHECK(igv.find("path=\"peaks/f1.peaks.bed\"") != std::string::npos);
    const auto js = nlohmann::json::parse(read_file(out / "igv_tracks.json"));
    REQUIRE(js.is_array());
    CHECK(js.size() == 3);
    CHECK(js[0]["type"] == "wig");
    CHECK(js[0]["format"] == "bigwig");
    CHECK(js[0]["url"] == "bigwig/f1.plus.bw");
    CHECK(js[2]["type"] == "annotation");

    SECTION("--ucsc-genome: a plain hub, no .2bit") {
        o.force = true;
        o.ucsc_genome = "hg38";
        pl::run_tracks(o);
        CHECK(read_file(out / "genomes.txt") == "genome hg38\ntrackDb trackDb.txt\n");
        CHECK_FALSE(fs::exists(out / "genome.2bit"));
    }
}

TEST_CASE(
    "tracks: bad ids, a missing store and an existing folder are one-line errors that "
    "leave no output",
    "[unit][pipelines][tracks]") {
    Fixture fx;
    auto o = fx.options();
    o.feature_ids = "1,9";
    CHECK_THROWS_WITH(pl::run_tracks(o),
                      Catch::Contains("feature 9") && Catch::Contains("d_sae = 4"));
    CHECK_FALSE(fs::exists(fx.tmp / "out"));
    o.feature_ids = "1,x";
    CHECK_THROWS_AS(pl::run_tracks(o), evoscope::UsageError);
    o.feature_ids = "0";  // never active
    CHECK_THROWS_WITH(pl::run_tracks(o), Catch::Contains("none of the selected features"));
    o.feature_ids = "1";
    o.features = (fx.tmp / "nope").string();
    CHECK_THROWS_WITH(pl::run_tracks(o), Catch::Contains("nope"));
    CHECK_FALSE(fs::exists(fx.tmp / "out"));
    o = fx.options();
    CHECK_THROWS_AS(pl::run_tracks(o), evoscope::UsageError);  // no selection
    o.feature_ids = "1";
    o.annotations = (fx.tmp / "g.gff3").string();
    o.region_type = "mRNA";
    CHECK_THROWS_WITH(pl::run_tracks(o),
                      Catch::Contains("no 'mRNA' features") && Catch::Contains("gene (2)"));
    o.region_type = "gene";
    o.upstream = 995;
    CHECK_THROWS_AS(pl::run_tracks(o), evoscope::UsageError);
    CHECK_FALSE(fs::exists(fx.tmp / "out"));
    o.upstream = 1000;
    fs::create_directories(fx.tmp / "out");
    CHECK_THROWS_WITH(pl::run_tracks(o), Catch::Contains("exists"));
    o.force = true;
    CHECK_NOTHROW(pl::run_tracks(o));
    // Only the output folder is left: no temporary folders beside it.
    for (const auto& e : fs::directory_iterator(fx.tmp.path())) {
        CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
    }
}

TEST_CASE("tracks: more features than --max-open allows take several passes, same files",
          "[unit][pipelines][tracks]") {
    Fixture fx;
    auto o = fx.options();
    o.all = true;
    o.max_open = 4;  // two features' files per pass
    const auto r = pl::run_tracks(o);
    CHECK(r.features == std::vector<std::uint32_t>{1, 2, 3});
    CHECK(r.n_passes == 2);
    const auto v = read_bw(fx.tmp / "out/bigwig/f3.minus.bw");
    REQUIRE(v[0].size() == kLenB);
    CHECK(v[0][7500] == 501.0F);
}
