// The trained context end to end (issue 10): `model train` records it, the commands that run a
// model take their default window from it and warn past it, and `score` tiles regions longer than
// it, each base from the window that gives it the most preceding context.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "formats/safetensors.hpp"
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
const std::string kKey = "evoscope.trained_context";

std::string trained_context_of(const fs::path& model) {
    const evoscope::SafetensorsReader file(model);
    const auto it = file.metadata().find(kKey);
    return it == file.metadata().end() ? std::string("(none)") : it->second;
}

/// A tiny model trained for a few steps on windows of 64 bases: trained context 65 tokens.
fs::path train_tiny(const TempDir& tmp) {
    const auto out = tmp / "run";
    const auto r = run_evoscope({"model",
                                 "train",
                                 "--config",
                                 fixture_path("model/tiny-sdh.yml").string(),
                                 "-f",
                                 data_path("genomes/lambda.fa").string(),
                                 "-w",
                                 "64",
                                 "-b",
                                 "4",
                                 "--steps",
                                 "4",
                                 "--warmup",
                                 "1",
                                 "--lr",
                                 "3e-3",
                                 "--eval-every",
                                 "4",
                                 "--checkpoint-every",
                                 "2",
                                 "--seed",
                                 "3",
                                 "-t",
                                 "1",
                                 "-q",
                                 "-o",
                                 out.string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return out;
}

/// Per-base log-probabilities of `region` (column 4 of --per-base), keyed by 1-based position.
std::map<std::int64_t, std::string> per_base(const TempDir& tmp,
                                             const fs::path& model,
                                             const std::string& region,
                                             const std::vector<std::string>& extra,
                                             std::string* err = nullptr) {
    const auto tsv = tmp / "lp.tsv";
    std::vector<std::string> args = {"model",
                                     "score",
                                     "-m",
                                     model.string(),
                                     "-f",
                                     data_path("genomes/lambda.fa").string(),
                                     "-r",
                                     region,
                                     "--per-base",
                                     tsv.string(),
                                     "--force",
                                     "-t",
                                     "1",
                                     "-v"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_evoscope(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    if (err != nullptr)
        *err = r.err;
    std::map<std::int64_t, std::string> out;
    const auto rows = tsv_rows(read_file(tsv));
    for (std::size_t i = 1; i < rows.size(); ++i) {
        if (rows[i].size() == 4)
            out[std::stoll(rows[i][1])] = rows[i][3];
    }
    return out;
}

}  // namespace

TEST_CASE("context: model train records window + 1 as the trained context in every model file",
          "[e2e][model][context]") {
    TempDir tmp;
    const auto run = train_tiny(tmp);
    CHECK(trained_context_of(run / "model.safetensors") == "65");
    CHECK(trained_context_of(run / "checkpoints/step-2/model.safetensors") == "65");
    CHECK(trained_context_of(run / "checkpoints/step-4/model.safetensors") == "65");

    {  // a fine-tune records its own window, not its starting model's
        const auto ft = tmp / "ft";
        const auto r = run_evoscope({"model",        "train",
                                     "--init-from",  (run / "model.safetensors").string(),
                                     "-f",           data_path("genomes/lambda.fa").string(),
                                     "-w",           "32",
                                     "-b",           "2",
                                     "--steps",      "2",
                                     "--warmup",     "1",
                                     "--eval-every", "2",
                                     "-t",           "1",
                                     "-q",           "-o",
                                     ft.string()});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(trained_context_of(ft / "model.safetensors") == "33");
    }
    {  // model init records none: commands fall back to the config's max_seqlen
        const auto init = tmp / "init.safetensors";
        REQUIRE(run_evoscope({"model",
                              "init",
                              "--config",
                              fixture_path("model/tiny-sdh.yml").string(),
                              "-o",
                              init.string(),
                              "-q"})
                    .exit_code == 0);
        CHECK(trained_context_of(init) == "(none)");
        const auto r = run_evoscope({"model",
                                     "score",
                                     "-m",
                                     init.string(),
                                     "-f",
                                     data_path("genomes/lambda.fa").string(),
                                     "-r",
                                     kContig + ":1-100",
                                     "-t",
                                     "1",
                                     "-v"});
        REQUIRE(r.exit_code == 0);
        CHECK(r.err.find("trained context 1024 tokens (config max_seqlen)") != std::string::npos);
    }
}

TEST_CASE(
    "context: default windows come from the model, and larger ones warn naming model and context",
    "[e2e][model][context]") {
    TempDir tmp;
    const auto model = train_tiny(tmp) / "model.safetensors";
    const auto lambda = data_path("genomes/lambda.fa").string();

    {  // embed: window of 64 bases by default, no warning; -w 200 warns
        const auto r = run_evoscope({"model",
                                     "embed",
                                     "-m",
                                     model.string(),
                                     "-l",
                                     "blocks.1",
                                     "-f",
                                     lambda,
                                     "-r",
                                     kContig + ":1-300",
                                     "--npy",
                                     (tmp / "a.npy").string(),
                                     "-t",
                                     "1",
                                     "-v"});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(r.err.find("window 64 bp (from the model's 65-token trained context)") !=
              std::string::npos);
        CHECK(r.err.find("[W::") == std::string::npos);
        const auto w = run_evoscope({"model",
                                     "embed",
                                     "-m",
                                     model.string(),
                                     "-l",
                                     "blocks.1",
                                     "-f",
                                     lambda,
                                     "-r",
                                     kContig + ":1-300",
                                     "-w",
                                     "200",
                                     "--npy",
                                     (tmp / "b.npy").string(),
                                     "-t",
                                     "1"});
        INFO(w.err);
        REQUIRE(w.exit_code == 0);
        CHECK(w.err.find("[W::model-embed] window 200 exceeds the 65-token context model " +
                         model.string() + " was trained at; results past it are unreliable") !=
              std::string::npos);
    }
    {  // score: windows of 65 tokens by default; -w 200 warns; --no-tiling warns past the context
        std::string err;
        (void)per_base(tmp, model, kContig + ":1,001-1,300", {}, &err);
        CHECK(err.find("in 9 windows of 65 tokens (stride 32)") != std::string::npos);
        CHECK(err.find("[W::") == std::string::npos);
        (void)per_base(tmp, model, kContig + ":1,001-1,300", {"-w", "200"}, &err);
        CHECK(err.find("[W::model-score] window 200 exceeds the 65-token context model " +
                       model.string() + " was trained at; results past it are unreliable") !=
              std::string::npos);
        CHECK(err.find("in 2 windows of 200 tokens (stride 100)") != std::string::npos);
        (void)per_base(tmp, model, kContig + ":1,001-1,300", {"--no-tiling"}, &err);
        CHECK(err.find(
                  "[W::model-score] region NC_001416.1:1001-1300 (300 tokens, scored in one pass) "
                  "exceeds the "
                  "65-token context model") != std::string::npos);
    }
    {  // train-sae -m: windows of 64 bases by default
        const auto r = run_evoscope({"sae",     "train",
                                     "-m",      model.string(),
                                     "--layer", "blocks.1",
                                     "-f",      lambda,
                                     "-r",      kContig + ":1-2,000",
                                     "--d-sae", "16",
                                     "-k",      "4",
                                     "--steps", "2",
                                     "-b",      "64",
                                     "-o",      (tmp / "sae").string(),
                                     "-t",      "1",
                                     "-v"});
        INFO(r.err);
        CHECK(r.err.find("window 64 bp (from the model's 65-token trained context)") !=
              std::string::npos);
        CHECK(r.err.find("32 windows") != std::string::npos);  // 2,000 bases / 64, rounded up
    }
}

TEST_CASE("context: tiled score takes each base from the window the stitching rule picks",
          "[e2e][model][context]") {
    TempDir tmp;
    const auto model = train_tiny(tmp) / "model.safetensors";
    // 300 bases, windows of W = 65 tokens every S = 32: starts 0, 32, ..., 256 (the last one 44
    // long).
    const std::int64_t begin = 1001;
    const std::int64_t n = 300;
    const std::int64_t W = 65;
    const std::int64_t S = 32;
    const auto tiled = per_base(tmp, model, kContig + ":1,001-1,300", {});
    REQUIRE(static_cast<std::int64_t>(tiled.size()) == n);
    CHECK(tiled.at(begin) == "NA");
    // The rule, written out: the earliest window covering t that has t past its first W - S tokens.
    const auto window_of = [&](std::int64_t t) {
        for (std::int64_t k = 0;; ++k) {
            if (t >= k * S && t < k * S + W && (k == 0 || t - k * S >= W - S))
                return k;
        }
    };
    std::map<std::int64_t, std::map<std::int64_t, std::string>>
        reference;  // window -> its own scores
    std::int64_t n_checked = 0;
    for (std::int64_t t = 1; t < n; ++t) {
        const std::int64_t k = window_of(t);
        if (!reference.contains(k)) {
            // The window alone, scored in one pass: a plain reference.
            const std::int64_t b = begin + k * S;
            const std::int64_t e = std::min(b + W - 1, begin + n - 1);
            reference[k] = per_base(tmp,
                                    model,
                                    kContig + ":" + std::to_string(b) + "-" + std::to_string(e),
                                    {"--no-tiling"});
        }
        INFO("base " << t << " from window " << k);
        CHECK(std::stod(tiled.at(begin + t)) ==
              Approx(std::stod(reference[k].at(begin + t))).margin(1e-6));
        ++n_checked;
    }
    CHECK(reference.size() == 9);
    CHECK(n_checked == n - 1);
    {  // --stride changes the windows; --no-tiling scores the region in one pass
        const auto strided = per_base(tmp, model, kContig + ":1,001-1,300", {"-s", "16"});
        const auto whole = per_base(tmp, model, kContig + ":1,001-1,300", {"--no-tiling"});
        CHECK(strided.at(begin + 40) == tiled.at(begin + 40));  // window 0 in both
        // Causal: the last base of window 0 has the same context either way (up to FFT rounding).
        CHECK(std::stod(whole.at(begin + 64)) ==
              Approx(std::stod(tiled.at(begin + 64))).margin(1e-5));
        CHECK(whole.at(begin + 200) !=
              tiled.at(begin + 200));  // 200 tokens of context vs 40 (window 5)
    }
}

TEST_CASE("context: score without -r scores every contig", "[e2e][model][context]") {
    TempDir tmp;
    const auto model = train_tiny(tmp) / "model.safetensors";
    const auto seq = evoscope::test::plain_fasta(data_path("genomes/lambda.fa")).at(kContig);
    evoscope::test::write_file(
        tmp / "two.fa", ">a\n" + seq.substr(0, 150) + "\n>b\n" + seq.substr(1000, 90) + "\n");
    const auto tsv = tmp / "lp.tsv";
    const auto r = run_evoscope({"model",
                                 "score",
                                 "-m",
                                 model.string(),
                                 "-f",
                                 (tmp / "two.fa").string(),
                                 "--per-base",
                                 tsv.string(),
                                 "-t",
                                 "1"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("2 region(s), 238 bases scored") != std::string::npos);
    const auto rows = tsv_rows(read_file(tsv));
    std::map<std::string, int> per_contig;
    for (std::size_t i = 1; i < rows.size(); ++i) {
        if (rows[i].size() == 4)
            ++per_contig[rows[i][0]];
    }
    CHECK(per_contig == std::map<std::string, int>{{"a", 150}, {"b", 90}});
}
