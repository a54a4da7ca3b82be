#include "genomics/interval_set.hpp"

#include <functional>
#include <map>
#include <set>
#include <utility>

// GCC 12 at -O2 reports -Wdangling-pointer inside Boost.ICL's set intersection (std::set nodes of
// its local temporaries, inlined from stl_tree.h): a false positive of that new GCC 12 warning, not
// a bug here. Silence it for this translation unit only.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
#include <boost/icl/interval_map.hpp>
#include <boost/icl/interval_set.hpp>
#include <boost/icl/right_open_interval.hpp>

#include "core/check.hpp"

namespace evoscope::genomics {

namespace {

namespace icl = boost::icl;

using IcInterval = icl::right_open_interval<std::int64_t>;
using IcSet = icl::interval_set<std::int64_t, std::less, IcInterval>;
using LabelSet = std::set<std::uint32_t>;
// partial_absorber: positions whose label set would be empty are simply absent;
// inplace_plus on std::set is set union, so overlapping labels accumulate.
using IcMap = icl::interval_map<std::int64_t,
                                LabelSet,
                                icl::partial_absorber,
                                std::less,
                                icl::inplace_plus,
                                icl::inter_section,
                                IcInterval>;

// std::less<> makes find() work with string_view keys without building a std::string.
template <typename T>
using PerContig = std::map<std::string, T, std::less<>>;

void check_interval(const Interval& interval, std::string_view what) {
    EVOSCOPE_CHECK(interval.begin >= 0 && interval.begin <= interval.end,
                   "invalid interval {}:[{}, {}) added to an {} (need 0 <= begin <= end)",
                   interval.contig,
                   interval.begin,
                   interval.end,
                   what);
}

Interval to_interval(const std::string& contig, const IcInterval& iv) {
    return Interval{contig, icl::first(iv), icl::upper(iv), Strand::Unknown};
}

std::vector<std::uint32_t> to_vector(const LabelSet& labels) {
    return {labels.begin(), labels.end()};
}

}  // namespace

// --- IntervalSet ---------------------------------------------------------------------------------

struct IntervalSet::Impl {
    PerContig<IcSet> sets;
};

IntervalSet::IntervalSet() : impl_(std::make_unique<Impl>()) {}

IntervalSet::~IntervalSet() = default;

IntervalSet::IntervalSet(const IntervalSet& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}

IntervalSet& IntervalSet::operator=(const IntervalSet& other) {
    if (this != &other) {
        impl_ = std::make_unique<Impl>(*other.impl_);
    }
    return *this;
}

// A moved-from set is left empty and usable, not null.
IntervalSet::IntervalSet(IntervalSet&& other) noexcept : impl_(std::make_unique<Impl>()) {
    std::swap(impl_, other.impl_);
}

IntervalSet& IntervalSet::operator=(IntervalSet&& other) noexcept {
    std::swap(impl_, other.impl_);
    return *this;
}

void IntervalSet::add(const Interval& interval) {
    check_interval(interval, "interval set");
    if (interval.empty()) {
        return;
    }
    impl_->sets[interval.contig].add(IcInterval(interval.begin, interval.end));
}

void IntervalSet::add(const IntervalSet& other) {
    for (const auto& [contig, set] : other.impl_->sets) {
        impl_->sets[contig] += set;
    }
}

bool IntervalSet::contains(std::string_view contig, std::int64_t pos) const {
    const auto it = impl_->sets.find(contig);
    return it != impl_->sets.end() && icl::contains(it->second, pos);
}

bool IntervalSet::overlaps(const Interval& interval) const {
    if (interval.empty()) {
        return false;
    }
    const auto it = impl_->sets.find(interval.contig);
    return it != impl_->sets.end() &&
           icl::intersects(it->second, IcInterval(interval.begin, interval.end));
}

std::int64_t IntervalSet::covered_bp(std::string_view contig) const {
    const auto it = impl_->sets.find(contig);
    return it == impl_->sets.end() ? 0 : icl::length(it->second);
}

std::int64_t IntervalSet::total_bp() const {
    std::int64_t total = 0;
    for (const auto& [contig, set] : impl_->sets) {
        total += icl::length(set);
    }
    return total;
}

std::vector<Interval> IntervalSet::intervals() const {
    std::vector<Interval> out;
    for (const auto& [contig, set] : impl_->sets) {
        for (const auto& iv : set) {
            out.push_back(to_interval(contig, iv));
        }
    }
    return out;
}

std::vector<std::string> IntervalSet::contigs() const {
    std::vector<std::string> out;
    for (const auto& [contig, set] : impl_->sets) {
        if (!set.empty()) {
            out.push_back(contig);
        }
    }
    return out;
}

bool IntervalSet::empty() const {
    for (const auto& [contig, set] : impl_->sets) {
        if (!set.empty()) {
            return false;
        }
    }
    return true;
}

IntervalSet IntervalSet::intersect(const IntervalSet& other) const {
    IntervalSet out;
    for (const auto& [contig, set] : impl_->sets) {
        const auto it = other.impl_->sets.find(contig);
        if (it == other.impl_->sets.end()) {
            continue;
        }
        IcSet both = set & it->second;
        if (!both.empty()) {
            out.impl_->sets.emplace(contig, std::move(both));
        }
    }
    return out;
}

IntervalSet IntervalSet::subtract(const IntervalSet& other) const {
    IntervalSet out;
    for (const auto& [contig, set] : impl_->sets) {
        IcSet rest = set;
        if (const auto it = other.impl_->sets.find(contig); it != other.impl_->sets.end()) {
            rest -= it->second;
        }
        if (!rest.empty()) {
            out.impl_->sets.emplace(contig, std::move(rest));
        }
    }
    return out;
}

// --- IntervalMap ---------------------------------------------------------------------------------

struct IntervalMap::Impl {
    PerContig<IcMap> maps;
};

IntervalMap::IntervalMap() : impl_(std::make_unique<Impl>()) {}

IntervalMap::~IntervalMap() = default;

IntervalMap::IntervalMap(const IntervalMap& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}

IntervalMap& IntervalMap::operator=(const IntervalMap& other) {
    if (this != &other) {
        impl_ = std::make_unique<Impl>(*other.impl_);
    }
    return *this;
}

IntervalMap::IntervalMap(IntervalMap&& other) noexcept : impl_(std::make_unique<Impl>()) {
    std::swap(impl_, other.impl_);
}

IntervalMap& IntervalMap::operator=(IntervalMap&& other) noexcept {
    std::swap(impl_, other.impl_);
    return *this;
}

void IntervalMap::add(const Interval& interval, std::uint32_t label) {
    check_interval(interval, "interval map");
    if (interval.empty()) {
        return;
    }
    impl_->maps[interval.contig].add(
        std::make_pair(IcInterval(interval.begin, interval.end), LabelSet{label}));
}

std::vector<std::uint32_t> IntervalMap::labels_at(std::string_view contig, std::int64_t pos) const {
    const auto it = impl_->maps.find(contig);
    if (it == impl_->maps.end()) {
        return {};
    }
    const auto piece = it->second.find(pos);
    return piece == it->second.end() ? std::vector<std::uint32_t>{} : to_vector(piece->second);
}

std::vector<LabeledInterval> IntervalMap::overlapping(const Interval& query) const {
    std::vector<LabeledInterval> out;
    if (query.empty()) {
        return out;
    }
    const auto it = impl_->maps.find(query.contig);
    if (it == impl_->maps.end()) {
        return out;
    }
    // operator& clips the pieces to the query interval.
    const IcMap clipped = it->second & IcInterval(query.begin, query.end);
    for (const auto& [iv, labels] : clipped) {
        out.push_back({to_interval(query.contig, iv), to_vector(labels)});
    }
    return out;
}

std::vector<LabeledInterval> IntervalMap::pieces() const {
    std::vector<LabeledInterval> out;
    for (const auto& [contig, map] : impl_->maps) {
        for (const auto& [iv, labels] : map) {
            out.push_back({to_interval(contig, iv), to_vector(labels)});
        }
    }
    return out;
}

std::int64_t IntervalMap::covered_bp(std::string_view contig) const {
    const auto it = impl_->maps.find(contig);
    return it == impl_->maps.end() ? 0 : icl::length(it->second);
}

bool IntervalMap::empty() const {
    for (const auto& [contig, map] : impl_->maps) {
        if (!map.empty()) {
            return false;
        }
    }
    return true;
}

}  // namespace evoscope::genomics
