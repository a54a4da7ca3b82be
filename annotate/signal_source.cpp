#include "annotate/signal_source.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "store/activation_store.hpp"

namespace evoscope::annotate {
namespace {

void clear_rows(sae::FeatureRows& rows, std::int64_t begin, std::int64_t end) {
    rows.begin = begin;
    rows.end = end;
    rows.row_ptr.assign(static_cast<std::size_t>(end - begin + 1), 0);
    rows.ids.clear();
    rows.values.clear();
    rows.covered.assign(static_cast<std::size_t>(end - begin), 0);
}

class FeatureStoreSource final : public SignalSource {
public:
    explicit FeatureStoreSource(const std::filesystem::path& dir) : dir_(dir), store_(dir) {
        for (const auto& c : store_.contigs()) {
            contigs_.push_back({c.name, c.length});
        }
        const auto& stats = store_.feature_stats();
        max_ = stats.max_value;
        max_.resize(static_cast<std::size_t>(store_.d_sae()), 0.0f);
        // Elementary ranges: every chunk boundary of either strand splits the contig, so that a
        // block is exactly one chunk per strand (the usual case: both strands share the grid) or
        // is read by region.
        std::map<std::string, std::int32_t> index;
        for (std::size_t i = 0; i < contigs_.size(); ++i) {
            index[contigs_[i].name] = static_cast<std::int32_t>(i);
        }
        std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> ranges(contigs_.size());
        const auto& chunks = store_.chunks();
        for (std::size_t i = 0; i < chunks.size(); ++i) {
            const auto& ch = chunks[i];
            const std::int32_t k = index.at(ch.contig);
            ranges[static_cast<std::size_t>(k)].emplace_back(ch.begin, ch.end);
            exact_[{k, ch.strand == '+' ? 0 : 1, ch.begin, ch.end}] = i;
        }
        for (std::size_t k = 0; k < ranges.size(); ++k) {
            std::vector<std::int64_t> cuts;
            for (const auto& [b, e] : ranges[k]) {
                cuts.push_back(b);
                cuts.push_back(e);
            }
            std::sort(cuts.begin(), cuts.end());
            cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
            for (std::size_t c = 0; c + 1 < cuts.size(); ++c) {
                const std::int64_t b = cuts[c];
                const std::int64_t e = cuts[c + 1];
                const bool inside = std::any_of(ranges[k].begin(), ranges[k].end(), [&](auto r) {
                    return r.first <= b && r.second >= e;
                });
                if (inside) {
                    blocks_.push_back({static_cast<std::int32_t>(k), b, e});
                }
            }
        }
    }

    std::int64_t n_features() const override { return store_.d_sae(); }

    std::string feature_name(std::int64_t feature) const override {
        return fmt::format("f/{}", feature);
    }

    const std::vector<genomics::ContigInfo>& contigs() const override { return contigs_; }

    const std::vector<float>& feature_max() const override { return max_; }

    const std::vector<SignalBlock>& blocks() const override { return blocks_; }

    void read(std::size_t index, BlockRows& out) const override {
        const SignalBlock& b = blocks_.at(index);
        for (int s = 0; s < 2; ++s) {
            const auto it = exact_.find({b.contig, s, b.begin, b.end});
            if (it != exact_.end()) {
                out.rows[static_cast<std::size_t>(s)] = store_.read_chunk(it->second);
            } else {
                out.rows[static_cast<std::size_t>(s)] =
                    store_.read_region(contigs_[static_cast<std::size_t>(b.contig)].name,
                                       b.begin,
                                       b.end,
                                       s == 0 ? '+' : '-');
            }
        }
    }

