#include "genomics/interval.hpp"

#include <ostream>

#include <fmt/format.h>

#include "core/check.hpp"

namespace evoscope::genomics {

char strand_char(Strand strand) {
    switch (strand) {
        case Strand::Forward:
            return '+';
        case Strand::Reverse:
            return '-';
        case Strand::Unknown:
            break;
    }
    return '.';
}

Strand parse_strand(std::string_view text) {
    if (text == "+")
        return Strand::Forward;
    if (text == "-")
        return Strand::Reverse;
    if (text == ".")
        return Strand::Unknown;
    throw InputError(fmt::format("invalid strand '{}' (expected '+', '-' or '.')", text));
}

std::string format_region_1b(const Interval& interval) {
    return fmt::format("{}:{}-{}", interval.contig, interval.begin + 1, interval.end);
}

std::ostream& operator<<(std::ostream& os, const Interval& interval) {
    return os << interval.contig << ':' << interval.begin << '-' << interval.end << '('
              << strand_char(interval.strand) << ')';
}

std::ostream& operator<<(std::ostream& os, Strand strand) {
    return os << strand_char(strand);
}

}  // namespace evoscope::genomics
