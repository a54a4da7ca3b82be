// `evoscope tracks` as a user runs it, its files read by the tools users open them with:
// pyBigWig (values, absent positions, zoom levels), bedtools and tabix (the peak BED),
// py2bit (genome.2bit), deepTools (plotHeatmap on the matrix; computeMatrix on our bigWigs
// gives the same numbers as our matrix). Each tool's check is skipped, with a warning naming
// it, when the tool is not installed.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <zlib.h>

#include "store/feature_store.hpp"
#include "tests/support/test_support.hpp"

using evoscope::test::have_program;
using evoscope::test::read_file;
using evoscope::test::run_evoscope;
using evoscope::test::run_program;
using evoscope::test::TempDir;
using evoscope::test::tsv_rows;
using evoscope::test::write_file;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr std::int64_t kLenB = 10000;
constexpr std::int64_t kLenA = 6000;

bool python_has(const std::string& module) {
    if (!fs::exists(kPython)) {
        return false;
    }
    return run_program({kPython, "-c", "import " + module}).exit_code == 0;
}

/// chrB (10 kb) and chrA (6 kb), both strands covered; features:
///   f/1: chrB '+' 100..109 = 1..10, 200..204 = 3; chrA '-' 50 = 5.
///   f/3: chrB '+' 900..999 = 1 and '-' 7000..7999 = position - 6999.
/// Genes: '+' chrB 1000..2000, '-' chrB 6000..7000.
void make_inputs(const TempDir& tmp) {
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
               "chrB\tt\tgene\t6001\t7000\t.\t-\t.\tID=gM;Name=minusGene\n");
    evoscope::sae::FeatureStoreHeader h;
    h.d_sae = 4;
    h.contigs = {{"chrB", kLenB}, {"chrA", kLenA}};
    evoscope::sae::FeatureStoreWriter w(tmp / "features", h, 1024);
    auto append = [&](const std::string& contig, char strand, std::int64_t n, auto value_of) {
        std::vector<std::int64_t> row_ptr{0};
        std::vector<std::uint32_t> ids;
        std::vector<float> values;
        for (std::int64_t p = 0; p < n; ++p) {
            for (std::uint32_t f = 0; f < 4; ++f) {
                const float v = value_of(f, p);
                if (v != 0.0F) {
                    ids.push_back(f);
                    values.push_back(v);
                }
            }
            row_ptr.push_back(static_cast<std::int64_t>(ids.size()));
        }
        w.append(contig, 0, n, strand, row_ptr, ids, values);
    };
    append("chrB", '+', kLenB, [](std::uint32_t f, std::int64_t p) {
        if (f == 1 && p >= 100 && p < 110) {
            return static_cast<float>(p - 99);
        }
        if (f == 1 && p >= 200 && p < 205) {
            return 3.0F;
        }
        if (f == 3 && p >= 900 && p < 1000) {
            return 1.0F;
        }
        return 0.0F;
    });
    append("chrB", '-', kLenB, [](std::uint32_t f, std::int64_t p) {
        return f == 3 && p >= 7000 && p < 8000 ? static_cast<float>(p - 6999) : 0.0F;
    });
    append("chrA", '+', kLenA, [](std::uint32_t, std::int64_t) { return 0.0F; });
    append("chrA", '-', kLenA, [](std::uint32_t f, std::int64_t p) {
        return f == 1 && p == 50 ? 5.0F : 0.0F;
    });
    w.commit();
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

/// The JSON header and the rows of a computeMatrix file.
std::pair<nlohmann::ordered_json, std::vector<std::vector<std::string>>> read_matrix(
    const fs::path& path) {
    const std::string text = gunzip(path);
    REQUIRE(text.rfind('@', 0) == 0);
    const auto nl = text.find('\n');
    return {nlohmann::ordered_json::parse(text.substr(1, nl - 1)), tsv_rows(text.substr(nl + 1))};
}

}  // namespace

