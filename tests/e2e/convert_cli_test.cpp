// `evoscope convert` end to end on a real torch.save file (made by Debian's PyTorch, see
// tests/data/README.md) holding a Transformer Engine-style BytesIO _extra_state entry.
#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

namespace fs = std::filesystem;
using evoscope::test::fixture_path;
using evoscope::test::read_file;
using evoscope::test::run_evoscope;
using evoscope::test::TempDir;

TEST_CASE("convert: non-tensor entries are skipped and counted, the config travels in the metadata",
          "[e2e][convert]") {
    TempDir tmp;
    const auto out = tmp / "converted.safetensors";
    const auto r = run_evoscope({"model",
                                 "convert",
                                 "--config",
                                 fixture_path("model/tiny-sdh.yml").string(),
                                 "--checkpoint",
                                 fixture_path("model/extra_state.pt").string(),
                                 "-o",
                                 out.string()});
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("non-tensor entries skipped") != std::string::npos);
    const std::string bytes = read_file(out);
    // The JSON header holds the official key names and the YAML text of the config.
    CHECK(bytes.find("\"embedding_layer.weight\"") != std::string::npos);
    CHECK(bytes.find("evoscope.config") != std::string::npos);
    CHECK(bytes.find("evoscope-tiny-sdh") != std::string::npos);
    CHECK(bytes.find("_extra_state") == std::string::npos);

    SECTION("split parts convert to the same file") {
        const auto from_parts = tmp / "parts.safetensors";
        const auto p = run_evoscope({"model",
                                     "convert",
                                     "--config",
                                     fixture_path("model/tiny-sdh.yml").string(),
                                     "--checkpoint",
                                     fixture_path("model/split.pt.part0").string(),
                                     fixture_path("model/split.pt.part1").string(),
                                     fixture_path("model/split.pt.part2").string(),
                                     "-o",
                                     from_parts.string(),
                                     "-q"});
        CHECK(p.exit_code == 0);
        CHECK(fs::file_size(from_parts) > 0);
    }
    SECTION("a file that is not a checkpoint fails cleanly and leaves nothing") {
        const auto bad = run_evoscope({"model",
                                       "convert",
                                       "--config",
                                       fixture_path("model/tiny-sdh.yml").string(),
                                       "--checkpoint",
                                       fixture_path("model/tiny-sdh.yml").string(),
                                       "-o",
                                       (tmp / "bad.safetensors").string()});
        CHECK(bad.exit_code == 1);
        CHECK(bad.err.rfind("[E::model-convert] ", 0) == 0);
        CHECK(bad.err.find("tiny-sdh.yml") != std::string::npos);
        CHECK_FALSE(fs::exists(tmp / "bad.safetensors"));
    }
}
