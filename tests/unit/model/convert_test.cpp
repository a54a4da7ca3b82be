#include "model/convert.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "core/error.hpp"
#include "model/safetensors.hpp"
#include "model/torch_checkpoint.hpp"
#include "tests/support/catch_torch.hpp"  // after libtorch: Catch2's CHECK, not glog's
#include "tests/support/test_support.hpp"
#include "tests/unit/model/checkpoint_fixtures.hpp"

using Catch::Matchers::Contains;
using evoscope::FormatError;
using evoscope::InputError;
using evoscope::model::checkpoint_parts;
using evoscope::model::convert_checkpoint;
using evoscope::model::ConvertOptions;
using evoscope::model::SafetensorsFile;
using evoscope::test::fixture_path;
using evoscope::test::same_bits;
using evoscope::test::TempDir;

namespace {

const std::string kConfig = "model_name: tiny\nvocab_size: 4\nhidden_size: 3\nnum_layers: 1\n";

}  // namespace

TEST_CASE("convert: torch.save checkpoint to safetensors with the config in the metadata",
          "[model][convert]") {
    TempDir dir;
    const auto out = dir / "tiny.safetensors";
    const auto summary = convert_checkpoint({fixture_path("model/extra_state.pt")}, kConfig, out);

    REQUIRE(summary.n_tensors == 2);
    REQUIRE(summary.n_skipped_non_tensor == 3);
    REQUIRE(summary.skipped ==
            std::vector<std::string>{"blocks.0.projections._extra_state", "note", "step"});
    REQUIRE(summary.n_dropped_extra == 2);
    REQUIRE(summary.dropped == std::vector<std::string>{"blocks.0.filter.t", "unembed.weight"});
    REQUIRE(summary.bytes_written == std::filesystem::file_size(out));

    const SafetensorsFile file(out);
    REQUIRE(file.metadata().at("evoscope.config") == kConfig);
    REQUIRE(file.metadata().at("evoscope.source") == "extra_state.pt");
    REQUIRE(file.metadata().at("format") == "pt");
    const auto expected = evoscope::test::expected_extra_state();
    REQUIRE(file.entries().size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        REQUIRE(file.entries()[i].name == expected[i].first);
        REQUIRE(same_bits(file.tensor(expected[i].first), expected[i].second));
    }
    REQUIRE(evoscope::test::list_dir(dir.path()) == std::vector<std::string>{"tiny.safetensors"});

    SECTION("extras kept on request") {
        const auto all = dir / "all.safetensors";
        const auto s = convert_checkpoint({fixture_path("model/extra_state.pt")},
                                          kConfig,
                                          all,
                                          ConvertOptions{.drop_extra = false});
        REQUIRE(s.n_tensors == 4);
        REQUIRE(s.n_dropped_extra == 0);
        const SafetensorsFile f(all);
        for (const auto& [name, want] : expected) {
            REQUIRE(same_bits(f.tensor(name), want));
        }
    }
    SECTION("split parts convert to the same tensors") {
        const auto parts = checkpoint_parts(fixture_path("model/split.pt"));
        const auto from_parts = dir / "parts.safetensors";
        convert_checkpoint(parts, kConfig, from_parts);
        const SafetensorsFile f(from_parts);
        REQUIRE(f.metadata().at("evoscope.source") ==
                "split.pt.part0,split.pt.part1,split.pt.part2");
        REQUIRE(f.entries().size() == 2);
        for (const auto& e : f.entries()) {
            REQUIRE(same_bits(f.tensor(e.name), file.tensor(e.name)));
        }
    }
    SECTION("an existing output is refused unless overwriting") {
        REQUIRE_THROWS_WITH(
            convert_checkpoint({fixture_path("model/extra_state.pt")}, kConfig, out),
            Contains("exists"));
        convert_checkpoint({fixture_path("model/extra_state.pt")},
                           kConfig,
                           out,
                           ConvertOptions{.overwrite = true});
    }
}

TEST_CASE("convert: views, shared storages and every dtype come out contiguous and exact",
          "[model][convert]") {
    TempDir dir;
    const auto out = dir / "basic.safetensors";
    const auto summary = convert_checkpoint({fixture_path("model/basic.pt")}, kConfig, out);
    const auto expected = evoscope::test::expected_basic();
    REQUIRE(summary.n_tensors == static_cast<std::int64_t>(expected.size()));
    REQUIRE(summary.n_skipped_non_tensor == 0);
    const SafetensorsFile file(out);
    for (const auto& [name, want] : expected) {
        INFO("tensor " << name);
        REQUIRE(same_bits(file.tensor(name), want));
    }
}

TEST_CASE("convert: failures leave no output", "[model][convert]") {
    TempDir dir;
    const auto out = dir / "x.safetensors";
    SECTION("config that is not a YAML mapping") {
        REQUIRE_THROWS_AS(convert_checkpoint({fixture_path("model/basic.pt")}, "- a\n- b\n", out),
                          InputError);
        REQUIRE_THROWS_AS(convert_checkpoint({fixture_path("model/basic.pt")}, "a: [1,\n", out),
                          InputError);
    }
    SECTION("broken checkpoint") {
        REQUIRE_THROWS_AS(
            convert_checkpoint({fixture_path("model/basic_missing_storage.pt")}, kConfig, out),
            FormatError);
    }
    REQUIRE(evoscope::test::list_dir(dir.path()).empty());
}
