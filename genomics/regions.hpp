/// @file
/// Region input: contig aliases (chr1 <-> 1), the reference's contig set with name lookup,
/// region strings (1-based inclusive, samtools/bcftools syntax) and BED files (0-based
/// half-open). Everything returned is a 0-based half-open Interval using the reference's own
/// contig names, checked against the contig lengths.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "genomics/fasta_reader.hpp"
#include "genomics/interval.hpp"

namespace evoscope::genomics {

/// Contig-name aliases from a two-column file (whitespace separated: "chr1 1", "chrM MT"),
/// usable in both directions. '#' comments and blank lines allowed. Bad lines: FormatError
/// path:line. A line with more than two names makes all of them equivalent (UCSC chromAlias style),
/// and equivalence is transitive (chr1 1 / 1 NC_000001.11 makes all three aliases).
class ContigAliases {
public:
    ContigAliases() = default;
    /// @throws IoError when the file cannot be read, FormatError "path:line: ..." for a line
    ///         with a single name.
    static ContigAliases from_file(const std::filesystem::path& path);
    /// Declares `a` and `b` equivalent (both directions).
    void add(std::string a, std::string b);
    /// Names equivalent to `name` (not including `name` itself), nearest first.
    std::vector<std::string> aliases_of(std::string_view name) const;

    bool empty() const { return links_.empty(); }

private:
    std::map<std::string, std::vector<std::string>, std::less<>> links_;
};

/// The contigs of a reference (usually FastaReader::contigs()) with name lookup.
class ContigSet {
public:
    explicit ContigSet(std::vector<ContigInfo> contigs, ContigAliases aliases = {});

    const std::vector<ContigInfo>& contigs() const { return contigs_; }

    /// The reference's own name for `name` (direct match first, then through the aliases).
    std::optional<std::string> resolve(std::string_view name) const;
    /// resolve() or throw InputError: "unknown contig 'chr1'<context>; closest names: 1, 10, 11"
    /// (closest by edit distance, up to 3). `context` is inserted verbatim, e.g. " at x.bed:3".
    const ContigInfo& require(std::string_view name, std::string_view context = {}) const;

private:
    const ContigInfo* find(std::string_view name) const;

    std::vector<ContigInfo> contigs_;
    std::map<std::string, std::size_t, std::less<>> index_;
    ContigAliases aliases_;
};

/// Parses "contig", "contig:begin-end" (1-based inclusive, commas allowed: "ctg:1,001-2,000"),
/// "contig:begin-" and "contig:pos" (single base, bcftools-style). "{name:with:colons}:1-10" braces
/// allowed. A whole-string contig match wins over splitting at the last ':'
/// (htslib's rule). Checks begin >= 1, begin <= end, end <= contig length
/// (InputError naming the region otherwise). Returns a 0-based half-open Interval with
/// Strand::Unknown and the reference's contig name. Surrounding spaces are ignored.
Interval parse_region(std::string_view text, const ContigSet& contigs);

/// parse_region() for each string, in order (e.g. repeated -r options).
std::vector<Interval> parse_regions(const std::vector<std::string>& texts,
                                    const ContigSet& contigs);

/// Reads a BED file (0-based half-open; at least 3 columns; '#', "track", "browser" lines and blank
/// lines skipped; tab or space separated; optional column 6 strand). Errors: FormatError
/// "path:line: ..." for bad numbers, begin > end, too few columns; InputError for unknown contig
/// or end beyond contig length (with path:line). `-` reads stdin. gzip/bgzip input is accepted.
std::vector<Interval> read_bed_regions(const std::filesystem::path& path, const ContigSet& contigs);

/// One interval per contig, whole length, in reference order.
std::vector<Interval> whole_genome(const ContigSet& contigs);

/// The --holdout-fraction split of one region of length L, shared by `markov` and `model train`:
/// eval = the last ceil(F * L) bases, train = the bases before (F * L within 1e-6 of an integer
/// counts as that integer). Either part may be empty for a very short region.
struct HoldoutSplit {
    Interval train;
    Interval eval;
};

/// @throws InputError unless 0 < fraction < 1.
HoldoutSplit split_holdout(const Interval& region, double fraction);

}  // namespace evoscope::genomics
