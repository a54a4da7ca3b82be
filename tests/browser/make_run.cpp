// Writes the report fixture's run folder (tests/support/report_fixture.hpp) for the browser
// test: make_run DIR.
#include <cstdio>
#include <exception>

#include "tests/support/report_fixture.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    try {
        evoscope::test::write_report_fixture(argv[1]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_run: %s\n", e.what());
        return 1;
    }
    return 0;
}
