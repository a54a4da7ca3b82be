// The built evoscope binary: exit codes, where help and errors go, version text.
#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

using evoscope::test::run_evoscope;

TEST_CASE("CLI: --help prints usage on stdout and exits 0", "[e2e][cli]") {
    const auto r = run_evoscope({"--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("windows") != std::string::npos);
    CHECK(r.out.find("variants-windows") != std::string::npos);
    CHECK(r.err.empty());
}

TEST_CASE("CLI: bare evoscope prints usage on stderr and exits 1", "[e2e][cli]") {
    const auto r = run_evoscope({});
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("Subcommands") != std::string::npos);
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

TEST_CASE("CLI: every subcommand has --help on stdout", "[e2e][cli]") {
    for (const std::string sub : {"windows", "variants-windows", "run"}) {
        INFO(sub);
        const auto r = run_evoscope({sub, "--help"});
        CHECK(r.exit_code == 0);
        CHECK(r.out.find("--") != std::string::npos);
        CHECK(r.err.empty());
    }
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
