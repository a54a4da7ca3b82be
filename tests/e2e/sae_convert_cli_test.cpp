// `evoscope convert-sae` end to end: the Goodfire fixture through SAELens, dictionary_learning and
// back, tensors compared through the torch-free safetensors reader; bad inputs fail cleanly.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "formats/safetensors.hpp"
#include "tests/support/test_support.hpp"

namespace fs = std::filesystem;
using evoscope::SafetensorsReader;
using evoscope::test::fixture_path;
using evoscope::test::read_file;
using evoscope::test::run_evoscope;
using evoscope::test::TempDir;

namespace {

std::vector<float> floats(const SafetensorsReader& file, const std::string& name) {
    const auto* e = file.find(name);
    REQUIRE(e != nullptr);
    REQUIRE(e->dtype == "F32");
    const auto bytes = file.bytes(*e);
    std::vector<float> out(bytes.size() / sizeof(float));
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
}

bool same_bytes(const SafetensorsReader& a, const SafetensorsReader& b, const std::string& name) {
    const auto* ea = a.find(name);
    const auto* eb = b.find(name);
    if (ea == nullptr || eb == nullptr || ea->shape != eb->shape || ea->dtype != eb->dtype) {
        return false;
    }
    const auto x = a.bytes(*ea);
    const auto y = b.bytes(*eb);
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size()) == 0;
}

}  // namespace