    std::string describe() const override { return fmt::format("feature store {}", dir_.string()); }

private:
    std::filesystem::path dir_;
    sae::FeatureStore store_;
    std::vector<genomics::ContigInfo> contigs_;
    std::vector<float> max_;
    std::vector<SignalBlock> blocks_;
    std::map<std::tuple<std::int32_t, int, std::int64_t, std::int64_t>, std::size_t> exact_;
};

/// Blocks of `block_bp` over the covered ranges [begin, end) of each contig.
std::vector<SignalBlock> grid_blocks(
    const std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>>& covered,
    std::int64_t block_bp) {
    std::vector<SignalBlock> blocks;
    for (std::size_t k = 0; k < covered.size(); ++k) {
        for (const auto& [b, e] : covered[k]) {
            for (std::int64_t p = b; p < e;) {
                const std::int64_t q = std::min(e, (p / block_bp + 1) * block_bp);
                blocks.push_back({static_cast<std::int32_t>(k), p, q});
                p = q;
            }
        }
    }
    return blocks;
}

class TrackSource final : public SignalSource {
public:
    TrackSource(std::vector<genomics::ContigInfo> contigs,
                std::vector<DenseTrack> tracks,
                std::int64_t block_bp)
        : contigs_(std::move(contigs)), tracks_(std::move(tracks)) {
        EVOSCOPE_CHECK(!tracks_.empty(), "no tracks given");
        EVOSCOPE_CHECK(block_bp > 0, "block size must be positive, got {}", block_bp);
        max_.assign(tracks_.size(), 0.0f);
        std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> covered(contigs_.size());
        for (std::size_t t = 0; t < tracks_.size(); ++t) {
            for (auto& per_strand : tracks_[t].values) {
                per_strand.resize(contigs_.size());
                for (std::size_t k = 0; k < contigs_.size(); ++k) {
                    const auto& v = per_strand[k];
                    EVOSCOPE_CHECK(
                        v.empty() || static_cast<std::int64_t>(v.size()) == contigs_[k].length,
                        "track {}: {} values for contig {} of length {}",
                        tracks_[t].name,
                        v.size(),
                        contigs_[k].name,
                        contigs_[k].length);
                    for (float x : v) {
                        if (!std::isnan(x) && x > max_[t]) {
                            max_[t] = x;
                        }
                    }
                    if (!v.empty()) {
                        covered[k] = {{0, contigs_[k].length}};
                    }
                }
            }
        }
        blocks_ = grid_blocks(covered, block_bp);
    }

    std::int64_t n_features() const override { return static_cast<std::int64_t>(tracks_.size()); }

    std::string feature_name(std::int64_t feature) const override {
        return "track:" + tracks_.at(static_cast<std::size_t>(feature)).name;
    }

    const std::vector<genomics::ContigInfo>& contigs() const override { return contigs_; }

    const std::vector<float>& feature_max() const override { return max_; }

    const std::vector<SignalBlock>& blocks() const override { return blocks_; }

    void read(std::size_t index, BlockRows& out) const override {
        const SignalBlock& b = blocks_.at(index);
        const auto k = static_cast<std::size_t>(b.contig);
        for (int s = 0; s < 2; ++s) {
            auto& rows = out.rows[static_cast<std::size_t>(s)];
            clear_rows(rows, b.begin, b.end);
            for (std::int64_t p = b.begin; p < b.end; ++p) {
                const auto i = static_cast<std::size_t>(p - b.begin);
                for (std::size_t t = 0; t < tracks_.size(); ++t) {
                    const auto& v = tracks_[t].values[static_cast<std::size_t>(s)][k];
                    if (v.empty()) {
                        continue;
                    }
                    // A contig the track names is covered on the whole contig: bases no
                    // interval covers (NaN) read as 0, as bedGraph files leave zeros out.
                    const float x = v[static_cast<std::size_t>(p)];
                    rows.covered[i] = 1;
                    if (!std::isnan(x) && x != 0.0f) {
                        rows.ids.push_back(static_cast<std::uint32_t>(t));
                        rows.values.push_back(x);
                    }
                }
                rows.row_ptr[i + 1] = static_cast<std::int64_t>(rows.ids.size());
            }
        }
    }

