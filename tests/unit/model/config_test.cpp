#include "model/config.hpp"

#include <string>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "tests/support/test_support.hpp"

using evoscope::model::BlockType;
using evoscope::model::ModelConfig;

namespace {

std::string fixture(const std::string& name) {
    return evoscope::test::read_file(evoscope::test::fixture_path("model/" + name));
}

// Removes the line starting with `field:` from YAML text.
std::string without_field(const std::string& text, const std::string& field) {
    const std::string key = "\n" + field + ":";
    const auto pos = text.find(key);
    REQUIRE(pos != std::string::npos);
    const auto end = text.find('\n', pos + 1);
    return text.substr(0, pos) + text.substr(end);
}

std::string replace_field(const std::string& text,
                          const std::string& field,
                          const std::string& value) {
    return without_field(text, field) + field + ": " + value + "\n";
}

}  // namespace

TEST_CASE("ModelConfig: the official 7b-1m file parses with every spec §1.3 value",
          "[model][config]") {
    const auto c =
        ModelConfig::from_yaml_file(evoscope::test::fixture_path("model/evo2-7b-1m.yml"));
    CHECK(c.model_name == "shc-evo2-7b-8k-2T-v2");
    CHECK(c.vocab_size == 512);
    CHECK(c.hidden_size == 4096);
    CHECK(c.num_layers == 32);
    CHECK(c.num_attention_heads == 32);
    CHECK(c.head_dim() == 128);
    CHECK(c.inner_mlp_size == 11264);
    CHECK(c.hcm_filter_groups == 256);
    CHECK(c.hcs_filter_groups == 256);
    CHECK(c.hcm_filter_length == 128);
    CHECK(c.hcs_filter_length == 7);
    CHECK(c.short_filter_length == 3);
    CHECK(c.state_size == 16);
    CHECK(c.eps == 1e-6);
    CHECK(c.rotary_emb_base == 10000.0);
    REQUIRE(c.rotary_emb_scaling_factor.has_value());
    CHECK(*c.rotary_emb_scaling_factor == 128.0);
    CHECK(c.use_interpolated_rotary_pos_emb);
    CHECK(c.column_split);
    CHECK(c.interleave);
    CHECK_FALSE(c.column_split_hyena);
    CHECK(c.evo2_style_activations);
    CHECK(c.use_fp8_input_projections);
    CHECK(c.max_seqlen == 1048576);
    CHECK(c.mlp_activation == "gelu");
    CHECK(c.attn_layer_idxs == std::vector<std::int64_t>{3, 10, 17, 24, 31});
    CHECK(c.pattern() == "SDH*SDHSDH*SDHSDH*SDHSDH*SDHSDH*");
    const auto types = c.block_types();
    CHECK(types[1] == BlockType::HyenaMR);
    CHECK(types[26] == BlockType::HyenaMR);  // the Goodfire SAE layer (spec §4.3)
}

TEST_CASE("ModelConfig: the 1b-8k file parses (no interpolation, 15 heads of 128)",
          "[model][config]") {
    const auto c = ModelConfig::from_yaml(fixture("evo2-1b-8k.yml"), "evo2-1b-8k.yml");
    CHECK(c.pattern() == "SDH*SDHSDH*SDHSDH*SDHSDH*");
    CHECK(c.hidden_size == 1920);
    CHECK(c.head_dim() == 128);
    CHECK(c.inner_mlp_size == 5120);
    CHECK_FALSE(c.rotary_emb_scaling_factor.has_value());
    CHECK_FALSE(c.use_interpolated_rotary_pos_emb);
}

