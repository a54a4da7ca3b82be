// The built evoscope binary: exit codes, where help and errors go, version text.
#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

using evoscope::test::run_evoscope;

TEST_CASE("CLI: --help prints usage on stdout and exits 0", "[e2e][cli]") {
    const auto r = run_evoscope({"--help"});
    CHECK(r.exit_code == 0);
    // Every command of the table, grouped by stage, with its summary.
    for (const char* command : {"windows",     "markov",          "run",         "concepts",
                                "align",       "tracks",          "report",      "variants windows",
                                "motifs scan", "motifs discover", "model info",  "model init",
                                "model train", "model convert",   "model score", "model embed",
                                "sae train",   "sae eval",        "sae encode",  "sae convert"}) {
        INFO(command);
        CHECK(r.out.find(std::string("  ") + command + "  ") != std::string::npos);
    }
    CHECK(r.out.find("Genome (no model):") < r.out.find("The model:"));
    CHECK(r.err.empty());
}

TEST_CASE("CLI: bare evoscope prints usage on stderr and exits 1", "[e2e][cli]") {
    const auto r = run_evoscope({});
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("Commands") != std::string::npos);
}

TEST_CASE("CLI: --version names evoscope, htslib and libtorch", "[e2e][cli]") {
    const auto r = run_evoscope({"--version"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("evoscope ", 0) == 0);
    CHECK(r.out.find("Using htslib 1.") != std::string::npos);
    CHECK(r.out.find("Using libtorch ") != std::string::npos);
    const auto only = run_evoscope({"--version-only"});
    CHECK(only.exit_code == 0);
    CHECK(only.out.find("+htslib-") != std::string::npos);
}

TEST_CASE("CLI: every command has --help on stdout, with defaults from its options", "[e2e][cli]") {
    const std::vector<std::vector<std::string>> commands = {{"windows"},
                                                            {"markov"},
                                                            {"run"},
                                                            {"tracks"},
                                                            {"variants", "windows"},
                                                            {"model", "info"},
                                                            {"model", "init"},
                                                            {"model", "train"},
                                                            {"model", "convert"},
                                                            {"model", "score"},
                                                            {"model", "embed"},
                                                            {"sae", "train"},
                                                            {"sae", "eval"},
                                                            {"sae", "encode"},
                                                            {"sae", "convert"}};
    for (auto args : commands) {
        INFO(args.front() << " " << args.back());
        args.push_back("--help");
        const auto r = run_evoscope(args);
        CHECK(r.exit_code == 0);
        CHECK(r.out.find("--threads") != std::string::npos);
        CHECK(r.err.empty());
    }
    // Defaults come from the options structs (captured by CLI11), not from the help text.
    const auto windows = run_evoscope({"windows", "--help"});
    CHECK(windows.out.find("--line-width INT:NONNEGATIVE=60") != std::string::npos);
    CHECK(windows.out.find("=shorter") != std::string::npos);
    const auto train = run_evoscope({"model", "train", "--help"});
    CHECK(train.out.find("--lr FLOAT:POSITIVE=0.0003") != std::string::npos);
    // A group lists its commands.
    const auto group = run_evoscope({"sae", "--help"});
    CHECK(group.exit_code == 0);
    CHECK(group.out.find("encode") != std::string::npos);
}

TEST_CASE("CLI: the old command names still work, with a one-line deprecation notice",
          "[e2e][cli]") {
    const auto r = run_evoscope({"variants-windows", "--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("--vcf") != std::string::npos);
    CHECK(r.err ==
          "[W::evoscope] 'evoscope variants-windows' is deprecated: use 'evoscope variants "
          "windows'\n");
    // A torch command: the notice is printed once, by evoscope, not again by evoscope-torch.
    const auto t = run_evoscope({"train-sae", "--help"});
    CHECK(t.exit_code == 0);
    CHECK(t.out.find("--arch") != std::string::npos);
    CHECK(t.err == "[W::evoscope] 'evoscope train-sae' is deprecated: use 'evoscope sae train'\n");
}

TEST_CASE("CLI: usage errors give one [E::subcommand] line and exit 2", "[e2e][cli]") {
    SECTION("unknown option") {
        const auto r = run_evoscope({"windows", "--no-such-option"});
        CHECK(r.exit_code == 2);
        CHECK(r.out.empty());
        CHECK(r.err.rfind("[E::windows] ", 0) == 0);
    }
    SECTION("missing required option") {
        const auto r = run_evoscope({"windows", "-w", "100"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("[E::windows]") != std::string::npos);
        CHECK(r.err.find("--fasta") != std::string::npos);
    }
    SECTION("invalid choice") {
        const auto r = run_evoscope({"windows", "-f", "x.fa", "--strand", "up"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("[E::windows]") != std::string::npos);
    }
    SECTION("non-positive window") {
        const auto r = run_evoscope({"windows", "-f", "x.fa", "-w", "0"});
        CHECK(r.exit_code == 2);
    }
    SECTION("unknown subcommand") {
        const auto r = run_evoscope({"frobnicate"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.rfind("[E::evoscope] ", 0) == 0);
    }
}
