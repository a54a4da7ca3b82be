// The report stage on the fixture run folder (tests/support/report_fixture.hpp), in process:
// what data.js and tracks.js hold against the fixture's closed-form values, the missing parts
// stated as notes, required inputs and --force.
#include "pipelines/report.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "annotate/feature_peaks.hpp"
#include "annotate/feature_summary.hpp"
#include "core/error.hpp"
#include "pipelines/report_assets.hpp"
#include "store/feature_store.hpp"
#include "tests/support/report_fixture.hpp"
#include "tests/support/test_support.hpp"

namespace fs = std::filesystem;
namespace pl = evoscope::pipelines;
using evoscope::test::fixture_value;
using evoscope::test::read_file;
using nlohmann::json;

namespace {

json js_object(const fs::path& path, const std::string& prefix) {
    std::string text = read_file(path);
    REQUIRE(text.rfind(prefix, 0) == 0);
    text = text.substr(prefix.size());
    while (!text.empty() && (text.back() == '\n' || text.back() == ';')) {
        text.pop_back();
    }
    return json::parse(text);
}

bool has_note(const json& notes, const std::string& part) {
    return std::any_of(notes.begin(), notes.end(), [&](const json& n) {
        return n.get<std::string>().find(part) != std::string::npos;
    });
}

}  // namespace