    std::string describe() const override { return fmt::format("{} track(s)", tracks_.size()); }

private:
    std::vector<genomics::ContigInfo> contigs_;
    std::vector<DenseTrack> tracks_;
    std::vector<float> max_;
    std::vector<SignalBlock> blocks_;
};

class NeuronSource final : public SignalSource {
public:
    NeuronSource(const std::filesystem::path& dir, std::int64_t block_bp)
        : dir_(dir), store_(dir), d_(store_.d_model()) {
        EVOSCOPE_CHECK(block_bp > 0, "block size must be positive, got {}", block_bp);
        // The activation store has no contig table: contigs in order of first appearance, length
        // = the largest end (the alignment checks them against the FASTA).
        std::map<std::string, std::size_t> index;
        std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> covered;
        for (const auto& rb : store_.manifest().blocks) {
            auto [it, fresh] = index.try_emplace(rb.contig, contigs_.size());
            if (fresh) {
                contigs_.push_back({rb.contig, 0});
                covered.emplace_back();
            }
            contigs_[it->second].length = std::max(contigs_[it->second].length, rb.end);
            covered[it->second].emplace_back(rb.begin, rb.end);
        }
        for (auto& ranges : covered) {  // union of both strands' row blocks
            std::sort(ranges.begin(), ranges.end());
            std::vector<std::pair<std::int64_t, std::int64_t>> merged;
            for (const auto& r : ranges) {
                if (!merged.empty() && r.first <= merged.back().second) {
                    merged.back().second = std::max(merged.back().second, r.second);
                } else {
                    merged.push_back(r);
                }
            }
            ranges = std::move(merged);
        }
        blocks_ = grid_blocks(covered, block_bp);
        // First pass: the maxima of +x and -x per dimension.
        max_.assign(static_cast<std::size_t>(2 * d_), 0.0f);
        const std::int64_t chunk_rows =
            std::max<std::int64_t>(1, (1 << 22) / std::max<std::int64_t>(1, d_));
        std::vector<float> buffer;
        for (std::int64_t row = 0; row < store_.n_rows(); row += chunk_rows) {
            const std::int64_t n = std::min(chunk_rows, store_.n_rows() - row);
            buffer.resize(static_cast<std::size_t>(n * d_));
            store_.read_rows(row, n, buffer);
            for (std::size_t i = 0; i < buffer.size(); ++i) {
                const auto j = i % static_cast<std::size_t>(d_);
                const float x = buffer[i];
                max_[2 * j] = std::max(max_[2 * j], x);
                max_[2 * j + 1] = std::max(max_[2 * j + 1], -x);
            }
        }
    }

    std::int64_t n_features() const override { return 2 * d_; }

    std::string feature_name(std::int64_t feature) const override {
        return fmt::format("neuron/{}{}", feature / 2, feature % 2 == 0 ? '+' : '-');
    }

    const std::vector<genomics::ContigInfo>& contigs() const override { return contigs_; }

    const std::vector<float>& feature_max() const override { return max_; }

    const std::vector<SignalBlock>& blocks() const override { return blocks_; }

    void read(std::size_t index, BlockRows& out) const override {
        const SignalBlock& b = blocks_.at(index);
        for (int s = 0; s < 2; ++s) {
            std::vector<float> dense;
            {
                const std::lock_guard lock(mutex_);
                dense = store_.read_region(contigs_[static_cast<std::size_t>(b.contig)].name,
                                           b.begin,
                                           b.end,
                                           s == 0 ? '+' : '-');
            }
            auto& rows = out.rows[static_cast<std::size_t>(s)];
            clear_rows(rows, b.begin, b.end);
            const auto d = static_cast<std::size_t>(d_);
            for (std::size_t i = 0; i < static_cast<std::size_t>(b.end - b.begin); ++i) {
                const float* x = dense.data() + i * d;
                if (!std::isnan(x[0])) {
                    rows.covered[i] = 1;
                    for (std::size_t j = 0; j < d; ++j) {
                        if (x[j] != 0.0f) {
                            rows.ids.push_back(static_cast<std::uint32_t>(2 * j + (x[j] < 0)));
                            rows.values.push_back(std::fabs(x[j]));
                        }
                    }
                }
                rows.row_ptr[i + 1] = static_cast<std::int64_t>(rows.ids.size());
            }
        }
    }

    std::string describe() const override {
        return fmt::format("activation store {} (2 x {} neurons)", dir_.string(), d_);
    }

private:
    std::filesystem::path dir_;
    sae::ActivationStore store_;
    std::int64_t d_ = 0;
    std::vector<genomics::ContigInfo> contigs_;
    std::vector<float> max_;
    std::vector<SignalBlock> blocks_;
    mutable std::mutex mutex_;
};

}  // namespace

std::unique_ptr<SignalSource> open_feature_store_source(const std::filesystem::path& dir) {
    return std::make_unique<FeatureStoreSource>(dir);
}

std::unique_ptr<SignalSource> make_track_source(std::vector<genomics::ContigInfo> contigs,
                                                std::vector<DenseTrack> tracks,
                                                std::int64_t block_bp) {
    return std::make_unique<TrackSource>(std::move(contigs), std::move(tracks), block_bp);
}

std::unique_ptr<SignalSource> open_neuron_source(const std::filesystem::path& dir,
                                                 std::int64_t block_bp) {
    return std::make_unique<NeuronSource>(dir, block_bp);
}

}  // namespace evoscope::annotate
