#include "model/checkpoint.hpp"

#include <fstream>
#include <string>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "core/error.hpp"
#include "model/safetensors.hpp"
#include "tests/support/catch_torch.hpp"  // after libtorch: Catch2's CHECK, not glog's
#include "tests/support/test_support.hpp"
#include "tests/unit/model/evo2_reference.hpp"

using evoscope::model::Evo2Model;
using evoscope::model::ModelConfig;
namespace ref = evoscope::test::ref;

namespace {

ModelConfig tiny_config() {
    return ModelConfig::from_yaml_file(evoscope::test::fixture_path("model/tiny-sdh.yml"));
}

}  // namespace

TEST_CASE("Checkpoint: save then load through a safetensors file is bit-exact",
          "[model][checkpoint]") {
    const evoscope::test::TempDir dir;
    const ModelConfig c = tiny_config();
    // An "official" file: official keys + extras, bf16 with fp32 islands, no evoscope metadata.
    const auto sd = ref::random_checkpoint(c, 31, at::kBFloat16, true);
    std::vector<std::pair<std::string, at::Tensor>> entries(sd.begin(), sd.end());
    evoscope::model::write_safetensors(dir / "official.safetensors", entries, {});

    SECTION("config from --config; extras ignored") {
        const Evo2Model m =
            evoscope::model::load_model(dir / "official.safetensors",
                                        evoscope::test::fixture_path("model/tiny-sdh.yml"),
                                        "cpu");
        evoscope::model::save_model(m, dir / "saved.safetensors");
        const evoscope::model::SafetensorsFile saved(dir / "saved.safetensors");
        REQUIRE(saved.entries().size() == 77);
        for (const auto& e : saved.entries()) {
            INFO(e.name);
            const at::Tensor t = saved.tensor(e.name);
            CHECK(t.scalar_type() == sd.at(e.name).scalar_type());
            CHECK(at::equal(t, sd.at(e.name)));
        }
        REQUIRE(saved.metadata().at("evoscope.format_version") == "1");
        CHECK(ModelConfig::from_yaml(saved.metadata().at("evoscope.config"), "meta") == c);

        SECTION("the saved file carries its config and reloads to the same logits") {
            const Evo2Model again =
                evoscope::model::load_model(dir / "saved.safetensors", std::nullopt, "cpu");
            const at::Tensor ids = at::full({1, 12}, 65, at::kLong);
            CHECK(at::equal(again.logits(ids), m.logits(ids)));
            evoscope::model::save_model(again, dir / "saved2.safetensors");
            CHECK(evoscope::test::read_file(dir / "saved2.safetensors") ==
                  evoscope::test::read_file(dir / "saved.safetensors"));
        }
    }
    SECTION("no config anywhere is an InputError naming the file") {
        try {
            evoscope::model::load_model(dir / "official.safetensors", std::nullopt, "cpu");
            FAIL("no exception");
        } catch (const evoscope::InputError& e) {
            CHECK_THAT(
                e.what(),
                Catch::Contains("official.safetensors") && Catch::Contains("evoscope.config"));
        }
    }
    SECTION("a key problem in the file names the file and the key") {
        auto bad = entries;
        bad.erase(
            std::remove_if(
                bad.begin(), bad.end(), [](const auto& e) { return e.first == "norm.scale"; }),
            bad.end());
        evoscope::model::write_safetensors(
            dir / "bad.safetensors", bad, {{"evoscope.config", c.to_yaml()}});
        try {
            evoscope::model::load_model(dir / "bad.safetensors", std::nullopt, "cpu");
            FAIL("no exception");
        } catch (const evoscope::ModelError& e) {
            CHECK_THAT(e.what(),
                       Catch::Contains("bad.safetensors") && Catch::Contains("'norm.scale'"));
        }
    }
}

TEST_CASE("Checkpoint: init_random -> save -> load reproduces the model", "[model][checkpoint]") {
    const evoscope::test::TempDir dir;
    const Evo2Model m = Evo2Model::init_random(tiny_config(), 5, "cpu");
    evoscope::model::save_model(m, dir / "init.safetensors");
    const Evo2Model back =
        evoscope::model::load_model(dir / "init.safetensors", std::nullopt, "cpu");
    const at::Tensor ids = at::arange(40, at::kLong).view({2, 20}) + 60;
    CHECK(at::equal(back.logits(ids), m.logits(ids)));
}

TEST_CASE("Checkpoint: content_hash is stable and sees header and data changes",
          "[model][checkpoint]") {
    const evoscope::test::TempDir dir;
    auto write = [](const std::filesystem::path& p, const std::string& s) {
        std::ofstream(p, std::ios::binary) << s;
    };
    SECTION("small files are hashed whole") {
        write(dir / "a", "hello world");
        write(dir / "b", "hello worle");
        const std::string ha = evoscope::model::content_hash(dir / "a");
        CHECK(ha.rfind("fnv1a64s:", 0) == 0);
        CHECK(ha.size() == 9 + 16);
        CHECK(ha == evoscope::model::content_hash(dir / "a"));
        CHECK(ha != evoscope::model::content_hash(dir / "b"));
        write(dir / "empty", "");
        CHECK(evoscope::model::content_hash(dir / "empty") != ha);
    }
    SECTION("large files: head, sampled data and size are covered") {
        std::string big(12u << 20, 'x');
        for (std::size_t i = 0; i < big.size(); i += 4097)
            big[i] = static_cast<char>(i % 251);
        write(dir / "big", big);
        const std::string h0 = evoscope::model::content_hash(dir / "big");
        std::string head = big;
        head[100] ^= 1;
        write(dir / "big", head);
        CHECK(evoscope::model::content_hash(dir / "big") != h0);
        std::string tail = big;
        tail.back() ^= 1;  // the last sample ends at EOF
        write(dir / "big", tail);
        CHECK(evoscope::model::content_hash(dir / "big") != h0);
        write(dir / "big", big + "y");
        CHECK(evoscope::model::content_hash(dir / "big") != h0);
        write(dir / "big", big);
        CHECK(evoscope::model::content_hash(dir / "big") == h0);
    }
    CHECK_THROWS_AS(evoscope::model::content_hash(dir / "missing"), evoscope::IoError);
}
