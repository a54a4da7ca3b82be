// The SAE commands end to end on a tiny random model over phage lambda: embed -> train-sae
// (resumed run bit-identical) -> eval-sae (metrics, density, loss recovered) -> encode (from the
// store, from the model with --drop-first, .npy -> .npz), and bad inputs.
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <span>

#include <catch2/catch.hpp>

#include "formats/npy.hpp"
#include "store/feature_store.hpp"
#include "tests/support/test_support.hpp"

namespace fs = std::filesystem;
using evoscope::test::data_path;
using evoscope::test::fixture_path;
using evoscope::test::have_program;
using evoscope::test::read_file;
using evoscope::test::run_evoscope;
using evoscope::test::run_program;
using evoscope::test::TempDir;
using evoscope::test::tsv_rows;

namespace {

const std::string kLambda = "NC_001416.1";

/// A tiny model and an activation store of lambda's first 12 kb (both strands).
struct Fixture {
    TempDir tmp;
    fs::path model = tmp / "tiny.safetensors";
    fs::path acts = tmp / "acts" / "blocks.2";

    Fixture() {
        auto r = run_evoscope({"model",
                               "init",
                               "--config",
                               fixture_path("model/tiny-sdh.yml").string(),
                               "--seed",
                               "1",
                               "-o",
                               model.string()});
        REQUIRE(r.exit_code == 0);
        r = run_evoscope({"model",    "embed",
                          "-m",       model.string(),
                          "-l",       "blocks.2",
                          "-f",       data_path("genomes/lambda.fa").string(),
                          "-r",       kLambda + ":1-12,000",
                          "-w",       "1024",
                          "-s",       "512",
                          "--strand", "both",
                          "-t",       "1",
                          "-o",       (tmp / "acts").string()});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
    }

    std::vector<std::string> train(const fs::path& out) const {
        return {"sae",         "train", "--acts",      acts.string(), "--arch",       "batchtopk",
                "--expansion", "4",     "--k",         "6",           "--steps",      "60",
                "-b",          "256",   "--normalize", "mean+norm",   "--eval-every", "20",
                "-t",          "1",     "--seed",      "2",           "-o",           out.string()};
    }
};

std::map<std::string, double> metrics(const fs::path& file) {
    std::map<std::string, double> m;
    for (const auto& row : tsv_rows(read_file(file))) {
        if (row.size() == 2 && row[0] != "metric")
            m[row[0]] = std::stod(row[1]);
    }
    return m;
}

}  // namespace

