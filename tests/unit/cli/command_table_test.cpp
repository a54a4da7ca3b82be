// The command table and the deprecated names (cli/commands.def, cli/cli.cpp), in process.
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cli/cli.hpp"

namespace cli = evoscope::cli;

TEST_CASE("command table: unique names, groups known, torch-free commands linked", "[unit][cli]") {
    std::set<std::string> names;
    for (const auto& spec : cli::command_table()) {
        const std::string name = std::string(spec.group) + " " + std::string(spec.name);
        INFO(name);
        CHECK(names.insert(name).second);
        CHECK_FALSE(spec.summary.empty());
        CHECK(spec.summary.size() <= 80);
        CHECK((spec.group.empty() || spec.group == "model" || spec.group == "sae" ||
               spec.group == "variants" || spec.group == "motifs"));
        // This test links the torch-free table, as `evoscope` does: torch commands are handed over.
        CHECK((spec.setup == nullptr) == spec.needs_torch);
    }
    CHECK(names.count("sae train") == 1);
    CHECK(names.count(" windows") == 1);
    CHECK(names.count(" report") == 1);
    CHECK(names.count("motifs scan") == 1);
    CHECK(names.count("motifs discover") == 1);
    CHECK(names.count(" tracks") == 1);
}

TEST_CASE("aliases: every old name maps to a command of the table", "[unit][cli]") {
    for (const auto& alias : cli::command_aliases()) {
        INFO(alias.old_name);
        bool found = false;
        for (const auto& spec : cli::command_table()) {
            found = found || (spec.group == alias.group && spec.name == alias.name);
        }
        CHECK(found);
    }
}

TEST_CASE("rewrite_alias: the old name becomes the group and the command, the rest is kept",
          "[unit][cli]") {
    std::vector<std::string> args{"evoscope", "train-sae", "--acts", "a", "-o", "encode"};
    const auto* alias = cli::rewrite_alias(args);
    REQUIRE(alias != nullptr);
    CHECK(alias->old_name == "train-sae");
    CHECK(args ==
          std::vector<std::string>{"evoscope", "sae", "train", "--acts", "a", "-o", "encode"});
    // Current names and values that look like old names are left alone.
    std::vector<std::string> current{"evoscope", "sae", "encode", "--sae", "score"};
    CHECK(cli::rewrite_alias(current) == nullptr);
    CHECK(current.size() == 5);
    std::vector<std::string> bare{"evoscope"};
    CHECK(cli::rewrite_alias(bare) == nullptr);
}
