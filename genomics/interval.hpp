/// @file
/// Genomic coordinates. Every Interval in evoscope is 0-based half-open [begin, end) on a
/// named contig, with int64_t positions like htslib's hts_pos_t. Conversions to and from
/// 1-based text happen only at the I/O edge, in named functions.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

namespace evoscope::genomics {

enum class Strand : std::uint8_t { Forward, Reverse, Unknown };

/// '+', '-' or '.'.
char strand_char(Strand strand);
/// Parses "+", "-" or "." (anything else throws InputError naming `text`).
Strand parse_strand(std::string_view text);

struct Interval {
    std::string contig;
    std::int64_t begin = 0;  ///< 0-based, inclusive
    std::int64_t end = 0;    ///< 0-based, exclusive
    Strand strand = Strand::Unknown;

    std::int64_t length() const { return end - begin; }

    bool empty() const { return end <= begin; }

    friend bool operator==(const Interval&, const Interval&) = default;
};

/// "contig:begin+1-end" (1-based inclusive, no commas), e.g. "chr1:101-200".
std::string format_region_1b(const Interval& interval);

/// Prints "contig:begin-end(strand)" with 0-based half-open coordinates (for logs and tests).
std::ostream& operator<<(std::ostream& os, const Interval& interval);
std::ostream& operator<<(std::ostream& os, Strand strand);

}  // namespace evoscope::genomics
