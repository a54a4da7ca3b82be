// `evoscope model init`, `score` and `embed` end to end on a tiny random model with every block
// type.
#include <cmath>
#include <sstream>

#include <catch2/catch.hpp>

#include "formats/npy.hpp"
#include "store/activation_store.hpp"
#include "tests/support/test_support.hpp"

namespace fs = std::filesystem;
using evoscope::test::data_path;
using evoscope::test::fixture_path;
using evoscope::test::read_file;
using evoscope::test::run_evoscope;
using evoscope::test::TempDir;
using evoscope::test::tsv_rows;

namespace {

const std::string kContig = "NC_001416.1";  // phage lambda

fs::path make_model(const TempDir& tmp, const std::string& seed = "7") {
    const auto path = tmp / ("tiny-" + seed + ".safetensors");
    const auto r = run_evoscope({"model",
                                 "init",
                                 "--config",
                                 fixture_path("model/tiny-sdh.yml").string(),
                                 "--seed",
                                 seed,
                                 "-o",
                                 path.string(),
                                 "-q"});
    REQUIRE(r.exit_code == 0);
    return path;
}

}  // namespace

TEST_CASE("model init: deterministic in the seed, refuses to overwrite", "[e2e][model]") {
    TempDir tmp;
    const auto a = make_model(tmp, "7");
    const auto again = run_evoscope({"model",
                                     "init",
                                     "--config",
                                     fixture_path("model/tiny-sdh.yml").string(),
                                     "--seed",
                                     "7",
                                     "-o",
                                     a.string()});
    CHECK(again.exit_code == 1);
    CHECK(again.err.find("--force") != std::string::npos);
    const auto b = tmp / "b.safetensors";
    REQUIRE(run_evoscope({"model",
                          "init",
                          "--config",
                          fixture_path("model/tiny-sdh.yml").string(),
                          "--seed",
                          "7",
                          "-o",
                          b.string(),
                          "-q"})
                .exit_code == 0);
    CHECK(read_file(a) == read_file(b));
    const auto c = make_model(tmp, "8");
    CHECK(read_file(a) != read_file(c));
    SECTION("a config with a missing field names it") {
        evoscope::test::write_file(tmp / "bad.yml", "vocab_size: 512\nhidden_size: 32\n");
        const auto r = run_evoscope({"model",
                                     "init",
                                     "--config",
                                     (tmp / "bad.yml").string(),
                                     "-o",
                                     (tmp / "x.safetensors").string()});
        CHECK(r.exit_code == 1);
        CHECK(r.err.rfind("[E::model-init] ", 0) == 0);
        CHECK(r.err.find("bad.yml") != std::string::npos);
        CHECK_FALSE(fs::exists(tmp / "x.safetensors"));
    }
}

TEST_CASE("score: per-base log-probabilities agree with the logits and the summary",
          "[e2e][model]") {
    TempDir tmp;
    const auto model = make_model(tmp);
    const auto tsv = tmp / "lp.tsv";
    const auto npy = tmp / "logits.npy";
    const auto r = run_evoscope({"model",
                                 "score",
                                 "-m",
                                 model.string(),
                                 "-f",
                                 data_path("genomes/lambda.fa").string(),
                                 "-r",
                                 kContig + ":1,001-1,300",
                                 "--per-base",
                                 tsv.string(),
                                 "--logits",
                                 npy.string()});
    REQUIRE(r.exit_code == 0);
    const auto rows = tsv_rows(read_file(tsv));
    REQUIRE(rows.size() == 301);
    CHECK((rows[0] == std::vector<std::string>{"contig", "pos", "base", "logprob"}));
    CHECK(rows[1][1] == "1001");
    CHECK(rows[1][3] == "NA");  // nothing precedes the first base
    evoscope::NpyInfo info;
    const auto logits = evoscope::read_npy_float32(npy, &info);
    REQUIRE((info.shape == std::vector<std::int64_t>{300, 512}));
    double nll = 0;
    for (std::size_t t = 1; t < 300; ++t) {
        // Independent log-softmax of row t-1 at the column of base t.
        const float* row = logits.data() + (t - 1) * 512;
        double max = row[0];
        for (int v = 1; v < 512; ++v)
            max = std::max(max, static_cast<double>(row[v]));
        double sum = 0;
        for (int v = 0; v < 512; ++v)
            sum += std::exp(row[v] - max);
        const auto base = static_cast<unsigned char>(rows[t + 1][2][0]);
        const double expected = row[base] - max - std::log(sum);
        CHECK(std::stod(rows[t + 1][3]) == Approx(expected).margin(2e-6));
        nll -= expected;
    }
    const double mean = nll / 299.0;
    std::ostringstream want;
    want.precision(4);
    want << std::fixed << mean << " nats";
    CHECK(r.err.find("299 bases scored: mean loss " + want.str()) != std::string::npos);
    SECTION("--logits with several regions is a usage error") {
        const auto bad = run_evoscope({"model",
                                       "score",
                                       "-m",
                                       model.string(),
                                       "-f",
                                       data_path("genomes/lambda.fa").string(),
                                       "-r",
                                       kContig + ":1-100",
                                       "-r",
                                       kContig + ":200-300",
                                       "--logits",
                                       (tmp / "l2.npy").string()});
        CHECK(bad.exit_code == 2);
        CHECK_FALSE(fs::exists(tmp / "l2.npy"));
    }
}

