// The trained context a model file records (`evoscope.trained_context`) and how loading exposes
// it: the metadata value when present, else the config's max_seqlen, with where it came from.
#include <string>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "core/error.hpp"
#include "model/checkpoint.hpp"
#include "model/safetensors.hpp"
#include "tests/support/test_support.hpp"

using evoscope::model::Evo2Model;
using evoscope::model::kTrainedContextMetadataKey;
using evoscope::model::ModelConfig;

namespace {

ModelConfig tiny_config() {
    return ModelConfig::from_yaml_file(evoscope::test::fixture_path("model/tiny-sdh.yml"));
}

}  // namespace

TEST_CASE("TrainedContext: recorded context survives save and load, else config max_seqlen",
          "[model][checkpoint]") {
    const evoscope::test::TempDir dir;
    Evo2Model m = Evo2Model::init_random(tiny_config(), 5, "cpu");
    SECTION("an untrained model records nothing and falls back to max_seqlen") {
        CHECK(m.trained_context().tokens == 1024);  // tiny-sdh.yml max_seqlen
        CHECK_FALSE(m.trained_context().recorded);
        CHECK(m.trained_context().source() == "config max_seqlen");
        evoscope::model::save_model(m, dir / "init.safetensors");
        const evoscope::model::SafetensorsFile file(dir / "init.safetensors");
        CHECK(file.metadata().count(kTrainedContextMetadataKey) == 0);
        const Evo2Model again =
            evoscope::model::load_model(dir / "init.safetensors", std::nullopt, "cpu");
        CHECK(again.trained_context().tokens == 1024);
        CHECK_FALSE(again.trained_context().recorded);
    }
    SECTION("a recorded context is written, read back and kept by a re-save") {
        m.set_trained_context(65);
        CHECK(m.trained_context().recorded);
        evoscope::model::save_model(m, dir / "trained.safetensors");
        const evoscope::model::SafetensorsFile file(dir / "trained.safetensors");
        CHECK(file.metadata().at(kTrainedContextMetadataKey) == "65");
        const Evo2Model again =
            evoscope::model::load_model(dir / "trained.safetensors", std::nullopt, "cpu");
        CHECK(again.trained_context().tokens == 65);
        CHECK(again.trained_context().recorded);
        CHECK(again.trained_context().source() == "evoscope.trained_context");
        evoscope::model::save_model(again, dir / "again.safetensors");
        CHECK(evoscope::test::read_file(dir / "again.safetensors") ==
              evoscope::test::read_file(dir / "trained.safetensors"));
    }
    SECTION("a context below 2 tokens is refused") {
        REQUIRE_THROWS_AS(m.set_trained_context(1), evoscope::InputError);
    }
    SECTION("a malformed metadata value is a FormatError naming the key") {
        evoscope::model::save_model(m, dir / "init.safetensors");
        const evoscope::model::SafetensorsFile file(dir / "init.safetensors");
        std::vector<std::pair<std::string, at::Tensor>> entries;
        for (const auto& e : file.entries())
            entries.emplace_back(e.name, file.tensor(e.name));
        auto metadata = file.metadata();
        metadata[kTrainedContextMetadataKey] = "1k";
        evoscope::model::write_safetensors(dir / "bad.safetensors", entries, metadata);
        try {
            (void)evoscope::model::load_model(dir / "bad.safetensors", std::nullopt, "cpu");
            FAIL("no exception");
        } catch (const evoscope::FormatError& e) {
            CHECK(std::string(e.what()).find(kTrainedContextMetadataKey) != std::string::npos);
        }
    }
}
