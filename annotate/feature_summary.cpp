#include "annotate/feature_summary.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.hpp"

namespace evoscope::annotate {

namespace {

/// slot[id] = index of the feature in `features`, -1 for the others.
std::vector<int> feature_slots(const sae::FeatureStore& store,
                               std::span<const std::uint32_t> features) {
    std::vector<int> slot(static_cast<std::size_t>(store.d_sae()), -1);
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
    }
    return slot;
}

}  // namespace

std::vector<FeatureHistogram> feature_histograms(const sae::FeatureStore& store,
                                                 std::span<const std::uint32_t> features,
                                                 int n_bins) {
    if (n_bins < 1) {
        throw InputError(fmt::format("histogram bins must be >= 1, got {}", n_bins));
    }
    const auto slot = feature_slots(store, features);
    std::vector<FeatureHistogram> out(features.size());
    for (std::size_t i = 0; i < features.size(); ++i) {
        out[i].feature = features[i];
        out[i].max_value = store.feature_stats().max_value[features[i]];
        out[i].n_covered = store.n_positions();
        out[i].counts.assign(static_cast<std::size_t>(n_bins), 0);
    }
    store.scan([&](const sae::FeatureChunk&, const sae::FeatureRows& rows) {
        for (std::size_t k = 0; k < rows.ids.size(); ++k) {
            const int s = slot[rows.ids[k]];
            const float v = rows.values[k];
            if (s < 0 || !(v > 0.0F)) {
                continue;
            }
            auto& h = out[static_cast<std::size_t>(s)];
            ++h.n_active;
            const double x = static_cast<double>(v) / static_cast<double>(h.max_value) * n_bins;
            const auto bin = std::clamp(static_cast<int>(std::ceil(x)) - 1, 0, n_bins - 1);
            ++h.counts[static_cast<std::size_t>(bin)];
        }
    });
    return out;
}

std::size_t BinnedTrack::n_runs() const {
    std::size_t n = 0;
    for (const auto& r : runs) {
        n += r.size();
    }
    return n;
}

std::vector<BinnedTrack> binned_tracks(const sae::FeatureStore& store,
                                       std::span<const std::uint32_t> features,
                                       std::size_t max_runs,
                                       std::int64_t max_bin_bp) {
    if (max_runs < 1) {
        throw InputError("the run budget of a binned track must be >= 1");
    }
    if (max_bin_bp < 1 || (max_bin_bp & (max_bin_bp - 1)) != 0) {
        throw InputError(fmt::format("max_bin_bp must be a power of two, got {}", max_bin_bp));
    }
    (void)feature_slots(store, features);  // checks the ids
    int n_levels = 1;
    while ((std::int64_t{1} << (n_levels - 1)) < max_bin_bp) {
        ++n_levels;
    }
    const auto n_contigs = store.contigs().size();
    const char strands[2] = {'+', '-'};

    // Candidates: every (feature, strand, level); a level's runs are dropped once they pass the
    // budget (finer levels only have more runs), except the coarsest, which is always kept.
    struct Level {
        bool overflowed = false;
        std::size_t n = 0;
        std::vector<std::vector<TrackRun>> runs;
    };

    std::vector<std::vector<Level>> levels(features.size() * 2,
                                           std::vector<Level>(static_cast<std::size_t>(n_levels)));
    for (auto& track : levels) {
        for (auto& level : track) {
            level.runs.resize(n_contigs);
        }
    }
    std::vector<float> work;
    std::vector<float> next;
    for (int si = 0; si < 2; ++si) {
        for (std::size_t c = 0; c < n_contigs; ++c) {
            const auto& contig = store.contigs()[c];
            for (std::int64_t b = 0; b < contig.length; b += max_bin_bp) {
                const std::int64_t e = std::min(b + max_bin_bp, contig.length);
                const auto dense = store.feature_tracks(features, contig.name, b, e, strands[si]);
                const auto len = static_cast<std::size_t>(e - b);
                for (std::size_t fi = 0; fi < features.size(); ++fi) {
                    auto& track = levels[fi * 2 + static_cast<std::size_t>(si)];
                    work.assign(dense.begin() + static_cast<std::ptrdiff_t>(fi * len),
                                dense.begin() + static_cast<std::ptrdiff_t>((fi + 1) * len));
                    for (auto& v : work) {
                        if (!(v > 0.0F)) {
                            v = 0.0F;  // uncovered (NaN) and inactive positions have no run
                        }
                    }
                    for (int level = 0; level < n_levels; ++level) {
                        auto& lv = track[static_cast<std::size_t>(level)];
                        const std::int64_t bin = std::int64_t{1} << level;
                        if (!lv.overflowed) {
                            auto& runs = lv.runs[c];
                            for (std::size_t j = 0; j < work.size(); ++j) {
                                const float v = work[j];
                                if (v == 0.0F) {
                                    continue;
                                }
                                const std::int64_t begin = b + static_cast<std::int64_t>(j) * bin;
                                const std::int64_t end = std::min(begin + bin, contig.length);
                                if (!runs.empty() && runs.back().end == begin &&
                                    runs.back().value == v) {
                                    runs.back().end = end;
                                    continue;
                                }
                                if (lv.n == max_runs && level + 1 < n_levels) {
                                    lv.overflowed = true;
                                    lv.runs.assign(n_contigs, {});
                                    break;
                                }
                                runs.push_back({begin, end, v});
                                ++lv.n;
                            }
                        }
                        // The next level: maxima of pairs.
                        next.resize((work.size() + 1) / 2);
                        for (std::size_t j = 0; j < next.size(); ++j) {
                            const float a = work[2 * j];
                            next[j] = 2 * j + 1 < work.size() ? std::max(a, work[2 * j + 1]) : a;
                        }
                        work.swap(next);
                    }
                }
            }
        }
    }
    std::vector<BinnedTrack> out;
    for (std::size_t fi = 0; fi < features.size(); ++fi) {
        for (int si = 0; si < 2; ++si) {
            auto& track = levels[fi * 2 + static_cast<std::size_t>(si)];
            int level = 0;
            while (level + 1 < n_levels && track[static_cast<std::size_t>(level)].overflowed) {
                ++level;
            }
            BinnedTrack t;
            t.feature = features[fi];
            t.strand = strands[si];
            t.bin_bp = std::int64_t{1} << level;
            t.runs = std::move(track[static_cast<std::size_t>(level)].runs);
            t.over_budget = t.n_runs() > max_runs;
            out.push_back(std::move(t));
        }
    }
    return out;
}

}  // namespace evoscope::annotate
