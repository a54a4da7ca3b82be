#include "annotate/feature_peaks.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "core/error.hpp"

namespace evoscope::annotate {

namespace {

// Dense values per (contig, strand) run are not needed: a local maximum only needs its two
// neighbours, which may sit in the neighbouring chunk, so candidates keep their neighbours'
// values as seen and are checked once all chunks are read.
struct Candidate {
    std::size_t contig;
    std::int64_t position;
    char strand;
    float value;
};

struct PeakState {
    float cut = 0.0F;
    bool active = false;
    std::vector<Candidate> above;
    std::map<std::tuple<std::size_t, char, std::int64_t>, float> values;  // of positions >= cut
};

std::vector<FeaturePeak> pick_peaks(const sae::FeatureStore& store,
                                    const PeakState& state,
                                    const FeaturePeakOptions& options) {
    std::vector<Candidate> maxima;
    for (const auto& a : state.above) {
        const auto left = state.values.find({a.contig, a.strand, a.position - 1});
        const auto right = state.values.find({a.contig, a.strand, a.position + 1});
        // Plateaus: the leftmost position of equal values wins.
        const bool ok = (left == state.values.end() || left->second < a.value) &&
                        (right == state.values.end() || right->second <= a.value);
        if (ok) {
            maxima.push_back(a);
        }
    }
    std::sort(maxima.begin(), maxima.end(), [](const Candidate& a, const Candidate& b) {
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
    for (const auto& m : maxima) {
        if (static_cast<std::int64_t>(out.size()) >= options.max_peaks) {
            break;
        }
        auto& pos = kept[m.contig];
        const auto it = std::lower_bound(pos.begin(), pos.end(), m.position);
        const bool near_right = it != pos.end() && *it - m.position < options.min_distance;
        const bool near_left = it != pos.begin() && m.position - *(it - 1) < options.min_distance;
        if (near_left || near_right) {
            continue;
        }
        pos.insert(it, m.position);
        out.push_back(FeaturePeak{store.contigs()[m.contig].name, m.position, m.strand, m.value});
    }
    return out;
}

}  // namespace

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
    const std::uint32_t one[] = {feature};
    return std::move(feature_peaks(store, one, options).front());
}

std::vector<std::vector<FeaturePeak>> feature_peaks(const sae::FeatureStore& store,
                                                    std::span<const std::uint32_t> features,
                                                    const FeaturePeakOptions& options) {
    std::vector<int> slot(static_cast<std::size_t>(store.d_sae()), -1);
    std::vector<PeakState> states(features.size());
    for (std::size_t i = 0; i < features.size(); ++i) {
        const auto f = features[i];
        if (static_cast<std::int64_t>(f) >= store.d_sae()) {
            throw InputError(
                fmt::format("feature {} is not in the store (d_sae = {})", f, store.d_sae()));
        }
        if (slot[f] >= 0) {
            throw InputError(fmt::format("feature {} is asked for twice", f));
        }
        slot[f] = static_cast<int>(i);
        const float max_value = store.feature_stats().max_value[f];
        states[i].active = max_value > 0.0F;
        states[i].cut = static_cast<float>(options.min_fraction * max_value);
    }
    std::map<std::string, std::size_t, std::less<>> contig_order;
    for (std::size_t i = 0; i < store.contigs().size(); ++i) {
        contig_order.emplace(store.contigs()[i].name, i);
    }
    store.scan([&](const sae::FeatureChunk& chunk, const sae::FeatureRows& rows) {
        const auto c = contig_order.at(chunk.contig);
        for (std::int64_t i = 0; i < rows.n_positions(); ++i) {
            for (auto k = rows.row_ptr[static_cast<std::size_t>(i)];
                 k < rows.row_ptr[static_cast<std::size_t>(i + 1)];
                 ++k) {
                const int s = slot[rows.ids[static_cast<std::size_t>(k)]];
                if (s < 0) {
                    continue;
                }
                auto& state = states[static_cast<std::size_t>(s)];
                const float v = rows.values[static_cast<std::size_t>(k)];
                if (state.active && v >= state.cut) {
                    state.above.push_back({c, rows.begin + i, chunk.strand, v});
                    state.values[{c, chunk.strand, rows.begin + i}] = v;
                }
            }
        }
    });
    std::vector<std::vector<FeaturePeak>> out;
    out.reserve(states.size());
    for (const auto& state : states) {
        out.push_back(pick_peaks(store, state, options));
    }
    return out;
}

}  // namespace evoscope::annotate