TEST_CASE("tracks CLI: bigWigs read by pyBigWig match the store, absent stays absent",
          "[e2e][tracks]") {
    TempDir tmp;
    make_inputs(tmp);
    const auto r = run_evoscope({"tracks",
                                 "--features",
                                 (tmp / "features").string(),
                                 "-f",
                                 (tmp / "g.fa").string(),
                                 "--feature-ids",
                                 "1,3",
                                 "-a",
                                 (tmp / "g.gff3").string(),
                                 "--bgzip",
                                 "-o",
                                 (tmp / "out").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK(r.err.find("[I::tracks] tracks: 2 features") != std::string::npos);
    const fs::path out = tmp / "out";

    if (!python_has("pyBigWig")) {
        WARN("pyBigWig is not installed for /usr/bin/python3: bigWig checks skipped");
    } else {
        write_file(tmp / "bw.py",
                   "import json, math, sys, pyBigWig\n"
                   "bw = pyBigWig.open(sys.argv[1])\n"
                   "h = bw.header()\n"
                   "v = bw.values('chrB', 98, 112)\n"
                   "print(json.dumps({'isBigWig': bw.isBigWig(), 'nLevels': h['nLevels'],\n"
                   "  'chroms': list(bw.chroms().items()),\n"
                   "  'values': [None if math.isnan(x) else x for x in v],\n"
                   "  'intervals': bw.intervals('chrB'), 'chrA': bw.intervals('chrA'),\n"
                   "  'max': bw.stats('chrB', 0, 10000, type='max')[0]}))\n");
        const auto py =
            run_program({kPython, (tmp / "bw.py").string(), (out / "bigwig/f1.plus.bw").string()});
        INFO(py.err);
        REQUIRE(py.exit_code == 0);
        const auto j = nlohmann::json::parse(py.out);
        CHECK(j["isBigWig"] == true);
        CHECK(j["nLevels"].get<int>() > 0);
        CHECK(j["chroms"] == nlohmann::json::parse(R"([["chrA", 6000], ["chrB", 10000]])"));
        const auto& v = j["values"];
        CHECK(v[0].is_null());  // 98: covered, inactive -> absent
        CHECK(v[1].is_null());
        for (int p = 100; p < 110; ++p) {
            CHECK(v[static_cast<std::size_t>(p - 98)].get<double>() == p - 99);
        }
        CHECK(v[12].is_null());
        // Intervals: the ramp one base each, the 3s merged into one.
        const auto& iv = j["intervals"];
        REQUIRE(iv.size() == 11);
        CHECK(iv[10] == nlohmann::json::parse("[200, 205, 3.0]"));
        CHECK(j["chrA"].is_null());  // nothing on chrA '+'
        CHECK(j["max"].get<double>() == 10.0);
    }

    if (!have_program("bedtools")) {
        WARN("bedtools is not installed: BED checks skipped");
    } else {
        const auto bed = gunzip(out / "peaks/f1.peaks.bed.gz");
        write_file(tmp / "peaks.bed", bed);
        const auto sorted = run_program({"bedtools", "sort", "-i", (tmp / "peaks.bed").string()});
        CHECK(sorted.exit_code == 0);
        CHECK(sorted.out == bed);  // already in bedtools' order
        const auto merged = run_program({"bedtools", "merge", "-i", (tmp / "peaks.bed").string()});
        CHECK(merged.exit_code == 0);
        CHECK(merged.out == "chrA\t50\t51\nchrB\t104\t110\n");
    }
    if (!have_program("tabix")) {
        WARN("tabix is not installed: index check skipped");
    } else {
        const auto t =
            run_program({"tabix", (out / "peaks/f1.peaks.bed.gz").string(), "chrB:100-120"});
        CHECK(t.exit_code == 0);
        CHECK(t.out == "chrB\t104\t110\tf/1\t1000\t+\t109\t110\t160,160,160\n");
        CHECK(run_program({"tabix", (out / "peaks/f1.peaks.bed.gz").string(), "chrB:300-400"})
                  .out.empty());
    }
    if (!python_has("py2bit")) {
        WARN("py2bit is not installed: .2bit check skipped");
    } else {
        const auto py =
            run_program({kPython,
                         "-c",
                         "import sys, py2bit; t = py2bit.open(sys.argv[1]); "
                         "print(t.chroms('chrB'), t.chroms('chrA'), t.sequence('chrB', 95, 105))",
                         (out / "genome.2bit").string()});
        CHECK(py.exit_code == 0);
        CHECK(py.out == "10000 6000 AAAAACCCCC\n");
    }
}

TEST_CASE("tracks CLI: deepTools reads the matrix, computeMatrix on our bigWigs agrees",
          "[e2e][tracks]") {
    if (!have_program("computeMatrix") || !have_program("plotHeatmap")) {
        WARN("deepTools (computeMatrix, plotHeatmap) is not installed: matrix checks skipped");
        return;
    }
    TempDir tmp;
    make_inputs(tmp);
    const auto r = run_evoscope({"tracks",
                                 "--features",
                                 (tmp / "features").string(),
                                 "-f",
                                 (tmp / "g.fa").string(),
                                 "--feature-ids",
                                 "3",
                                 "-a",
                                 (tmp / "g.gff3").string(),
                                 "-o",
                                 (tmp / "out").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const fs::path out = tmp / "out";
    const auto heat = run_program({"plotHeatmap",
                                   "-m",
                                   (out / "matrix/gene_start.matrix.gz").string(),
                                   "-o",
                                   (tmp / "heat.png").string()});
    INFO(heat.err);
    CHECK(heat.exit_code == 0);
    CHECK(fs::exists(tmp / "heat.png"));

    // deepTools' own matrix from our bigWigs: the '+' gene from the '+' file, the '-' gene from
    // the '-' file (our matrix reads each gene's own strand). The whole window is covered by the
    // store, so deepTools' missing-as-zero equals our covered-but-inactive zeros.
    const auto [ours_header, ours] = read_matrix(out / "matrix/gene_start.matrix.gz");
    REQUIRE(ours.size() == 2);
    const std::pair<const char*, const char*> cases[] = {{"+", "f3.plus.bw"}, {"-", "f3.minus.bw"}};
    for (const auto& [strand, file] : cases) {
        INFO(strand);
        const std::string name = std::string(strand) == "+" ? "plusGene" : "minusGene";
        const std::string begin = std::string(strand) == "+" ? "1000" : "6000";
        const std::string end = std::string(strand) == "+" ? "2000" : "7000";
        write_file(tmp / "r.bed",
                   "chrB\t" + begin + "\t" + end + "\t" + name + "\t0\t" + strand + "\n");
        const auto cm = run_program({"computeMatrix",
                                     "reference-point",
                                     "-S",
                                     (out / "bigwig" / file).string(),
                                     "-R",
                                     (tmp / "r.bed").string(),
                                     "-a",
                                     "1000",
                                     "-b",
                                     "1000",
                                     "-bs",
                                     "10",
                                     "--missingDataAsZero",
                                     "-o",
                                     (tmp / "theirs.gz").string()});
        INFO(cm.err);
        REQUIRE(cm.exit_code == 0);
        const auto [theirs_header, theirs] = read_matrix(tmp / "theirs.gz");
        // The same header keys in the same order.
        std::vector<std::string> k1;
        std::vector<std::string> k2;
        for (const auto& [k, v] : ours_header.items()) {
            k1.push_back(k);
        }
        for (const auto& [k, v] : theirs_header.items()) {
            k2.push_back(k);
        }
        CHECK(k1 == k2);
        // The same values, but for the labels, the region count (one region here) and the
        // missing-data flag given to deepTools on purpose.
        for (const auto& k : k2) {
            if (k != "sample_labels" && k != "group_labels" && k != "group_boundaries" &&
                k != "missing data as zero") {
                INFO(k);
                CHECK(ours_header[k] == theirs_header[k]);
            }
        }
        REQUIRE(theirs.size() == 1);
        const auto& mine = ours[std::string(strand) == "+" ? 0 : 1];
        REQUIRE(theirs[0].size() == mine.size());
        for (std::size_t i = 0; i < 6; ++i) {
            if (i != 3 && i != 4) {  // name and score come from different inputs
                CHECK(theirs[0][i] == mine[i]);
            }
        }
        std::size_t differ = 0;
        for (std::size_t i = 6; i < mine.size(); ++i) {
            differ += std::abs(std::stod(theirs[0][i]) - std::stod(mine[i])) < 1e-4 ? 0 : 1;
        }
        CHECK(differ == 0);
    }
}

TEST_CASE("tracks CLI: a bad feature id or a missing store is a one-line error, no output",
          "[e2e][tracks]") {
    TempDir tmp;
    make_inputs(tmp);
    auto r = run_evoscope({"tracks",
                           "--features",
                           (tmp / "features").string(),
                           "-f",
                           (tmp / "g.fa").string(),
                           "--feature-ids",
                           "1,40",
                           "-o",
                           (tmp / "out").string()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("[E::tracks]") != std::string::npos);
    CHECK(r.err.find("feature 40 is not in the store") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(tmp / "out"));

    r = run_evoscope({"tracks",
                      "--features",
                      (tmp / "missing").string(),
                      "-f",
                      (tmp / "g.fa").string(),
                      "--all",
                      "-o",
                      (tmp / "out").string()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("missing") != std::string::npos);
    CHECK_FALSE(fs::exists(tmp / "out"));

    r = run_evoscope({"tracks",
                      "--features",
                      (tmp / "features").string(),
                      "-f",
                      (tmp / "g.fa").string(),
                      "--all",
                      "--feature-ids",
                      "1",
                      "-o",
                      (tmp / "out").string()});
    CHECK(r.exit_code == 2);  // usage
    CHECK_FALSE(fs::exists(tmp / "out"));
    for (const auto& e : fs::directory_iterator(tmp.path())) {
        CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
    }
}