TEST_CASE("convert-sae: Goodfire -> SAELens -> dictionary_learning -> SAELens keeps the weights",
          "[e2e][convert-sae]") {
    TempDir tmp;
    const auto goodfire = fixture_path("sae/goodfire_tiny_k_4.pt").string();
    const auto sl = tmp / "sl";
    auto r = run_evoscope({"sae", "convert", goodfire, "--hook", "blocks.2", "-o", sl.string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK(r.err.find("goodfire") != std::string::npos);
    CHECK(r.err.find("d_in 16, d_sae 64, arch batchtopk, k 4, tied yes, b_dec subtracted no") !=
          std::string::npos);
    const std::string cfg = read_file(sl / "cfg.json");
    CHECK(cfg.find("\"hook_name\": \"blocks.2\"") != std::string::npos);
    CHECK(cfg.find("\"apply_b_dec_to_input\": false") != std::string::npos);
    CHECK(cfg.find("\"architecture\": \"batchtopk\"") != std::string::npos);

    r = run_evoscope({"sae",
                      "convert",
                      sl.string(),
                      "--to",
                      "dictionary_learning",
                      "-o",
                      (tmp / "dl" / "ae.pt").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(fs::exists(tmp / "dl" / "config.json"));
    CHECK(r.err.find("encoder.bias") != std::string::npos);  // the warning about folding b_dec

    const auto sl2 = tmp / "sl2";
    r = run_evoscope({"sae", "convert", (tmp / "dl" / "ae.pt").string(), "-o", sl2.string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());

    const SafetensorsReader a(sl / "sae_weights.safetensors");
    const SafetensorsReader b(sl2 / "sae_weights.safetensors");
    CHECK(same_bytes(a, b, "W_enc"));
    CHECK(same_bytes(a, b, "W_dec"));
    CHECK(same_bytes(a, b, "b_dec"));
    // dictionary_learning subtracts b_dec before encoding, so b_enc' = b_enc + b_dec W_enc.
    const auto w = floats(a, "W_enc");
    const auto b_enc = floats(a, "b_enc");
    const auto b_dec = floats(a, "b_dec");
    const auto b_enc2 = floats(b, "b_enc");
    REQUIRE(b_enc.size() == 64);
    double max_diff = 0;
    for (std::size_t j = 0; j < 64; ++j) {
        double want = b_enc[j];
        for (std::size_t i = 0; i < 16; ++i) {
            want += static_cast<double>(b_dec[i]) * w[i * 64 + j];
        }
        max_diff = std::max(max_diff, std::abs(want - b_enc2[j]));
    }
    CHECK(max_diff < 1e-6);
    CHECK(read_file(sl2 / "cfg.json").find("\"apply_b_dec_to_input\": true") != std::string::npos);

    SECTION("SAELens -> Goodfire -> SAELens is bit-exact") {
        const auto gf = tmp / "back_k_4.pt";
        REQUIRE(run_evoscope(
                    {"sae", "convert", sl.string(), "--to", "goodfire", "-o", gf.string(), "-q"})
                    .exit_code == 0);
        const auto sl3 = tmp / "sl3";
        REQUIRE(run_evoscope(
                    {"sae", "convert", gf.string(), "--hook", "blocks.2", "-o", sl3.string(), "-q"})
                    .exit_code == 0);
        const SafetensorsReader c(sl3 / "sae_weights.safetensors");
        for (const char* name : {"W_enc", "W_dec", "b_enc", "b_dec"}) {
            INFO(name);
            CHECK(same_bytes(a, c, name));
        }
        CHECK(c.entries().size() == 4);
    }
    SECTION("an existing output is refused without --force and replaced with it") {
        const auto before = read_file(sl / "sae_weights.safetensors");
        auto again = run_evoscope({"sae", "convert", goodfire, "-o", sl.string()});
        CHECK(again.exit_code == 1);
        CHECK(again.err.find("exists") != std::string::npos);
        CHECK(read_file(sl / "sae_weights.safetensors") == before);
        again = run_evoscope(
            {"sae", "convert", goodfire, "--k", "8", "-o", sl.string(), "--force", "-q"});
        CHECK(again.exit_code == 0);
        CHECK(read_file(sl / "cfg.json").find("\"k\": 8") != std::string::npos);
        CHECK(evoscope::test::list_dir(tmp.path()) == std::vector<std::string>{"dl", "sl", "sl2"});
    }
}

TEST_CASE("convert-sae: bad inputs fail with the reason on stderr and leave nothing behind",
          "[e2e][convert-sae]") {
    TempDir tmp;
    const auto out = tmp / "out";
    auto require_failure =
        [&](const std::vector<std::string>& args, int code, const std::string& message) {
            std::vector<std::string> argv{"convert-sae"};
            argv.insert(argv.end(), args.begin(), args.end());
            argv.insert(argv.end(), {"-o", out.string()});
            const auto r = run_evoscope(argv);
            INFO(r.err);
            CHECK(r.exit_code == code);
            CHECK(r.out.empty());
            CHECK(r.err.find(message) != std::string::npos);
            CHECK_FALSE(fs::exists(out));
            CHECK(evoscope::test::list_dir(tmp.path()).size() <= 1);  // only inputs copied in below
        };
    SECTION("missing input") {
        require_failure({(tmp / "absent.pt").string()}, 1, "absent.pt");
    }
    SECTION("not an SAE") {
        require_failure({fixture_path("model/tiny-sdh.yml").string()}, 1, "tiny-sdh.yml");
    }
    SECTION("a Goodfire file without k") {
        fs::copy_file(fixture_path("sae/goodfire_tiny_k_4.pt"), tmp / "gf.pt");
        require_failure({(tmp / "gf.pt").string()}, 1, "--k");
    }
    SECTION("d_in not matching --d-model") {
        require_failure({fixture_path("sae/goodfire_tiny_k_4.pt").string(),
                         "--d-model",
                         "128",
                         "--hook",
                         "blocks.4"},
                        1,
                        "SAE d_in 16 does not match the model's hidden size 128 (site blocks.4)");
    }
    SECTION("an untied SAE cannot become a Goodfire file") {
        require_failure({fixture_path("sae/dl_tiny").string(), "--to", "goodfire"}, 1, "tied");
    }
    SECTION("unknown --to is a usage error") {
        require_failure({fixture_path("sae/dl_tiny").string(), "--to", "pickle"}, 2, "--to");
    }
}

TEST_CASE("convert-sae: --model checks d_in against the model's hidden size",
          "[e2e][convert-sae]") {
    TempDir tmp;
    const auto model = tmp / "m.safetensors";
    REQUIRE(run_evoscope({"model",
                          "init",
                          "--config",
                          fixture_path("model/tiny-sdh.yml").string(),
                          "-o",
                          model.string(),
                          "-q"})
                .exit_code == 0);
    const auto r = run_evoscope({"sae",
                                 "convert",
                                 fixture_path("sae/dl_tiny").string(),
                                 "-m",
                                 model.string(),
                                 "-o",
                                 (tmp / "out").string()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("hidden size 32") != std::string::npos);
    CHECK_FALSE(fs::exists(tmp / "out"));
}
