#include "genomics/interval_set.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.hpp"

using evoscope::genomics::Interval;
using evoscope::genomics::IntervalMap;
using evoscope::genomics::IntervalSet;
using evoscope::genomics::LabeledInterval;
using evoscope::genomics::Strand;

namespace {

Interval iv(std::string contig, std::int64_t begin, std::int64_t end) {
    return Interval{std::move(contig), begin, end, Strand::Unknown};
}

IntervalSet make_set(const std::vector<Interval>& intervals) {
    IntervalSet set;
    for (const auto& interval : intervals) {
        set.add(interval);
    }
    return set;
}

}  // namespace

TEST_CASE("IntervalSet: overlapping and touching intervals merge, gaps stay",
          "[genomics][intervals]") {
    // [10,20) + [15,30) overlap, [30,35) touches, [40,45) leaves a gap; chr2 is separate;
    // an empty interval adds nothing.
    const IntervalSet set = make_set({iv("chr1", 15, 30),
                                      iv("chr1", 10, 20),
                                      iv("chr1", 40, 45),
                                      iv("chr1", 30, 35),
                                      iv("chr2", 0, 5),
                                      iv("chr1", 50, 50)});
    CHECK(set.intervals() ==
          std::vector<Interval>{iv("chr1", 10, 35), iv("chr1", 40, 45), iv("chr2", 0, 5)});
    CHECK(set.covered_bp("chr1") == 25 + 5);
    CHECK(set.covered_bp("chr2") == 5);
    CHECK(set.covered_bp("chr3") == 0);
    CHECK(set.total_bp() == 35);
    CHECK(set.contigs() == std::vector<std::string>{"chr1", "chr2"});
    CHECK_FALSE(set.empty());
    CHECK(IntervalSet().empty());
}

TEST_CASE("IntervalSet: contains and overlaps are half-open", "[genomics][intervals]") {
    const IntervalSet set = make_set({iv("c", 10, 20)});
    CHECK_FALSE(set.contains("c", 9));
    CHECK(set.contains("c", 10));
    CHECK(set.contains("c", 19));
    CHECK_FALSE(set.contains("c", 20));
    CHECK_FALSE(set.contains("other", 15));

    CHECK(set.overlaps(iv("c", 19, 25)));
    CHECK_FALSE(set.overlaps(iv("c", 20, 25)));  // end is exclusive
    CHECK_FALSE(set.overlaps(iv("c", 5, 10)));
    CHECK(set.overlaps(iv("c", 5, 11)));
    CHECK(set.overlaps(iv("c", 0, 100)));
    CHECK_FALSE(set.overlaps(iv("c", 15, 15)));  // empty query
    CHECK_FALSE(set.overlaps(iv("d", 0, 100)));
}

TEST_CASE("IntervalSet: intersect and subtract on hand-computed cases", "[genomics][intervals]") {
    // a: chr1 [0,10) [20,30); chr2 [5,15)        b: chr1 [5,25); chr3 [0,4)
    const IntervalSet a = make_set({iv("chr1", 0, 10), iv("chr1", 20, 30), iv("chr2", 5, 15)});
    const IntervalSet b = make_set({iv("chr1", 5, 25), iv("chr3", 0, 4)});

    SECTION("intersection") {
        const IntervalSet both = a.intersect(b);
        CHECK(both.intervals() == std::vector<Interval>{iv("chr1", 5, 10), iv("chr1", 20, 25)});
        CHECK(both.total_bp() == 10);
        CHECK(both.intervals() == b.intersect(a).intervals());
    }
    SECTION("difference") {
        CHECK(a.subtract(b).intervals() ==
              std::vector<Interval>{iv("chr1", 0, 5), iv("chr1", 25, 30), iv("chr2", 5, 15)});
        CHECK(b.subtract(a).intervals() ==
              std::vector<Interval>{iv("chr1", 10, 20), iv("chr3", 0, 4)});
        CHECK(a.subtract(a).empty());
    }
    SECTION("union with add(set), and the inputs are untouched") {
        IntervalSet u = a;
        u.add(b);
        CHECK(u.intervals() ==
              std::vector<Interval>{iv("chr1", 0, 30), iv("chr2", 5, 15), iv("chr3", 0, 4)});
        CHECK(a.total_bp() == 30);
        CHECK(u.total_bp() == a.total_bp() + b.total_bp() - a.intersect(b).total_bp());
    }
}

