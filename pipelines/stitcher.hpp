/// @file
/// The stitching rule for overlapping windows of a causal model, shared by `embed` (activation
/// rows) and `encode` (SAE codes). Among the overlapping windows of a region, each position is
/// taken from the window that gives it the most context: on '+' the earliest window covering it
/// (window k contributes the positions after the end of window k-1), on '-' (reverse complement:
/// context comes from the right) the latest (window k contributes the positions before the start
/// of window k+1). Parts of wrapped windows beyond the contig end are dropped (those positions
/// come from the contig start). Windows must arrive in WindowStream order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "genomics/window.hpp"

namespace evoscope::pipelines {

/// `Payload` holds one window's data in ascending genomic order (row 0 = interval.begin).
template <typename Payload>
class WindowStitcher {
public:
    /// Receives [from, to) of `contig` on `strand` ('+'/'-'), to be cut from the payload of the
    /// window starting at `window_begin` (rows from - window_begin .. to - window_begin).
    using Emit = std::function<void(const std::string& contig,
                                    std::int64_t from,
                                    std::int64_t to,
                                    char strand,
                                    std::int64_t window_begin,
                                    const Payload& payload)>;

    explicit WindowStitcher(Emit emit) : emit_(std::move(emit)) {}

    /// `interval` may differ from w.interval when the caller trimmed the window (encode
    /// --drop-first); region_index and strand come from `w`.
    void add(const genomics::Window& w,
             const genomics::Interval& interval,
             std::int64_t contig_length,
             Payload payload) {
        const auto key = std::make_pair(w.region_index, w.interval.strand);
        auto& state = states_[key];
        const std::int64_t b = interval.begin;
        const std::int64_t e = std::min(interval.end, contig_length);
        if (w.interval.strand != genomics::Strand::Reverse) {
            const std::int64_t from = std::max(b, state.emitted_end);
            if (from < e) {
                emit_(interval.contig, from, e, '+', b, payload);
                state.emitted_end = e;
            }
        } else {
            if (state.pending) {
                flush_pending(state, std::optional<std::int64_t>(b));
            }
            state.pending = Pending{interval.contig, b, e, std::move(payload)};
        }
    }

    void add(const genomics::Window& w, std::int64_t contig_length, Payload payload) {
        add(w, w.interval, contig_length, std::move(payload));
    }

    /// Emits every held '-' window (call at the end of the stream).
    void finish() {
        for (auto& [key, state] : states_) {
            if (state.pending) {
                flush_pending(state, std::nullopt);
            }
        }
    }

private:
    struct Pending {
        std::string contig;
        std::int64_t begin = 0;
        std::int64_t end = 0;
        Payload payload;
    };

    struct State {
        std::int64_t emitted_end = 0;  // '+': positions below this were written
        std::optional<Pending> pending;
        std::int64_t minus_emitted_end = 0;
    };

    void flush_pending(State& state, std::optional<std::int64_t> next_begin) {
        Pending& p = *state.pending;
        const std::int64_t from = std::max(p.begin, state.minus_emitted_end);
        const std::int64_t to = next_begin ? std::min(p.end, *next_begin) : p.end;
        if (from < to) {
            emit_(p.contig, from, to, '-', p.begin, p.payload);
            state.minus_emitted_end = to;
        }
        state.pending.reset();
    }

    Emit emit_;
    std::map<std::pair<std::int64_t, genomics::Strand>, State> states_;
};

}  // namespace evoscope::pipelines
