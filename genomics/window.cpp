#include "genomics/window.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/strings.hpp"
#include "genomics/sequence.hpp"

namespace evoscope::genomics {

StrandMode parse_strand_mode(std::string_view text) {
    if (text == "+")
        return StrandMode::Forward;
    if (text == "-")
        return StrandMode::Reverse;
    if (text == "both")
        return StrandMode::Both;
    throw InputError(fmt::format("invalid strand '{}' (choices: +, -, both)", text));
}

EndPolicy parse_end_policy(std::string_view text) {
    if (text == "shorter")
        return EndPolicy::Shorter;
    if (text == "shift")
        return EndPolicy::ShiftBack;
    if (text == "drop")
        return EndPolicy::Drop;
    throw InputError(fmt::format("invalid end policy '{}' (choices: shorter, shift, drop)", text));
}

CasePolicy parse_case_policy(std::string_view text) {
    if (text == "upper")
        return CasePolicy::Upper;
    if (text == "keep")
        return CasePolicy::Keep;
    throw InputError(fmt::format("invalid case policy '{}' (choices: upper, keep)", text));
}

void validate(const WindowConfig& config) {
    std::vector<std::string> problems;
    if (config.window_bp <= 0) {
        problems.push_back(fmt::format("window size must be > 0 (got {})", config.window_bp));
    }
    if (config.stride_bp <= 0) {
        problems.push_back(fmt::format("stride must be > 0 (got {})", config.stride_bp));
    }
    if (!(config.max_n_fraction >= 0.0 && config.max_n_fraction <= 1.0)) {
        problems.push_back(
            fmt::format("max N fraction must be within [0, 1] (got {})", config.max_n_fraction));
    }
    if (config.read_chunk_bp <= 0) {
        problems.push_back(fmt::format("read chunk must be > 0 (got {})", config.read_chunk_bp));
    }
    if (!problems.empty()) {
        throw InputError(fmt::format("invalid window settings: {}", fmt::join(problems, "; ")));
    }
}

WindowStream::WindowStream(const FastaReader& fasta,
                           std::vector<Interval> regions,
                           WindowConfig config)
    : fasta_(&fasta), regions_(std::move(regions)), config_(std::move(config)) {
    validate(config_);
    contig_lengths_.reserve(regions_.size());
    for (const auto& r : regions_) {
        const auto length = fasta.contig_length(r.contig);
        if (!length) {
            std::vector<std::string> names;
            for (const auto& c : fasta.contigs())
                names.push_back(c.name);
            throw InputError(fmt::format("unknown contig '{}' in FASTA '{}'; closest names: {}",
                                         r.contig,
                                         fasta.path().string(),
                                         fmt::join(closest_names(r.contig, names), ", ")));
        }
        EVOSCOPE_CHECK(0 <= r.begin && r.begin <= r.end && r.end <= *length,
                       "region [{}, {}) is outside contig '{}' ({} bp)",
                       r.begin,
                       r.end,
                       r.contig,
                       *length);
        contig_lengths_.push_back(*length);
    }
}

bool WindowStream::is_circular(const std::string& contig) const {
    return config_.circular.count("*") != 0 || config_.circular.count(contig) != 0;
}

std::optional<WindowStream::Span> WindowStream::next_span() {
    const std::int64_t w = config_.window_bp;
    const std::int64_t s = config_.stride_bp;
    while (region_i_ < regions_.size()) {
        const Interval& r = regions_[region_i_];
        const std::int64_t length = contig_lengths_[region_i_];
        if (!region_started_) {
            region_started_ = true;
            region_done_ = r.empty();
            next_begin_ = r.begin;
            prev_begin_ = -1;
            region_circular_ = r.end == length && w <= length && is_circular(r.contig);
        }
        const std::int64_t b = next_begin_;
        if (region_done_ || b >= r.end) {
            ++region_i_;
            region_started_ = false;
            continue;
        }
        next_begin_ = b + s;
        const std::int64_t e = b + w;
        if (region_circular_) {
            // Every start before the contig end gives a full window; those past it wrap.
            prev_begin_ = b;
            return Span{b, e, e > length};
        }
        if (e <= r.end) {
            region_done_ = e == r.end;
            prev_begin_ = b;
            return Span{b, e, false};
        }
        region_done_ = true;  // the last, partial window
        switch (config_.end_policy) {
            case EndPolicy::Shorter:
                prev_begin_ = b;
                return Span{b, r.end, false};
            case EndPolicy::Drop:
                continue;
            case EndPolicy::ShiftBack: {
                std::int64_t nb = r.end - w;
                std::int64_t ne = r.end;
                if (nb < 0) {  // region near the contig start: shift forward to fit the contig
                    nb = 0;
                    ne = std::min(length, w);
                }
                if (nb == prev_begin_)
                    continue;
                prev_begin_ = nb;
                return Span{nb, ne, false};
            }
        }
    }
    return std::nullopt;
}

std::string WindowStream::read_span(const Span& span) {
    const Interval& r = regions_[region_i_];
    const std::int64_t length = contig_lengths_[region_i_];
    const std::int64_t main_end = std::min(span.end, length);
    const std::int64_t buf_end = buf_begin_ + static_cast<std::int64_t>(buf_.size());
    if (buf_contig_ != r.contig || span.begin < buf_begin_ || main_end > buf_end) {
        // Read ahead one chunk, but not past what this region can still use.
        const std::int64_t chunk = std::max(config_.read_chunk_bp, main_end - span.begin);
        const std::int64_t want_end =
            std::min({length, span.begin + chunk, std::max(r.end, main_end)});
        const std::int64_t want_end_final = std::max(want_end, main_end);
        if (buf_contig_ == r.contig && span.begin >= buf_begin_ && span.begin <= buf_end) {
            // Keep the overlap with the previous chunk instead of reading it again.
            buf_.erase(0, static_cast<std::size_t>(span.begin - buf_begin_));
            buf_ += fasta_->fetch(r.contig, buf_end, want_end_final);
        } else {
            buf_ = fasta_->fetch(r.contig, span.begin, want_end_final);
            buf_contig_ = r.contig;
        }
        buf_begin_ = span.begin;
    }
    std::string seq(buf_,
                    static_cast<std::size_t>(span.begin - buf_begin_),
                    static_cast<std::size_t>(main_end - span.begin));
    if (span.end > length)
        seq += fasta_->fetch(r.contig, 0, span.end - length);
    return seq;
}

std::optional<Window> WindowStream::next() {
    if (pending_reverse_) {
        std::optional<Window> out = std::move(pending_reverse_);
        pending_reverse_.reset();
        ++n_emitted_;
        return out;
    }
    const bool upper = config_.case_policy == CasePolicy::Upper;
    const std::int64_t n_per_span = config_.strand == StrandMode::Both ? 2 : 1;
    while (true) {
        const auto span = next_span();
        if (!span)
            return std::nullopt;
        std::string seq = read_span(*span);
        if (config_.max_n_fraction < 1.0 && n_fraction(seq) > config_.max_n_fraction) {
            n_skipped_n_ += n_per_span;
            continue;
        }
        Window fwd{Interval{regions_[region_i_].contig, span->begin, span->end, Strand::Forward},
                   std::move(seq),
                   static_cast<std::int64_t>(region_i_),
                   span->wraps};
        auto reverse_of = [&](std::string& text) {
            try {
                reverse_complement_in_place(text, upper);
            } catch (const InputError& e) {
                throw InputError(fmt::format("{} in window {} of FASTA '{}'",
                                             e.what(),
                                             format_region_1b(fwd.interval),
                                             fasta_->path().string()));
            }
        };
        if (config_.strand == StrandMode::Reverse) {
            reverse_of(fwd.sequence);
            fwd.interval.strand = Strand::Reverse;
        } else {
            if (config_.strand == StrandMode::Both) {
                Window rev = fwd;
                rev.interval.strand = Strand::Reverse;
                reverse_of(rev.sequence);
                pending_reverse_ = std::move(rev);
            }
            if (upper)
                to_upper_in_place(fwd.sequence);
        }
        ++n_emitted_;
        return fwd;
    }
}

std::size_t WindowStream::next_batch(std::vector<Window>& out, std::size_t max_n) {
    std::size_t n = 0;
    while (n < max_n) {
        auto w = next();
        if (!w)
            break;
        out.push_back(std::move(*w));
        ++n;
    }
    return n;
}

}  // namespace evoscope::genomics