TEST_CASE("ModelConfig: to_yaml round-trips", "[model][config]") {
    const std::string name = GENERATE("evo2-7b-1m.yml", "evo2-1b-8k.yml", "tiny-sdh.yml");
    const auto c = ModelConfig::from_yaml(fixture(name), name);
    const std::string text = c.to_yaml();
    INFO(text);
    const auto back = ModelConfig::from_yaml(text, "to_yaml");
    CHECK(back == c);
    CHECK(back.to_yaml() == text);
    CHECK_THAT(text, Catch::Contains("eps: 1.0e-06") && Catch::Contains("interleave: True"));
    SECTION("awkward values survive too") {
        ModelConfig d = c;
        d.model_name = "we\"ird: 1e5";
        d.eps = 1.0 / 3.0;
        d.rotary_emb_base = 1e6;
        d.rotary_emb_scaling_factor = 2.5;
        CHECK(ModelConfig::from_yaml(d.to_yaml(), "to_yaml") == d);
    }
}

TEST_CASE("ModelConfig: a missing required field names the field and the file", "[model][config]") {
    const std::string field = GENERATE("hidden_size",
                                       "num_layers",
                                       "hcm_layer_idxs",
                                       "attn_layer_idxs",
                                       "hcs_filter_groups",
                                       "inner_mlp_size",
                                       "num_attention_heads",
                                       "state_size",
                                       "eps",
                                       "vocab_size");
    const std::string text = without_field(fixture("tiny-sdh.yml"), field);
    try {
        ModelConfig::from_yaml(text, "some/dir/tiny.yml");
        FAIL("no exception for missing " << field);
    } catch (const evoscope::FormatError& e) {
        CHECK_THAT(e.what(),
                   Catch::Contains("'" + field + "'") && Catch::Contains("some/dir/tiny.yml") &&
                       Catch::Contains("missing"));
    }
}

TEST_CASE("ModelConfig: optional fields default, unknown fields are ignored", "[model][config]") {
    std::string text = without_field(fixture("tiny-sdh.yml"), "mlp_activation");
    text = without_field(text, "column_split");
    text += "some_future_field: [1, 2]\nuse_flash_attn: True\n";
    const auto c = ModelConfig::from_yaml(text, "t");
    CHECK(c.mlp_activation == "gelu");
    CHECK(c.column_split);
}

TEST_CASE("ModelConfig: malformed values and inconsistent configs are FormatErrors",
          "[model][config]") {
    const std::string base = fixture("tiny-sdh.yml");
    auto message = [](const std::string& text) -> std::string {
        try {
            ModelConfig::from_yaml(text, "bad.yml");
        } catch (const evoscope::FormatError& e) {
            return e.what();
        }
        return "(no FormatError)";
    };
    CHECK_THAT(message("[1, 2"), Catch::Contains("not valid YAML"));
    CHECK_THAT(message("- a\n- b\n"), Catch::Contains("mapping"));
    CHECK_THAT(message(replace_field(base, "hidden_size", "wide")),
               Catch::Contains("'hidden_size'"));
    CHECK_THAT(message(replace_field(base, "hcm_layer_idxs", "[1, 4]")),
               Catch::Contains("block 4 appears in 2"));
    CHECK_THAT(message(replace_field(base, "hcm_layer_idxs", "[1]")),
               Catch::Contains("block 5 appears in 0"));
    CHECK_THAT(message(replace_field(base, "hcm_layer_idxs", "[1, 5, 9]")),
               Catch::Contains("outside 0..6"));
    CHECK_THAT(message(replace_field(base, "hcm_filter_length", "64")),
               Catch::Contains("hcm_filter_length"));
    CHECK_THAT(message(replace_field(base, "num_attention_heads", "3")),
               Catch::Contains("num_attention_heads"));
    CHECK_THAT(message(replace_field(base, "hcs_filter_groups", "5")),
               Catch::Contains("hcs_filter_groups 5"));
    CHECK_THAT(message(replace_field(base, "column_split_hyena", "True")),
               Catch::Contains("column_split_hyena"));
    CHECK_THAT(message(replace_field(base, "mlp_activation", "silu")), Catch::Contains("silu"));
    CHECK_THROWS_AS(ModelConfig::from_yaml_file("/nonexistent/cfg.yml"), evoscope::IoError);
}
