#include <filesystem>

#include <catch2/catch.hpp>

#include "core/check.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "core/run_info.hpp"
#include "core/strings.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope;
using evoscope::test::list_dir;
using evoscope::test::read_file;
using evoscope::test::TempDir;

TEST_CASE("OutputFile: a committed file appears whole, an abandoned one never appears",
          "[core][output]") {
    TempDir tmp;
    const auto path = tmp / "out.txt";
    SECTION("commit renames the temporary into place") {
        OutputFile out(path.string());
        out.write("hello\n");
        CHECK_FALSE(std::filesystem::exists(path));  // still the temporary
        out.commit();
        CHECK(read_file(path) == "hello\n");
        CHECK(list_dir(tmp.path()) == std::vector<std::string>{"out.txt"});
    }
    SECTION("an exception before commit leaves nothing behind") {
        try {
            OutputFile out(path.string());
            out.write("partial");
            throw InputError("bad record");
        } catch (const InputError&) {
        }
        CHECK(list_dir(tmp.path()).empty());
    }
    SECTION("an existing file is kept unless overwrite is allowed") {
        write_file_atomic(path, "old");
        REQUIRE_THROWS_WITH(OutputFile(path.string(), false), Catch::Contains("--force"));
        CHECK(read_file(path) == "old");
        OutputFile out(path.string(), true);
        out.write("new");
        out.commit();
        CHECK(read_file(path) == "new");
    }
    SECTION("a missing directory is an IoError naming it") {
        REQUIRE_THROWS_AS(OutputFile((tmp / "nope" / "x.txt").string()), IoError);
    }
}

TEST_CASE("EVOSCOPE_CHECK formats only on failure and picks the error type", "[core][check]") {
    int formatted = 0;
    const auto count = [&formatted] {
        ++formatted;
        return 1;
    };
    EVOSCOPE_CHECK(true, "never {}", count());
    (void)count;
    CHECK(formatted == 0);
    REQUIRE_THROWS_AS(
        [&] {
            EVOSCOPE_CHECK_FORMAT(false, "{}:{}: bad", "f.bed", 3);
        }(),
        FormatError);
    REQUIRE_THROWS_WITH(
        [&] {
            EVOSCOPE_CHECK_FORMAT(false, "{}:{}: bad", "f.bed", 3);
        }(),
        "f.bed:3: bad");
    REQUIRE_THROWS_AS(
        [&] {
            EVOSCOPE_CHECK_IO(false, "x");
        }(),
        IoError);
    REQUIRE_THROWS_AS(
        [&] {
            EVOSCOPE_CHECK_MODEL(false, "x");
        }(),
        ModelError);
    REQUIRE_THROWS_AS(
        [&] {
            EVOSCOPE_CHECK_USAGE(false, "x");
        }(),
        UsageError);
    REQUIRE_THROWS_AS(
        [&] {
            EVOSCOPE_ASSERT(1 + 1 == 3);
        }(),
        InternalError);
    REQUIRE_THROWS_WITH(
        [&] {
            EVOSCOPE_ASSERT(1 + 1 == 3);
        }(),
        Catch::Contains("1 + 1 == 3"));
}

TEST_CASE("strings: integers with thousands separators and clear errors", "[core][strings]") {
    CHECK(parse_int64_commas("1,000,001", "begin") == 1000001);
    CHECK(parse_int64("+42", "n") == 42);
    REQUIRE_THROWS_WITH(parse_int64("12x", "window"), "invalid window '12x'");
    REQUIRE_THROWS_AS(parse_int64_commas(",100", "begin"), InputError);
    REQUIRE_THROWS_AS(parse_int64("", "n"), InputError);
    REQUIRE_THROWS_AS(parse_int64("99999999999999999999", "n"), InputError);
    CHECK(parse_double("0.25", "max-n") == 0.25);
    REQUIRE_THROWS_AS(parse_double("0.2.5", "max-n"), InputError);
}

TEST_CASE("strings: split keeps empty fields, split_whitespace does not", "[core][strings]") {
    CHECK((split("a\t\tb", '\t') == std::vector<std::string_view>{"a", "", "b"}));
    CHECK((split_whitespace("  a \t b  ") == std::vector<std::string_view>{"a", "b"}));
    CHECK(trim(" \tx y\r\n") == "x y");
}

TEST_CASE("strings: closest names rank by edit distance", "[core][strings]") {
    CHECK(edit_distance("chr1", "chr1") == 0);
    CHECK(edit_distance("chr1", "1") == 3);
    CHECK(edit_distance("kitten", "sitting") == 3);
    const std::vector<std::string> names{"chr10", "chrM", "chr1", "chr2"};
    const auto best =
        closest_names("Chr1", names, 2);  // chr1 is 1 edit away; the rest 2 (ties keep input order)
    REQUIRE(best.size() == 2);
    CHECK(best[0] == "chr1");
    CHECK(best[1] == "chr10");
}

TEST_CASE("log: levels parse by name or number and gate messages", "[core][log]") {
    CHECK(log::parse_level("DEBUG") == log::Level::Debug);
    CHECK(log::parse_level("2") == log::Level::Warn);
    REQUIRE_THROWS_AS(log::parse_level("loud"), InputError);
    CHECK(log::level_from_verbosity(0) == log::Level::Warn);
    CHECK(log::level_from_verbosity(1) == log::Level::Info);
    CHECK(log::level_from_verbosity(10) == log::Level::Trace);
    const auto saved = log::level();
    log::set_level(log::Level::Error);
    CHECK_FALSE(log::enabled(log::Level::Warn));
    CHECK(log::enabled(log::Level::Error));
    log::set_level(saved);
}

TEST_CASE("log: the log file receives [X::context] lines", "[core][log]") {
    TempDir tmp;
    const auto saved = log::level();
    log::set_level(log::Level::Info);
    log::set_context("unit");
    log::set_log_file((tmp / "log.txt").string());
    EVOSCOPE_LOG_INFO("windows: {}", 3);
    EVOSCOPE_LOG_DEBUG("hidden {}", 4);
    log::set_log_file("");
    log::set_level(saved);
    log::set_context("evoscope");
    CHECK(read_file(tmp / "log.txt") == "[I::unit] windows: 3\n");
}

TEST_CASE("run_info: peak RSS and CPU time are plausible", "[core][run_info]") {
    CHECK(peak_rss_bytes() > 1'000'000);
    CHECK(cpu_seconds() >= 0.0);
    const RunClock clock;
    const auto line = clock.summary("evoscope x");
    CHECK(line.find("CMD: evoscope x") != std::string::npos);
    CHECK(line.find("Peak RSS") != std::string::npos);
}
