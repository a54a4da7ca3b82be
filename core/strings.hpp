/// @file
/// Small text helpers shared by the parsers: splitting, trimming, number parsing with
/// context-rich errors, and edit distance for "did you mean" suggestions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace evoscope {

/// Splits on every occurrence of `sep` (empty fields kept).
std::vector<std::string_view> split(std::string_view text, char sep);

/// `text` with & < > " ' written as XML entities (attribute values and text of XML, SVG, HTML).
std::string xml_escape(std::string_view text);
/// Splits on runs of spaces and tabs (no empty fields).
std::vector<std::string_view> split_whitespace(std::string_view text);
std::string_view trim(std::string_view text);
bool starts_with(std::string_view text, std::string_view prefix);

/// Parses a whole string as a signed 64-bit integer; `what` names it in the error.
/// @throws InputError "invalid <what> '<text>'"
std::int64_t parse_int64(std::string_view text, std::string_view what);
/// Like parse_int64 but allows thousands separators (commas).
std::int64_t parse_int64_commas(std::string_view text, std::string_view what);
double parse_double(std::string_view text, std::string_view what);

/// Levenshtein distance (case-sensitive).
std::size_t edit_distance(std::string_view a, std::string_view b);
/// Up to `max_n` names from `candidates` closest to `name`, best first.
std::vector<std::string> closest_names(std::string_view name,
                                       const std::vector<std::string>& candidates,
                                       std::size_t max_n = 3);

}  // namespace evoscope
