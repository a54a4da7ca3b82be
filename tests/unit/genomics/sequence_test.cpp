#include "genomics/sequence.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.hpp"

using namespace evoscope::genomics;

TEST_CASE("reverse_complement handles every IUPAC code in both cases", "[genomics][sequence]") {
    // Pairs from the IUPAC table: A-T, C-G, R-Y, K-M, B-V, D-H; S, W, N are self-complementary.
    CHECK(reverse_complement("ACGTRYKMBVDHSWN") == "NWSDHBVKMRYACGT");
    CHECK(reverse_complement("acgtrykmbvdhswn") == "nwsdhbvkmryacgt");
    CHECK(reverse_complement("AcGt") == "aCgT");
    CHECK(reverse_complement("") == "");
    CHECK(reverse_complement("A") == "T");
    CHECK(reverse_complement("GATTACA") == "TGTAATC");
    // Involution on a mixed sequence.
    const std::string mixed = "ACGTNacgtnRYKMrykmBVDHbvdhSWsw";
    CHECK(reverse_complement(reverse_complement(mixed)) == mixed);
}

TEST_CASE("reverse_complement_in_place with upper-casing", "[genomics][sequence]") {
    std::string s = "aacgTN";
    reverse_complement_in_place(s, true);
    CHECK(s == "NACGTT");
    std::string odd = "acg";
    reverse_complement_in_place(odd);
    CHECK(odd == "cgt");
}

TEST_CASE("reverse_complement rejects bytes that are not IUPAC nucleotides",
          "[genomics][sequence]") {
    const std::vector<std::string> bads = {
        "ACGX", "AC-GT", "ACU", "AC GT", "AC*", std::string("AC\x01", 3)};
    for (const auto& bad : bads) {
        CAPTURE(bad);
        CHECK_THROWS_AS(reverse_complement(bad), evoscope::InputError);
    }
    CHECK_THROWS_WITH(reverse_complement("ACGX"),
                      Catch::Contains("'X'") && Catch::Contains("offset 3"));
    CHECK_THROWS_WITH(reverse_complement(std::string("A\x01", 2)), Catch::Contains("0x01"));
}

TEST_CASE("to_upper_in_place and N counting", "[genomics][sequence]") {
    std::string s = "acgtnNrykm";
    to_upper_in_place(s);
    CHECK(s == "ACGTNNRYKM");
    CHECK(n_fraction("") == 0.0);
    CHECK(n_fraction("ACGT") == 0.0);
    CHECK(n_fraction("NnAC") == Approx(0.5));
    CHECK(n_fraction("NNNN") == 1.0);
    CHECK(count_n("aNnNc") == 3);
}