TEST_CASE("embed: stitched stores hold each position once, from the window with most context",
          "[e2e][model]") {
    TempDir tmp;
    const auto model = make_model(tmp);
    const auto fasta = data_path("genomes/lambda.fa").string();
    const auto out = tmp / "acts";
    const auto r = run_evoscope({"model",    "embed",
                                 "-m",       model.string(),
                                 "-f",       fasta,
                                 "-r",       kContig + ":1-1000",
                                 "-w",       "200",
                                 "-s",       "100",
                                 "--strand", "both",
                                 "--layer",  "blocks.3",
                                 "--layer",  "blocks.1.mlp.l3",
                                 "-o",       out.string(),
                                 "-q"});
    REQUIRE(r.exit_code == 0);
    const evoscope::sae::ActivationStore store(out / "blocks.3");
    CHECK(store.d_model() == 32);
    CHECK(store.n_rows() == 2000);  // 1,000 positions x 2 strands
    CHECK(store.manifest().site == "blocks.3");
    CHECK(store.manifest().model_hash.rfind("fnv1a64s:", 0) == 0);
    const evoscope::sae::ActivationStore mlp(out / "blocks.1.mlp.l3");
    CHECK(mlp.n_rows() == 2000);

    // '+': positions 300..399 belong to the window [200, 400); embed that window alone.
    const auto window_npy = tmp / "w.npy";
    REQUIRE(run_evoscope({"model",
                          "embed",
                          "-m",
                          model.string(),
                          "-f",
                          fasta,
                          "-r",
                          kContig + ":201-400",
                          "-w",
                          "200",
                          "--layer",
                          "blocks.3",
                          "--npy",
                          window_npy.string(),
                          "-q"})
                .exit_code == 0);
    evoscope::NpyInfo info;
    const auto alone = evoscope::read_npy_float32(window_npy, &info);
    REQUIRE((info.shape == std::vector<std::int64_t>{200, 32}));
    const auto stitched = store.read_region(kContig, 300, 400, '+');
    for (std::size_t i = 0; i < stitched.size(); ++i) {
        REQUIRE(stitched[i] == Approx(alone[100 * 32 + i]).margin(1e-5));
    }
    // The first half of that window (positions 200..299) came from the earlier window instead.
    const auto earlier = store.read_region(kContig, 200, 300, '+');
    double diff = 0;
    for (std::size_t i = 0; i < earlier.size(); ++i)
        diff += std::abs(earlier[i] - alone[i]);
    CHECK(diff > 1e-3);

    // '-': positions 300..399 belong to the window [300, 500) read as reverse complement.
    const auto minus_dir = tmp / "minus";
    REQUIRE(run_evoscope({"model",
                          "embed",
                          "-m",
                          model.string(),
                          "-f",
                          fasta,
                          "-r",
                          kContig + ":301-500",
                          "-w",
                          "200",
                          "--strand",
                          "-",
                          "--layer",
                          "blocks.3",
                          "-o",
                          minus_dir.string(),
                          "-q"})
                .exit_code == 0);
    const evoscope::sae::ActivationStore minus_alone(minus_dir / "blocks.3");
    const auto want = minus_alone.read_region(kContig, 300, 400, '-');
    const auto got = store.read_region(kContig, 300, 400, '-');
    for (std::size_t i = 0; i < got.size(); ++i) {
        REQUIRE(got[i] == Approx(want[i]).margin(1e-5));
    }
}

TEST_CASE("embed: bad sites and option combinations are refused before writing", "[e2e][model]") {
    TempDir tmp;
    const auto model = make_model(tmp);
    const auto fasta = data_path("genomes/lambda.fa").string();
    const auto bad_site = run_evoscope({"model",
                                        "embed",
                                        "-m",
                                        model.string(),
                                        "-f",
                                        fasta,
                                        "-r",
                                        kContig + ":1-500",
                                        "--layer",
                                        "blocks.99",
                                        "-o",
                                        (tmp / "o").string()});
    CHECK(bad_site.exit_code == 1);
    CHECK(bad_site.err.find("blocks.99") != std::string::npos);
    CHECK_FALSE(fs::exists(tmp / "o"));
    const auto both =
        run_evoscope({"model", "embed", "-m", model.string(), "-f", fasta, "--layer", "blocks.1"});
    CHECK(both.exit_code == 2);
    const auto cuda = run_evoscope({"model",
                                    "embed",
                                    "-m",
                                    model.string(),
                                    "-f",
                                    fasta,
                                    "-r",
                                    kContig + ":1-500",
                                    "--layer",
                                    "blocks.1",
                                    "--device",
                                    "cuda",
                                    "-o",
                                    (tmp / "c").string()});
    CHECK(cuda.exit_code == 1);
    CHECK(cuda.err.find("CUDA") != std::string::npos);
}
