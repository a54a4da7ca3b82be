// Child processes: exit status, stderr copied to a log, the last error line; run_in_fork
// rethrows the child's error with its class and message.
#include "core/subprocess.hpp"

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "tests/support/test_support.hpp"

using evoscope::test::read_file;
using evoscope::test::TempDir;

TEST_CASE("run_child: exit status, log, last error line, peak memory", "[unit][core]") {
    TempDir tmp;
    evoscope::ChildOptions o;
    o.log_path = tmp / "child.log";
    o.stdout_path = tmp / "child.out";
    o.echo_stderr = false;
    const auto r = evoscope::run_child(
        {"sh", "-c", "echo out; echo '[I::x] fine' >&2; echo '[E::x] boom' >&2; exit 3"}, o);
    CHECK(r.exit_code == 3);
    CHECK(r.last_error_line == "[E::x] boom");
    CHECK(r.peak_rss_bytes > 0);
    CHECK(read_file(tmp / "child.log") == "[I::x] fine\n[E::x] boom\n");
    CHECK(read_file(tmp / "child.out") == "out\n");
    const auto ok = evoscope::run_child({"true"}, o);
    CHECK(ok.exit_code == 0);
    CHECK(ok.last_error_line.empty());
    CHECK_THROWS_AS(evoscope::run_child({"/nonexistent/program"}, o), evoscope::IoError);
}

TEST_CASE("run_in_fork: success, and errors rethrown with their class", "[unit][core]") {
    CHECK_NOTHROW(evoscope::run_in_fork([] {}));
    CHECK_THROWS_MATCHES(
        evoscope::run_in_fork([] { throw evoscope::FormatError("'a.gff3' line 3: bad"); }),
        evoscope::FormatError,
        Catch::Matchers::Message("'a.gff3' line 3: bad"));
    CHECK_THROWS_AS(evoscope::run_in_fork([] { throw evoscope::InputError("x"); }),
                    evoscope::InputError);
}

TEST_CASE("shell_join quotes what a shell would split", "[unit][core]") {
    CHECK(evoscope::shell_join({"evoscope", "run", "-o", "my out", "it's"}) ==
          "evoscope run -o 'my out' 'it'\\''s'");
}
