#include "annotate/feature_peaks.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "core/error.hpp"

namespace evoscope::annotate {
namespace {

struct Candidate {
    std::size_t contig;  // index in the store's contig table
    char strand;
    std::int64_t position;
    float value;
};

/// Local maxima of one feature's candidates (positions at or above the cut), then the greedy
/// spacing. A local maximum only needs its two neighbours, which may sit in another chunk, so
/// candidates are sorted by row first and neighbours are the adjacent candidates.
std::vector<FeaturePeak> select_peaks(std::vector<Candidate> above,
                                      const std::vector<sae::FeatureContig>& contigs,
                                      const FeaturePeakOptions& options) {
    std::sort(above.begin(), above.end(), [](const Candidate& a, const Candidate& b) {
        return std::tie(a.contig, a.strand, a.position) < std::tie(b.contig, b.strand, b.position);
    });
    auto adjacent = [&](std::size_t i, std::size_t j) {
        return above[i].contig == above[j].contig && above[i].strand == above[j].strand &&
               above[j].position == above[i].position + 1;
    };
    // Runs of consecutive positions: run_first[i] .. run_last[i] (indices into `above`).
    std::vector<std::size_t> run_first(above.size());
    std::vector<std::size_t> run_last(above.size());
    for (std::size_t i = 0; i < above.size(); ++i) {
        run_first[i] = (i > 0 && adjacent(i - 1, i)) ? run_first[i - 1] : i;
    }
    for (std::size_t i = above.size(); i-- > 0;) {
        run_last[i] = (i + 1 < above.size() && adjacent(i, i + 1)) ? run_last[i + 1] : i;
    }
    std::vector<std::size_t> maxima;
    for (std::size_t i = 0; i < above.size(); ++i) {
        const float v = above[i].value;
        // Plateaus: the leftmost position of equal values wins.
        const bool left_ok = !(i > 0 && adjacent(i - 1, i)) || above[i - 1].value < v;
        const bool right_ok =
            !(i + 1 < above.size() && adjacent(i, i + 1)) || above[i + 1].value <= v;
        if (left_ok && right_ok) {
            maxima.push_back(i);
        }
    }
    std::sort(maxima.begin(), maxima.end(), [&](std::size_t ia, std::size_t ib) {
        const Candidate& a = above[ia];
        const Candidate& b = above[ib];
        if (a.value != b.value) {
            return a.value > b.value;
        }
        if (a.contig != b.contig) {
            return a.contig < b.contig;
        }
        return a.position != b.position ? a.position < b.position : a.strand < b.strand;
    });
    std::vector<FeaturePeak> out;
    std::map<std::size_t, std::vector<std::int64_t>> kept;  // sorted positions per contig
    for (const std::size_t i : maxima) {
        if (static_cast<std::int64_t>(out.size()) >= options.max_peaks) {
            break;
        }
        const Candidate& m = above[i];
        auto& pos = kept[m.contig];
        const auto it = std::lower_bound(pos.begin(), pos.end(), m.position);
        const bool near_right = it != pos.end() && *it - m.position < options.min_distance;
        const bool near_left = it != pos.begin() && m.position - *(it - 1) < options.min_distance;
        if (near_left || near_right) {
            continue;
        }
        pos.insert(it, m.position);
        out.push_back(FeaturePeak{contigs[m.contig].name,
                                  m.position,
                                  m.strand,
                                  m.value,
                                  above[run_first[i]].position,
                                  above[run_last[i]].position + 1});
    }
    return out;
}

}  // namespace

struct FeaturePeakCollector::State {
    std::vector<sae::FeatureContig> contigs;
    std::map<std::string, std::size_t, std::less<>> contig_order;
    FeaturePeakOptions options;
    std::vector<std::int32_t> slot;  // [d_sae]: index into `cut`/`above`, or -1
    std::vector<float> cut;
    std::vector<bool> active;
    std::vector<std::vector<Candidate>> above;
};

FeaturePeakCollector::FeaturePeakCollector(const sae::FeatureStore& store,
                                           std::vector<std::uint32_t> features,
                                           FeaturePeakOptions options)
    : state_(std::make_unique<State>()) {
    State& s = *state_;
    s.contigs = store.contigs();
    for (std::size_t i = 0; i < s.contigs.size(); ++i) {
        s.contig_order.emplace(s.contigs[i].name, i);
    }
    s.options = options;
    s.slot.assign(static_cast<std::size_t>(store.d_sae()), -1);
    for (std::size_t k = 0; k < features.size(); ++k) {
        const std::uint32_t f = features[k];
        if (static_cast<std::int64_t>(f) >= store.d_sae()) {
            throw InputError(
                fmt::format("feature {} is not in the store (d_sae = {})", f, store.d_sae()));
        }
        if (s.slot[f] >= 0) {
            throw InputError(fmt::format("feature {} is given twice", f));
        }
        s.slot[f] = static_cast<std::int32_t>(k);
        const float max_value = store.feature_stats().max_value[f];
        s.active.push_back(max_value > 0.0F);
        s.cut.push_back(static_cast<float>(options.min_fraction * max_value));
    }
    s.above.resize(features.size());
}

FeaturePeakCollector::~FeaturePeakCollector() = default;

void FeaturePeakCollector::add(const sae::FeatureChunk& chunk, const sae::FeatureRows& rows) {
    State& s = *state_;
    const auto c = s.contig_order.at(chunk.contig);
    for (std::int64_t i = 0; i < rows.n_positions(); ++i) {
        for (auto k = rows.row_ptr[static_cast<std::size_t>(i)];
             k < rows.row_ptr[static_cast<std::size_t>(i + 1)];
             ++k) {
            const std::int32_t slot = s.slot[rows.ids[static_cast<std::size_t>(k)]];
            if (slot < 0) {
                continue;
            }
            const auto sl = static_cast<std::size_t>(slot);
            const float v = rows.values[static_cast<std::size_t>(k)];
            if (s.active[sl] && v >= s.cut[sl]) {
                s.above[sl].push_back({c, chunk.strand, rows.begin + i, v});
            }
        }
    }
}

std::vector<std::vector<FeaturePeak>> FeaturePeakCollector::finish() {
    State& s = *state_;
    std::vector<std::vector<FeaturePeak>> out(s.above.size());
    for (std::size_t k = 0; k < s.above.size(); ++k) {
        if (s.active[k]) {
            out[k] = select_peaks(std::move(s.above[k]), s.contigs, s.options);
        }
        s.above[k] = {};
    }
    return out;
}

std::vector<FeaturePeak> feature_peaks(const sae::FeatureStore& store,
                                       std::uint32_t feature,
                                       const FeaturePeakOptions& options) {
    if (static_cast<std::int64_t>(feature) >= store.d_sae()) {
        throw InputError(
            fmt::format("feature {} is not in the store (d_sae = {})", feature, store.d_sae()));
    }
    if (!(store.feature_stats().max_value[feature] > 0.0F)) {
        throw InputError(fmt::format("feature {} is never active in the store", feature));
    }
    FeaturePeakCollector collector(store, {feature}, options);
    store.scan([&](const sae::FeatureChunk& chunk, const sae::FeatureRows& rows) {
        collector.add(chunk, rows);
    });
    return std::move(collector.finish().front());
}

std::vector<std::vector<FeaturePeak>> feature_peaks(const sae::FeatureStore& store,
                                                    std::span<const std::uint32_t> features,
                                                    const FeaturePeakOptions& options) {
    FeaturePeakCollector collector(
        store, std::vector<std::uint32_t>(features.begin(), features.end()), options);
    store.scan([&](const sae::FeatureChunk& chunk, const sae::FeatureRows& rows) {
        collector.add(chunk, rows);
    });
    return collector.finish();
}

}  // namespace evoscope::annotate
