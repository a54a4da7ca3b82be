/// @file
/// Tiling regions of a reference into fixed-size windows for model input. Windows are
/// 0-based half-open on the contig, start at region.begin and step by stride_bp; the last
/// partial window follows an EndPolicy, or wraps around on circular contigs. Sequence is read
/// from the FASTA in chunks (1 MiB by default), so memory stays bounded by the chunk plus the
/// windows the caller holds, never a whole chromosome.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "genomics/fasta_reader.hpp"
#include "genomics/interval.hpp"

namespace evoscope::genomics {

enum class StrandMode { Forward, Reverse, Both };   ///< "+", "-", "both"
enum class EndPolicy { Shorter, ShiftBack, Drop };  ///< "shorter", "shift", "drop"
enum class CasePolicy { Upper, Keep };              ///< "upper" (default), "keep"

/// Parses "+", "-" or "both"; throws InputError listing the choices.
StrandMode parse_strand_mode(std::string_view text);
/// Parses "shorter", "shift" or "drop"; throws InputError listing the choices.
EndPolicy parse_end_policy(std::string_view text);
/// Parses "upper" or "keep"; throws InputError listing the choices.
CasePolicy parse_case_policy(std::string_view text);

struct WindowConfig {
    std::int64_t window_bp = 8192;
    std::int64_t stride_bp = 8192;  ///< > window_bp leaves gaps between windows
    StrandMode strand = StrandMode::Forward;
    EndPolicy end_policy = EndPolicy::Shorter;
    CasePolicy case_policy = CasePolicy::Upper;
    /// Contigs treated as circular: the last window wraps around to the contig start instead of
    /// being shortened/shifted/dropped ("*" in the set = every contig).
    /// Wrapping applies to regions that reach the contig end and to contigs at least window_bp
    /// long; then every window starting before the contig end is emitted at full length.
    std::set<std::string> circular;
    double max_n_fraction = 1.0;  ///< skip windows whose N fraction is above this
    /// Bases read from the FASTA per access (at least window_bp are read when larger).
    std::int64_t read_chunk_bp = std::int64_t{1} << 20;
};

/// Throws one InputError listing every problem (window_bp <= 0, stride_bp <= 0, max_n outside
/// [0,1]).
void validate(const WindowConfig& config);

struct Window {
    Interval interval;     ///< begin/end on the contig; for a wrapped window end may exceed the
                           ///< contig length (end - length bases come from the contig start)
    std::string sequence;  ///< window_bp bases (fewer for a Shorter last window), reverse
                           ///< complemented for Strand::Reverse, case per CasePolicy
    std::int64_t region_index = 0;  ///< index into the regions vector it came from
    bool wraps = false;
};

/// Streams the windows of `regions` (in order; for each region, windows by increasing begin;
/// with StrandMode::Both the + window is followed by its - window). Tiling: starts at
/// region.begin, step stride_bp; a region shorter than window_bp yields one window (Shorter),
/// one window shifted to fit the contig (ShiftBack; still shorter if the contig is shorter),
/// or none (Drop). ShiftBack moves the last window back to end exactly at region end (staying
/// inside the contig) and drops it if it duplicates the previous window.
/// Tiling stops at the first window that reaches the region end, so with stride < window there
/// is one last (partial) window, not a run of ever shorter ones. The region's own strand is
/// ignored: StrandMode decides. Interval.strand is Forward or Reverse.
/// Memory is bounded: sequence is read in chunks, never a whole contig when the contig is large.
/// Holds a reference to `fasta` (not thread safe; one stream per FastaReader).
/// @throws InputError from the constructor for a bad config or a region outside the FASTA;
///         from next() for a byte that cannot be reverse complemented (with the window).
class WindowStream {
public:
    WindowStream(const FastaReader& fasta, std::vector<Interval> regions, WindowConfig config);
    /// Next window, or std::nullopt at the end.
    std::optional<Window> next();
    /// Appends up to `max_n` windows to `out`; returns how many were appended.
    std::size_t next_batch(std::vector<Window>& out, std::size_t max_n);

    /// Windows returned so far (each strand counts).
    std::int64_t n_emitted() const { return n_emitted_; }

    /// Windows skipped for --max-n (each strand counts).
    std::int64_t n_skipped_n() const { return n_skipped_n_; }

private:
    struct Span {
        std::int64_t begin = 0;
        std::int64_t end = 0;
        bool wraps = false;
    };

    std::optional<Span> next_span();
    std::string read_span(const Span& span);
    bool is_circular(const std::string& contig) const;

    const FastaReader* fasta_;
    std::vector<Interval> regions_;
    std::vector<std::int64_t> contig_lengths_;  ///< per region
    WindowConfig config_;

    std::size_t region_i_ = 0;
    bool region_started_ = false;
    bool region_done_ = false;
    bool region_circular_ = false;
    std::int64_t next_begin_ = 0;
    std::int64_t prev_begin_ = -1;
    std::optional<Window> pending_reverse_;

    std::string buf_contig_;
    std::int64_t buf_begin_ = 0;
    std::string buf_;

    std::int64_t n_emitted_ = 0;
    std::int64_t n_skipped_n_ = 0;
};

}  // namespace evoscope::genomics