TEST_CASE("IntervalSet: copies are deep, moved-from sets are empty", "[genomics][intervals]") {
    IntervalSet a = make_set({iv("c", 0, 10)});
    IntervalSet copy = a;
    copy.add(iv("c", 20, 30));
    CHECK(a.total_bp() == 10);
    CHECK(copy.total_bp() == 20);
    IntervalSet moved = std::move(copy);
    CHECK(moved.total_bp() == 20);
    CHECK(copy.empty());  // NOLINT(bugprone-use-after-move): documented state
    copy.add(iv("c", 0, 1));
    CHECK(copy.total_bp() == 1);
}

TEST_CASE("IntervalSet: a negative or reversed interval is an InputError",
          "[genomics][intervals]") {
    IntervalSet set;
    CHECK_THROWS_AS(set.add(iv("c", 10, 5)), evoscope::InputError);
    CHECK_THROWS_AS(set.add(iv("c", -1, 5)), evoscope::InputError);
    IntervalMap map;
    CHECK_THROWS_AS(map.add(iv("c", 10, 5), 1), evoscope::InputError);
}

TEST_CASE("IntervalMap: overlapping labels accumulate into label sets", "[genomics][intervals]") {
    // label 1 on [0,10), label 2 on [5,15), label 3 on [20,25) and again on [22,30),
    // label 1 on chr2 [0,3).
    IntervalMap map;
    map.add(iv("chr1", 0, 10), 1);
    map.add(iv("chr1", 5, 15), 2);
    map.add(iv("chr1", 20, 25), 3);
    map.add(iv("chr1", 22, 30), 3);
    map.add(iv("chr2", 0, 3), 1);
    map.add(iv("chr2", 7, 7), 9);  // empty: ignored

    CHECK(map.labels_at("chr1", 0) == std::vector<std::uint32_t>{1});
    CHECK(map.labels_at("chr1", 4) == std::vector<std::uint32_t>{1});
    CHECK(map.labels_at("chr1", 5) == std::vector<std::uint32_t>{1, 2});
    CHECK(map.labels_at("chr1", 9) == std::vector<std::uint32_t>{1, 2});
    CHECK(map.labels_at("chr1", 10) == std::vector<std::uint32_t>{2});
    CHECK(map.labels_at("chr1", 15).empty());
    CHECK(map.labels_at("chr1", 29) == std::vector<std::uint32_t>{3});
    CHECK(map.labels_at("chr1", 30).empty());
    CHECK(map.labels_at("chr3", 0).empty());
    CHECK(map.covered_bp("chr1") == 15 + 10);
    CHECK(map.covered_bp("chr2") == 3);

    const std::vector<LabeledInterval> all = map.pieces();
    REQUIRE(all.size() == 5);
    CHECK(all[0].interval == iv("chr1", 0, 5));
    CHECK(all[1].interval == iv("chr1", 5, 10));
    CHECK(all[1].labels == std::vector<std::uint32_t>{1, 2});
    CHECK(all[2].interval == iv("chr1", 10, 15));
    CHECK(all[3].interval == iv("chr1", 20, 30));  // same label set joins [20,25) and [22,30)
    CHECK(all[3].labels == std::vector<std::uint32_t>{3});
    CHECK(all[4].interval == iv("chr2", 0, 3));
}

TEST_CASE("IntervalMap: overlapping() clips pieces to the query", "[genomics][intervals]") {
    IntervalMap map;
    map.add(iv("c", 0, 10), 7);
    map.add(iv("c", 5, 15), 8);
    map.add(iv("c", 40, 50), 9);

    const auto pieces = map.overlapping(iv("c", 8, 45));
    REQUIRE(pieces.size() == 3);
    CHECK(pieces[0].interval == iv("c", 8, 10));
    CHECK(pieces[0].labels == std::vector<std::uint32_t>{7, 8});
    CHECK(pieces[1].interval == iv("c", 10, 15));
    CHECK(pieces[1].labels == std::vector<std::uint32_t>{8});
    CHECK(pieces[2].interval == iv("c", 40, 45));  // gap [15,40) not reported
    CHECK(pieces[2].labels == std::vector<std::uint32_t>{9});

    CHECK(map.overlapping(iv("c", 15, 40)).empty());
    CHECK(map.overlapping(iv("c", 3, 3)).empty());
    CHECK(map.overlapping(iv("other", 0, 100)).empty());

    const IntervalMap copy = map;
    CHECK(copy.pieces().size() == map.pieces().size());
    CHECK_FALSE(copy.empty());
    CHECK(IntervalMap().empty());
}