TEST_CASE("train-sae: SAELens output, curves, and a resumed run identical to an uninterrupted one",
          "[e2e][sae]") {
    Fixture f;
    const auto full = f.tmp / "full";
    auto r = run_evoscope(f.train(full));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    for (const auto* file : {"sae_weights.safetensors",
                             "cfg.json",
                             "train_log.tsv",
                             "curves.svg",
                             "checkpoints/step-60/state.json"}) {
        CHECK(fs::exists(full / file));
    }
    const auto cfg = read_file(full / "cfg.json");
    CHECK(cfg.find("\"architecture\": \"batchtopk\"") != std::string::npos);
    CHECK(cfg.find("\"hook_name\": \"blocks.2\"") != std::string::npos);
    const auto log = tsv_rows(read_file(full / "train_log.tsv"));
    REQUIRE(log.size() == 62);  // header, step 0, steps 1..60
    CHECK(log[0][9] == "eval_explained_variance");
    CHECK(std::stod(log[61][9]) > std::stod(log[21][9]) - 1e-9);  // held-out EV does not get worse
    CHECK(std::stod(log[61][9]) > 0.5);

    // Interrupted at step 25 (between checkpoints), then resumed.
    const auto part = f.tmp / "part";
    auto args = f.train(part);
    args.insert(args.end(), {"--stop-after", "25"});
    r = run_evoscope(args);
    REQUIRE(r.exit_code == 0);
    CHECK_FALSE(fs::exists(part / "sae_weights.safetensors"));
    r = run_evoscope({"sae", "train", "--resume", part.string(), "-t", "1"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(read_file(part / "sae_weights.safetensors") ==
          read_file(full / "sae_weights.safetensors"));
    CHECK(read_file(part / "train_log.tsv") == read_file(full / "train_log.tsv"));

    // eval-sae on held-out rows, and loss recovered through the model.
    r = run_evoscope({"sae",
                      "eval",
                      "--sae",
                      full.string(),
                      "--acts",
                      f.acts.string(),
                      "--rows",
                      "20000:",
                      "-o",
                      (f.tmp / "eval").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto m = metrics(f.tmp / "eval" / "metrics.tsv");
    CHECK(m.at("rows") == 4000);  // 12,000 positions x 2 strands, rows 20,000..24,000
    CHECK(m.at("explained_variance") > 0.5);
    CHECK(m.at("l0") > 1.0);
    CHECK(m.at("l0") < 20.0);
    CHECK(read_file(f.tmp / "eval" / "feature_density.svg").find("<rect") != std::string::npos);
    r = run_evoscope({"sae",
                      "eval",
                      "--sae",
                      full.string(),
                      "-m",
                      f.model.string(),
                      "-l",
                      "blocks.2",
                      "-f",
                      data_path("genomes/lambda.fa").string(),
                      "-r",
                      kLambda + ":20,001-22,048",
                      "-w",
                      "1024",
                      "--loss-recovered",
                      "-o",
                      (f.tmp / "eval2").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    m = metrics(f.tmp / "eval2" / "metrics.tsv");
    CHECK(m.at("ce_positions") == 2 * 1023);
    CHECK(m.at("ce_zero_ablation") != m.at("ce_clean"));
    CHECK(std::isfinite(m.at("loss_recovered")));
}

namespace {

/// How two feature stores of the same windows differ: positions whose active feature sets differ,
/// and the largest relative difference of a value active in both.
struct StoreDiff {
    std::int64_t n_positions = 0;
    std::int64_t n_set_mismatch = 0;
    double max_rel_value_diff = 0.0;
};

StoreDiff compare_stores(const fs::path& a_dir, const fs::path& b_dir) {
    const evoscope::sae::FeatureStore a(a_dir);
    const evoscope::sae::FeatureStore b(b_dir);
    REQUIRE(a.chunks().size() == b.chunks().size());
    StoreDiff d;
    for (std::size_t c = 0; c < a.chunks().size(); ++c) {
        const auto& ca = a.chunks()[c];
        const auto& cb = b.chunks()[c];
        REQUIRE((ca.contig == cb.contig && ca.strand == cb.strand && ca.begin == cb.begin &&
                 ca.end == cb.end));
        const auto ra = a.read_chunk(c);
        const auto rb = b.read_chunk(c);
        for (std::int64_t i = 0; i < ra.n_positions(); ++i) {
            ++d.n_positions;
            std::map<std::uint32_t, float> va;
            std::map<std::uint32_t, float> vb;
            const auto u = static_cast<std::size_t>(i);
            for (auto m = ra.row_ptr[u]; m < ra.row_ptr[u + 1]; ++m) {
                va[ra.ids[static_cast<std::size_t>(m)]] = ra.values[static_cast<std::size_t>(m)];
            }
            for (auto m = rb.row_ptr[u]; m < rb.row_ptr[u + 1]; ++m) {
                vb[rb.ids[static_cast<std::size_t>(m)]] = rb.values[static_cast<std::size_t>(m)];
            }
            bool same_set = va.size() == vb.size();
            for (const auto& [id, value] : va) {
                const auto it = vb.find(id);
                if (it == vb.end()) {
                    same_set = false;
                    continue;
                }
                const double rel =
                    std::abs(static_cast<double>(value) - static_cast<double>(it->second)) /
                    std::max(1.0, std::abs(static_cast<double>(value)));
                d.max_rel_value_diff = std::max(d.max_rel_value_diff, rel);
            }
            d.n_set_mismatch += same_set ? 0 : 1;
        }
    }
    return d;
}

}  // namespace

TEST_CASE("encode: feature stores from a store and from the model, and .npz for .npy input",
          "[e2e][sae]") {
    Fixture f;
    const auto sae = f.tmp / "sae";
    auto r = run_evoscope({"sae",
                           "train",
                           "--acts",
                           f.acts.string(),
                           "--arch",
                           "topk",
                           "--expansion",
                           "4",
                           "--k",
                           "5",
                           "--steps",
                           "30",
                           "-b",
                           "256",
                           "-t",
                           "1",
                           "-o",
                           sae.string()});
    REQUIRE(r.exit_code == 0);

    r = run_evoscope({"sae",
                      "encode",
                      "--sae",
                      sae.string(),
                      "--acts",
                      f.acts.string(),
                      "-o",
                      (f.tmp / "f1").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto manifest = read_file(f.tmp / "f1" / "manifest.json");
    CHECK(manifest.find("\"n_positions\": 24000") != std::string::npos);
    CHECK(manifest.find("\"format\": \"evoscope-features\"") != std::string::npos);

    // From the model: the same windows as the store, so the same codes up to float rounding (the
    // BLAS may round a GEMM differently for another number of rows, e.g. OpenBLAS's small-matrix
    // kernels on AVX-512 CPUs): the same positions, the same active features at all but a handful
    // of positions (a near-tie for the k-th feature can flip), values equal to 1e-4. Where the
    // BLAS rounds alike, the bytes are identical. --drop-first 8 leaves the region's first 8 bases
    // uncovered on '+' and its last 8 on '-'.
    r = run_evoscope({"sae",      "encode",
                      "--sae",    sae.string(),
                      "-m",       f.model.string(),
                      "-l",       "blocks.2",
                      "-f",       data_path("genomes/lambda.fa").string(),
                      "-r",       kLambda + ":1-12,000",
                      "-w",       "1024",
                      "-s",       "512",
                      "--strand", "both",
                      "-o",       (f.tmp / "f2").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const StoreDiff diff = compare_stores(f.tmp / "f1", f.tmp / "f2");
    INFO("positions " << diff.n_positions << ", active sets differ at " << diff.n_set_mismatch
                      << ", max relative value difference " << diff.max_rel_value_diff);
    CHECK(diff.n_positions == 24000);
    CHECK(diff.n_set_mismatch <= diff.n_positions / 1000);
    CHECK(diff.max_rel_value_diff <= 1e-4);
    r = run_evoscope({"sae",          "encode",
                      "--sae",        sae.string(),
                      "-m",           f.model.string(),
                      "-l",           "blocks.2",
                      "-f",           data_path("genomes/lambda.fa").string(),
                      "-r",           kLambda + ":1-12,000",
                      "-w",           "1024",
                      "-s",           "512",
                      "--strand",     "both",
                      "--drop-first", "8",
                      "-o",           (f.tmp / "f3").string()});
    REQUIRE(r.exit_code == 0);
    CHECK(read_file(f.tmp / "f3" / "manifest.json").find("\"n_positions\": 23984") !=
          std::string::npos);

    // .npy -> .npz with indices [N, k] int32 and values [N, k] float32.
    r = run_evoscope({"model",
                      "embed",
                      "-m",
                      f.model.string(),
                      "-l",
                      "blocks.2",
                      "-f",
                      data_path("genomes/lambda.fa").string(),
                      "-r",
                      kLambda + ":1-500",
                      "--npy",
                      (f.tmp / "x.npy").string()});
    REQUIRE(r.exit_code == 0);
    r = run_evoscope({"sae",
                      "encode",
                      "--sae",
                      sae.string(),
                      "--acts",
                      (f.tmp / "x.npy").string(),
                      "--npz",
                      (f.tmp / "codes.npz").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    if (have_program("/usr/bin/python3")) {
        const auto py = run_program(
            {"/usr/bin/python3",
             "-c",
             "import numpy as np,sys; z=np.load(sys.argv[1]); i=z['indices']; v=z['values']; "
             "print(i.shape, i.dtype, v.dtype, int((v > 0).sum(1).max()))",
             (f.tmp / "codes.npz").string()});
        if (py.exit_code == 0) {
            CHECK(py.out == "(500, 5) int32 float32 5\n");
        } else {
            WARN("numpy unavailable: " << py.err);
        }
    }
}

TEST_CASE("SAE commands reject bad inputs clearly and leave nothing behind", "[e2e][sae]") {
    Fixture f;
    const auto sae = f.tmp / "sae";
    REQUIRE(run_evoscope({"sae",
                          "train",
                          "--acts",
                          f.acts.string(),
                          "--arch",
                          "topk",
                          "--d-sae",
                          "64",
                          "--k",
                          "4",
                          "--steps",
                          "5",
                          "-b",
                          "128",
                          "-o",
                          sae.string()})
                .exit_code == 0);
    // An SAE for another width than the model's site.
    auto r = run_evoscope({"sae",
                           "train",
                           "--acts",
                           f.acts.string(),
                           "--arch",
                           "topk",
                           "--d-sae",
                           "64",
                           "--k",
                           "100",
                           "--steps",
                           "5",
                           "-o",
                           (f.tmp / "bad").string()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("k must be in 1..d_sae") != std::string::npos);
    CHECK_FALSE(fs::exists(f.tmp / "bad" / "sae_weights.safetensors"));
    // NaN in the activations.
    {
        std::string npy = read_file(f.acts / "shard-00000.npy");
        const auto header_end = npy.find('\n') + 1;
        const float nan = std::nanf("");
        std::memcpy(npy.data() + header_end + 4 * 32 * 7, &nan, sizeof nan);  // row 7
        std::ofstream(f.tmp / "nan.npy", std::ios::binary) << npy;
    }
    r = run_evoscope({"sae",
                      "encode",
                      "--sae",
                      sae.string(),
                      "--acts",
                      (f.tmp / "nan.npy").string(),
                      "--npz",
                      (f.tmp / "nan.npz").string()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("row 7") != std::string::npos);
    CHECK_FALSE(fs::exists(f.tmp / "nan.npz"));
    // Neither input, and a missing SAE.
    r = run_evoscope({"sae", "eval", "--sae", sae.string(), "-o", (f.tmp / "e").string()});
    CHECK(r.exit_code == 2);
    r = run_evoscope({"sae",
                      "encode",
                      "--sae",
                      (f.tmp / "nope").string(),
                      "--acts",
                      f.acts.string(),
                      "-o",
                      (f.tmp / "f").string()});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("nope") != std::string::npos);
    CHECK_FALSE(fs::exists(f.tmp / "f"));
    // An SAE trained for d_in 32 on a 16-wide array.
    {
        evoscope::NpyWriter w(f.tmp / "x16.npy", evoscope::NpyDtype::Float32, {10, 16});
        const std::vector<float> zeros(160, 0.5f);
        w.write_values(std::span<const float>(zeros));
        w.commit();
    }
    r = run_evoscope({"sae",
                      "encode",
                      "--sae",
                      sae.string(),
                      "--acts",
                      (f.tmp / "x16.npy").string(),
                      "--npz",
                      (f.tmp / "x16.npz").string()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("d_in 32") != std::string::npos);
    CHECK_FALSE(fs::exists(f.tmp / "x16.npz"));
}
