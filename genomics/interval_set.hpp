/// @file
/// Per-contig interval algebra for annotation work, backed by Boost.ICL
/// (`right_open_interval<int64_t>`): a set (union of intervals, with intersection and
/// difference) and a map from positions to label sets. All coordinates are 0-based half-open
/// like `Interval`; strands are ignored (results carry `Strand::Unknown`). Contigs are kept in
/// byte order of their names (`LC_ALL=C sort`), which is the order of every listing below.
/// Boost stays in the .cpp. Not thread safe for concurrent writes; const use is safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "genomics/interval.hpp"

namespace evoscope::genomics {

/// Union of half-open intervals per contig. Adding overlapping or touching intervals merges them
/// ([0,5) + [5,8) = [0,8)). Empty intervals are ignored.
class IntervalSet {
public:
    IntervalSet();
    ~IntervalSet();
    IntervalSet(const IntervalSet& other);
    IntervalSet& operator=(const IntervalSet& other);
    IntervalSet(IntervalSet&&) noexcept;
    IntervalSet& operator=(IntervalSet&&) noexcept;

    /// Adds [begin, end) on interval.contig. @throws InputError if begin < 0 or begin > end.
    void add(const Interval& interval);
    /// Adds every interval of `other` (in-place union).
    void add(const IntervalSet& other);
    /// True when the 0-based position `pos` is covered.
    bool contains(std::string_view contig, std::int64_t pos) const;
    /// True when at least one base of `interval` is covered (an empty interval overlaps nothing).
    bool overlaps(const Interval& interval) const;
    /// Bases covered on `contig` (0 for a contig never added).
    std::int64_t covered_bp(std::string_view contig) const;
    /// Bases covered on all contigs.
    std::int64_t total_bp() const;
    /// The merged intervals, sorted by contig (byte order) then begin; strand Unknown.
    std::vector<Interval> intervals() const;
    /// Contigs with at least one covered base, in byte order.
    std::vector<std::string> contigs() const;
    bool empty() const;

    /// Bases covered by both sets.
    IntervalSet intersect(const IntervalSet& other) const;
    /// Bases covered by this set and not by `other`.
    IntervalSet subtract(const IntervalSet& other) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// One maximal piece of an IntervalMap over which the label set is constant.
struct LabeledInterval {
    Interval interval;                  ///< 0-based half-open, strand Unknown
    std::vector<std::uint32_t> labels;  ///< sorted ascending, no duplicates, never empty
};

/// Maps positions to sets of `std::uint32_t` labels (e.g. indices into a feature table).
/// Adding [b, e) with label L puts L in the label set of every position in [b, e); overlapping
/// additions accumulate (set union), so a position covered by features 3 and 7 carries {3, 7}.
/// Adjacent pieces with equal label sets are joined.
class IntervalMap {
public:
    IntervalMap();
    ~IntervalMap();
    IntervalMap(const IntervalMap& other);
    IntervalMap& operator=(const IntervalMap& other);
    IntervalMap(IntervalMap&&) noexcept;
    IntervalMap& operator=(IntervalMap&&) noexcept;

    /// Adds `label` on [begin, end). Empty intervals are ignored.
    /// @throws InputError if begin < 0 or begin > end.
    void add(const Interval& interval, std::uint32_t label);
    /// Labels at 0-based `pos`, sorted ascending (empty if none).
    std::vector<std::uint32_t> labels_at(std::string_view contig, std::int64_t pos) const;
    /// The pieces overlapping `query`, clipped to it, in order of begin. Uncovered gaps are
    /// not reported.
    std::vector<LabeledInterval> overlapping(const Interval& query) const;
    /// Every piece, sorted by contig (byte order) then begin.
    std::vector<LabeledInterval> pieces() const;
    /// Bases of `contig` carrying at least one label.
    std::int64_t covered_bp(std::string_view contig) const;
    bool empty() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace evoscope::genomics
