#include "genomics/interval.hpp"

#include <catch2/catch.hpp>

#include "core/error.hpp"

using namespace evoscope::genomics;

TEST_CASE("strand characters round-trip", "[genomics][interval]") {
    for (const Strand s : {Strand::Forward, Strand::Reverse, Strand::Unknown}) {
        CHECK(parse_strand(std::string(1, strand_char(s))) == s);
    }
    CHECK(strand_char(Strand::Forward) == '+');
    CHECK(strand_char(Strand::Reverse) == '-');
    CHECK(strand_char(Strand::Unknown) == '.');
    CHECK_THROWS_AS(parse_strand("plus"), evoscope::InputError);
    CHECK_THROWS_WITH(parse_strand("x"), Catch::Contains("'x'"));
    CHECK_THROWS_AS(parse_strand(""), evoscope::InputError);
}

TEST_CASE("Interval basics and 1-based formatting", "[genomics][interval]") {
    const Interval iv{"chr1", 100, 200, Strand::Forward};
    CHECK(iv.length() == 100);
    CHECK_FALSE(iv.empty());
    CHECK(format_region_1b(iv) == "chr1:101-200");
    CHECK(format_region_1b(Interval{"ctg", 0, 1}) == "ctg:1-1");
    CHECK(Interval{"a", 5, 5}.empty());
    CHECK(iv == Interval{"chr1", 100, 200, Strand::Forward});
    CHECK_FALSE(iv == Interval{"chr1", 100, 200, Strand::Reverse});
}
