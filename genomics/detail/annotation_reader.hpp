/// @file
/// Internals shared by the annotation readers (genomics/annotation*.cpp only): a line source over
/// plain or gzip/bgzip input, the per-file context (error messages with path:line, lenient
/// skipping, contig resolution) and the per-format entry points.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "genomics/annotation.hpp"
#include "genomics/detail/hts_handles.hpp"

namespace evoscope::genomics::detail {

/// Lines of a plain, gzip or bgzip file (or stdin for "-"), without the trailing "\n" / "\r\n".
/// One line of push-back for readers that look ahead (GenBank continuation lines).
class LineSource {
public:
    LineSource(const std::filesystem::path& path, std::string where);
    /// Next line into `line`; false at the end of the input.
    bool next(std::string& line);
    /// The next call to next() returns `line` again (line_no() steps back by one).
    void unget(std::string line);

    /// 1-based number of the line last returned.
    std::size_t line_no() const { return line_no_; }

    const std::string& where() const { return where_; }

private:
    BgzfPtr fp_;
    KString buffer_;
    std::string where_;
    std::size_t line_no_ = 0;
    bool has_pushed_ = false;
    std::string pushed_;
};

/// The state of one read: where errors point, the options and the output.
class ReadContext {
public:
    ReadContext(std::string where_in,
                const ContigSet& contigs_in,
                const AnnotationOptions& options_in,
                Annotation& out_in)
        : where(std::move(where_in)), contigs(contigs_in), options(options_in), out(out_in) {}

    /// FormatError "where:line: what".
    [[noreturn]] void fail(std::size_t line, std::string_view what) const;
    /// In lenient mode: counts the skipped line (logging the first few) and returns; otherwise
    /// rethrows. Call from a catch block for FormatError.
    void skip_or_rethrow(const FormatError& error);
    /// The FASTA contig for `name`, or nullptr (counted in n_unknown_contig) when it is unknown
    /// and skip_unknown_contigs is set; InputError (ContigSet::require) otherwise.
    const ContigInfo* contig(std::string_view name, std::size_t line);
    /// InputError "where:line: end E is beyond the end of contig 'c' (L bp)" unless end <= length.
    void check_end(const ContigInfo& info, std::int64_t end, std::size_t line) const;

    const std::string where;
    /// IDs of features dropped for an unknown contig (their children are dropped too).
    std::set<std::string, std::less<>> skipped_ids;
    const ContigSet& contigs;
    const AnnotationOptions& options;
    Annotation& out;
};

/// "%3B" -> ";" (RFC 3986 percent-encoding as GFF3 column 9 uses it); a '%' that is not
/// followed by two hex digits is kept as it is.
std::string percent_decode(std::string_view text);

/// Parses a GFF3/GTF phase column: "." -> -1, "0".."2"; anything else throws FormatError.
int parse_phase(std::string_view text, const ReadContext& context, std::size_t line);

/// Phases of CDS parts given in 5'->3' order: part 0 has `first_phase`; each later part
/// starts where the codons of the parts before it leave off.
std::vector<int> phases_from_5prime(const std::vector<std::int64_t>& lengths, int first_phase);

/// Sorts parts by begin and fills the feature-level fields that depend on them.
void sort_parts(AnnotationFeature& feature);

void read_gff3(LineSource& lines, ReadContext& context);
void read_gtf(LineSource& lines, ReadContext& context);
void read_bed(LineSource& lines, ReadContext& context);
void read_genbank(LineSource& lines, ReadContext& context);

}  // namespace evoscope::genomics::detail