TEST_CASE("report: the fixture run folder", "[unit][pipelines][report]") {
    evoscope::test::TempDir tmp;
    const auto run = tmp / "run";
    evoscope::test::write_report_fixture(run);
    pl::ReportOptions o;
    o.run = run.string();
    o.track_runs = 1500;
    const auto result = pl::run_report(o);
    const auto out = run / "report";
    CHECK(result.output == out.string());
    for (const char* f : {"index.html", "report.js", "report.css", "data.js", "tracks.js"}) {
        INFO(f);
        CHECK(fs::exists(out / f));
    }
    CHECK(result.total_bytes > 0);
    const auto html = read_file(out / "index.html");
    CHECK(html.find("<!--IGV-->") == std::string::npos);
    CHECK((html.find("igv.min.js") != std::string::npos) ==
          pl::report_asset("igv.min.js").has_value());

    const json data = js_object(out / "data.js", "window.EVOSCOPE_REPORT = ");
    // FASTA and annotation found through align's command; run.json, sae, motifs present.
    CHECK(data["provenance"]["inputs"]["fasta_from"] == "the align command");
    CHECK(data["provenance"]["inputs"]["annotations_from"] == "the align command");
    CHECK(data["provenance"]["run"]["steps"].size() == 2);
    CHECK(data["provenance"]["store"]["d_sae"] == 8);
    CHECK(data["sae"]["cfg"]["architecture"] == "batchtopk");
    CHECK(data["sae"]["log"]["n_rows"] == 21);
    CHECK(data["sae"].contains("curves_svg"));
    CHECK_FALSE(has_note(data["notes"], "No run.json"));
    CHECK_FALSE(has_note(data["notes"], "No motifs"));

    // Concepts: all rows, the derived test score and the identified flag (align's rule: CDS and
    // gene; motif:MA0001.1 has test domain F1 0.62 but val 0.6 and clears chance: identified).
    const auto& concepts = data["concepts"];
    REQUIRE(concepts["rows"].size() == 5);
    CHECK(concepts["columns"][0] == "concept");
    CHECK(concepts["derived"][0][0] == 1);                           // CDS -> f/1
    CHECK(concepts["derived"][0][1].get<double>() == Approx(0.92));  // score f1 -> test_f1
    CHECK(concepts["derived"][1][1].get<double>() == Approx(0.66));  // domain_f1
    CHECK(concepts["derived"][2][2] == false);                       // tRNA: no chance
    CHECK(concepts["derived"][4][2] == false);                       // codon_pos_3: val 0.3
    CHECK(concepts["n_identified"] == 3);

    // Feature views: best features of concepts that clear chance first (by test score), then
    // the others; feature 0 (never active, unlabelled) has none.
    const auto order = data["feature_order"].get<std::vector<int>>();
    CHECK(order == std::vector<int>{1, 2, 3});
    const auto& f2 = data["features"]["2"];
    CHECK(f2["best_for"] == json({"tRNA", "motif:MA0001.1"}));
    CHECK(f2["motif"]["consensus"] == "ACGT");
    CHECK(f2["motif"]["matches"][0]["Target_ID"] == "MA0001.1");
    CHECK(f2["motif"]["logo_svg"].get<std::string>().rfind("<svg", 0) == 0);
    const auto& h = f2["histogram"];
    const auto counts = h["counts"].get<std::vector<std::int64_t>>();
    CHECK(counts.size() == 40);
    CHECK(std::accumulate(counts.begin(), counts.end(), std::int64_t{0}) == h["n_active"]);
    CHECK(h["n_covered"] == 2 * (6000 + 2500));
    // Top example: the highest bump, chrB:2400 (3 + 6 x 0.5 + 0.25).
    const auto& ex = f2["examples"][0];
    const auto pos = ex["position"].get<std::int64_t>();
    const std::string contig = ex["contig"];
    CHECK(contig == "chrB");
    CHECK(pos == 2400);
    CHECK(ex["value"].get<double>() == Approx(fixture_value(2, contig, pos, '+')).epsilon(1e-4));
    for (const auto& e : f2["examples"]) {
        CHECK(e["value"].get<double>() <= ex["value"].get<double>());
    }
    REQUIRE(ex["values"].size() == 61);
    CHECK(ex["sequence"].get<std::string>().size() == 61);
    for (std::size_t i = 0; i < 61; ++i) {
        const auto p = ex["begin"].get<std::int64_t>() + static_cast<std::int64_t>(i);
        CHECK(ex["values"][i].get<double>() ==
              Approx(fixture_value(2, contig, p, '+')).epsilon(1e-4));
    }
    const auto genome = evoscope::test::plain_fasta(run / "genome.fa");
    CHECK(ex["sequence"] == genome.at(contig).substr(ex["begin"].get<std::size_t>(), 61));

    // The browser's tracks: exact where they fit, else max over the declared bins.
    if (pl::report_asset("igv.min.js")) {
        const json tracks = js_object(out / "tracks.js", "window.EVOSCOPE_TRACKS = ");
        CHECK(tracks["reference"]["format"] == "fasta");
        // One row per gene model: the CDS (two parts, named after its gene) and the tRNA.
        REQUIRE(tracks["annotation"].size() == 2);
        CHECK(tracks["annotation"][0]["type"] == "CDS");
        CHECK(tracks["annotation"][0]["name"] == "alpha");
        CHECK(tracks["annotation"][0]["exons"].size() == 2);
        CHECK(tracks["annotation"][1]["name"] == "trnX");
        REQUIRE(tracks["features"].size() == 6);
        for (const auto& t : tracks["features"]) {
            const auto feature = t["feature"].get<std::uint32_t>();
            const char strand = t["strand"].get<std::string>()[0];
            const auto bin = t["bin_bp"].get<std::int64_t>();
            INFO("feature " << feature << strand << " bin " << bin);
            CHECK(t["n_runs"].get<std::int64_t>() <= 1500);
            CHECK(bin == (feature == 3 && strand == '+' ? 8 : 1));
            for (const auto& r : t["runs"]) {
                const std::string c = tracks["contigs"][r[0].get<std::size_t>()];
                std::int64_t p = 0;
                for (std::size_t i = 0; i < r[1].size(); ++i) {
                    const std::int64_t b = p + r[1][i].get<std::int64_t>();
                    p = b + r[2][i].get<std::int64_t>();
                    for (std::int64_t q = b; q < p; q += bin) {
                        float want = 0.0F;
                        for (std::int64_t k = q / bin * bin; k < q / bin * bin + bin; ++k) {
                            want = std::max(want, fixture_value(feature, c, k, strand));
                        }
                        CHECK(r[3][i].get<double>() == Approx(want).epsilon(1e-4));
                    }
                }
            }
        }
    }

    SECTION("an existing output is kept without --force") {
        CHECK_THROWS_AS(pl::run_report(o), evoscope::InputError);
        o.force = true;
        CHECK_NOTHROW(pl::run_report(o));
    }
    SECTION("missing optional parts are notes, not errors") {
        fs::remove_all(run / "motifs");
        fs::remove_all(run / "sae");
        fs::remove(run / "run.json");
        o.output = (tmp / "bare").string();
        pl::run_report(o);
        const json bare = js_object(tmp / "bare" / "data.js", "window.EVOSCOPE_REPORT = ");
        CHECK(has_note(bare["notes"], "No run.json"));
        CHECK(has_note(bare["notes"], "No motifs"));
        CHECK(has_note(bare["notes"], "No SAE folder"));
        CHECK_FALSE(bare["features"]["2"].contains("motif"));
    }
    SECTION("a missing align folder or feature store is a one-line error") {
        o.align = (tmp / "nowhere").string();
        o.output = (tmp / "x").string();
        try {
            pl::run_report(o);
            FAIL("no error");
        } catch (const evoscope::InputError& e) {
            CHECK(std::string(e.what()).find("align results not found") != std::string::npos);
        }
        o.align.clear();
        o.features = (tmp / "nowhere").string();
        CHECK_THROWS_WITH(pl::run_report(o), Catch::Contains("feature store not found"));
        CHECK_FALSE(fs::exists(tmp / "x"));
    }
}

TEST_CASE("feature summaries: histograms, binned tracks and peaks of several features",
          "[unit][pipelines][report]") {
    evoscope::test::TempDir tmp;
    evoscope::test::write_report_fixture(tmp.path());
    const evoscope::sae::FeatureStore store(tmp / "features");
    const std::vector<std::uint32_t> features = {3, 1, 0};
    const auto hist = evoscope::annotate::feature_histograms(store, features, 7);
    CHECK(hist[2].n_active == 0);
    CHECK(hist[1].n_active == 1400 + 200);  // CDS of chrA (+), 3000..3200 (-)
    CHECK(hist[0].n_active == 2000 + 834);  // every third base of both contigs (+)
    CHECK(hist[0].counts.size() == 7);
    CHECK_THROWS_AS(evoscope::annotate::feature_histograms(store, std::vector<std::uint32_t>{9}, 7),
                    evoscope::InputError);

    // A budget of 1 run: the coarsest bins even when over it.
    const auto coarse = evoscope::annotate::binned_tracks(store, features, 1, 4096);
    REQUIRE(coarse.size() == 6);
    CHECK(coarse[0].bin_bp == 4096);
    CHECK(coarse[0].over_budget);
    CHECK(coarse[5].n_runs() == 0);  // feature 0 (-)
    const auto fine = evoscope::annotate::binned_tracks(store, features, 100000);
    CHECK(fine[2].bin_bp == 1);
    CHECK(fine[2].n_runs() == 1400);  // feature 1 (+): values change at every base
    CHECK_THROWS_AS(evoscope::annotate::binned_tracks(store, features, 10, 1000),
                    evoscope::InputError);

    evoscope::annotate::FeaturePeakOptions po;
    po.max_peaks = 5;
    po.min_distance = 30;
    const std::vector<std::uint32_t> two = {2, 1};
    const auto many = evoscope::annotate::feature_peaks(store, two, po);
    for (std::size_t i = 0; i < two.size(); ++i) {
        const auto one = evoscope::annotate::feature_peaks(store, two[i], po);
        REQUIRE(one.size() == many[i].size());
        for (std::size_t k = 0; k < one.size(); ++k) {
            CHECK(one[k].position == many[i][k].position);
            CHECK(one[k].contig == many[i][k].contig);
            CHECK(one[k].value == many[i][k].value);
        }
    }
}
