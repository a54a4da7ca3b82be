#include "annotate/align.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/check.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace evoscope::annotate {

const char* sense_name(int sense) {
    switch (sense) {
        case kSame:
            return "same";
        case kOpposite:
            return "opposite";
        default:
            return "pooled";
    }
}

bool is_frame_concept(const Concept& concept_entry) {
    return concept_entry.name.starts_with("codon_pos") || concept_entry.name.starts_with("frame");
}

bool uses_domain_score(const Concept& concept_entry) {
    return !is_frame_concept(concept_entry) && !concept_entry.elements.empty();
}

std::string SplitPlan::describe() const {
    if (by_contig) {
        return "by contig";
    }
    return fmt::format("alternating {} bp blocks", block_bp);
}

namespace {

/// Source contig index -> concept contig index (checked: every source contig is in the
/// concepts' (the FASTA's) table and not longer).
std::vector<std::int32_t> map_contigs(const SignalSource& source, const ConceptSet& concepts) {
    std::map<std::string, std::int32_t, std::less<>> index;
    for (std::size_t i = 0; i < concepts.contigs.size(); ++i) {
        index[concepts.contigs[i].name] = static_cast<std::int32_t>(i);
    }
    std::vector<std::int32_t> out;
    for (const auto& c : source.contigs()) {
        const auto it = index.find(c.name);
        if (it == index.end()) {
            std::string names;
            for (const auto& fc : concepts.contigs) {
                names += (names.empty() ? "" : ", ") + fc.name;
            }
            throw InputError(fmt::format("{}: contig '{}' is not in the FASTA (contigs: {})",
                                         source.describe(),
                                         c.name,
                                         names));
        }
        const auto& fc = concepts.contigs[static_cast<std::size_t>(it->second)];
        EVOSCOPE_CHECK(c.length <= fc.length,
                       "{}: contig '{}' has length {} but the FASTA's is {}",
                       source.describe(),
                       c.name,
                       c.length,
                       fc.length);
        out.push_back(it->second);
    }
    return out;
}

const std::vector<Span>& spans_of(const Concept& c, int strand, std::int32_t contig) {
    static const std::vector<Span> kEmpty;
    const auto& per = c.positive[static_cast<std::size_t>(strand)];
    return static_cast<std::size_t>(contig) < per.size() ? per[static_cast<std::size_t>(contig)]
                                                         : kEmpty;
}

/// Value slots: the union of the histogram grid {k / n_bins} and the thresholds, so that both
/// the threshold counts and the AUROC histogram are exact cumulative sums of one table.
struct Slots {
    std::vector<double> edges;
    std::vector<int> grid_slot;       // slot of edge k / n_bins
    std::vector<int> threshold_slot;  // slot of each threshold
    std::vector<std::uint8_t> level_of_slot;
    int n_bins = 0;

    explicit Slots(const AlignConfig& config) : n_bins(config.n_bins) {
        EVOSCOPE_CHECK(config.n_bins >= 1 && config.n_bins <= 4096,
                       "histogram bins must be in 1..4096, got {}",
                       config.n_bins);
        EVOSCOPE_CHECK(!config.thresholds.empty() && config.thresholds.size() <= 7,
                       "1 to 7 thresholds, got {}",
                       config.thresholds.size());
        for (std::size_t i = 0; i < config.thresholds.size(); ++i) {
            const double t = config.thresholds[i];
            EVOSCOPE_CHECK(t >= 0.0 && t < 1.0, "threshold {} is not in [0, 1)", t);
            EVOSCOPE_CHECK(i == 0 || t > config.thresholds[i - 1],
                           "thresholds must ascend: {}",
                           fmt::join(config.thresholds, ","));
        }
        for (int k = 0; k < n_bins; ++k) {
            edges.push_back(static_cast<double>(k) / n_bins);
        }
        edges.insert(edges.end(), config.thresholds.begin(), config.thresholds.end());
        std::sort(edges.begin(), edges.end());
        edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
        auto find = [&](double x) {
            return static_cast<int>(std::lower_bound(edges.begin(), edges.end(), x) -
                                    edges.begin());
        };
        for (int k = 0; k < n_bins; ++k) {
            grid_slot.push_back(find(static_cast<double>(k) / n_bins));
        }
        for (double t : config.thresholds) {
            threshold_slot.push_back(find(t));
        }
        level_of_slot.resize(edges.size());
        for (std::size_t s = 0; s < edges.size(); ++s) {
            int level = 0;
            for (int ts : threshold_slot) {
                level += ts <= static_cast<int>(s) ? 1 : 0;
            }
            level_of_slot[s] = static_cast<std::uint8_t>(level);
        }
    }

    /// Slot of v = value / max in (0, 1]: (edges[s], edges[s + 1]] holds v.
    int slot(double v) const {
        const int q = std::min(n_bins - 1, static_cast<int>(v * n_bins));
        int s = grid_slot[static_cast<std::size_t>(q)];
        while (s > 0 && edges[static_cast<std::size_t>(s)] >= v) {
            --s;
        }
        while (s + 1 < static_cast<int>(edges.size()) &&
               edges[static_cast<std::size_t>(s) + 1] < v) {
            ++s;
        }
        return s;
    }
};

struct Dims {
    std::size_t F = 0, C = 0, S = 0, T = 0, J = 0;

    std::size_t tp(int split, std::size_t f, std::size_t slot) const {
        return ((static_cast<std::size_t>(split) * F + f) * S + slot) * J;
    }

    std::size_t active(int split, std::size_t f, std::size_t slot) const {
        return (static_cast<std::size_t>(split) * F + f) * S + slot;
    }

    std::size_t hits(int split, std::size_t f, std::size_t level) const {
        return ((static_cast<std::size_t>(split) * F + f) * (T + 1) + level) * J;
    }
};

Dims dims_of(const AlignCounts& c) {
    Dims d;
    d.F = static_cast<std::size_t>(c.n_features);
    d.C = static_cast<std::size_t>(c.n_concepts);
    d.S = c.edges.size();
    d.T = c.threshold_slot.size();
    d.J = kNumSenses * d.C;
    return d;
}

AlignCounts empty_counts(const SignalSource& source,
                         const ConceptSet& concepts,
                         const Slots& slots) {
    AlignCounts c;
    c.n_features = source.n_features();
    c.n_concepts = static_cast<std::int64_t>(concepts.concepts.size());
    c.edges = slots.edges;
    c.threshold_slot = slots.threshold_slot;
    const Dims d = dims_of(c);
    c.tp.assign(2 * d.F * d.S * d.J, 0);
    c.active.assign(2 * d.F * d.S, 0);
    c.positive.assign(2 * d.J, 0);
    c.rows.assign(2, 0);
    c.element_hits.assign(2 * d.F * (d.T + 1) * d.J, 0);
    c.elements.assign(2 * d.C, 0);
    c.frame_positive.assign(2 * 3 * d.J, 0);
    c.frame_rows.assign(2 * 3, 0);
    return c;
}

void add_into(AlignCounts& into, const AlignCounts& from) {
    auto add = [](auto& a, const auto& b) {
        for (std::size_t i = 0; i < a.size(); ++i) {
            a[i] += b[i];
        }
    };
    add(into.tp, from.tp);
    add(into.active, from.active);
    add(into.positive, from.positive);
    add(into.rows, from.rows);
    add(into.element_hits, from.element_hits);
    add(into.frame_positive, from.frame_positive);
    add(into.frame_rows, from.frame_rows);
}

/// One element: concept, index, source contig, split, the blocks it overlaps.
struct ElementRef {
    std::int32_t concept_index = 0;
    std::int32_t element = 0;
    std::int32_t source_contig = 0;
    int split = 0;
    int n_blocks = 0;
};

struct Prepared {
    std::vector<std::int32_t> to_concept_contig;
    std::vector<double> inv_max;
    std::vector<ElementRef> elements;
    std::vector<std::vector<std::int32_t>> block_elements;
};

Prepared prepare(const SignalSource& source,
                 const ConceptSet& concepts,
                 const SplitPlan& split,
                 AlignCounts& counts) {
    Prepared p;
    p.to_concept_contig = map_contigs(source, concepts);
    for (float m : source.feature_max()) {
        p.inv_max.push_back(m > 0.0f ? 1.0 / static_cast<double>(m) : 0.0);
    }
    std::vector<std::int32_t> to_source(concepts.contigs.size(), -1);
    for (std::size_t k = 0; k < p.to_concept_contig.size(); ++k) {
        to_source[static_cast<std::size_t>(p.to_concept_contig[k])] = static_cast<std::int32_t>(k);
    }
    const auto& blocks = source.blocks();
    std::vector<std::vector<std::size_t>> contig_blocks(source.contigs().size());
    for (std::size_t b = 0; b < blocks.size(); ++b) {
        contig_blocks[static_cast<std::size_t>(blocks[b].contig)].push_back(b);
    }
    for (auto& list : contig_blocks) {
        std::sort(list.begin(), list.end(), [&](std::size_t a, std::size_t b) {
            return blocks[a].begin < blocks[b].begin;
        });
    }
    p.block_elements.resize(blocks.size());
    const std::size_t C = concepts.concepts.size();
    for (std::size_t c = 0; c < C; ++c) {
        const auto& elements = concepts.concepts[c].elements;
        for (std::size_t e = 0; e < elements.size(); ++e) {
            const auto& el = elements[e];
            if (el.parts.empty() || el.contig < 0 ||
                static_cast<std::size_t>(el.contig) >= to_source.size() ||
                to_source[static_cast<std::size_t>(el.contig)] < 0) {
                continue;
            }
            ElementRef ref;
            ref.concept_index = static_cast<std::int32_t>(c);
            ref.element = static_cast<std::int32_t>(e);
            ref.source_contig = to_source[static_cast<std::size_t>(el.contig)];
            ref.split = split.split_of(ref.source_contig, el.parts.front().begin);
            const auto id = static_cast<std::int32_t>(p.elements.size());
            const auto& list = contig_blocks[static_cast<std::size_t>(ref.source_contig)];
            for (const auto& part : el.parts) {
                // first block whose end is past the part's begin
                auto it = std::partition_point(list.begin(), list.end(), [&](std::size_t b) {
                    return blocks[b].end <= part.begin;
                });
                for (; it != list.end() && blocks[*it].begin < part.end; ++it) {
                    auto& be = p.block_elements[*it];
                    if (be.empty() || be.back() != id) {
                        be.push_back(id);
                        ++ref.n_blocks;
                    }
                }
            }
            counts.elements[static_cast<std::size_t>(ref.split) * C + c] += 1;
            p.elements.push_back(ref);
        }
    }
    return p;
}

/// Per-thread state of the streaming pass.
struct Worker {
    AlignCounts counts;
    BlockRows rows;
    std::vector<std::uint8_t> flags;
    std::array<std::vector<std::uint16_t>, 2> nz_slot;
    std::vector<std::uint16_t> jlist;
    std::vector<std::uint32_t> jptr;
    std::array<std::vector<std::uint8_t>, 2> level;  // per feature, sense same/opposite
    std::vector<std::uint32_t> touched;
};

constexpr std::uint16_t kNoSlot = 0xFFFF;

/// Partial element levels carried across blocks: (feature, level same, level opposite).
using Partial = std::vector<std::array<std::uint32_t, 3>>;

struct Shared {
    std::mutex mutex;
    std::unordered_map<std::int32_t, Partial> partial;
};

void emit_element(
    AlignCounts& counts, const Dims& d, const ElementRef& ref, std::uint32_t f, int ls, int lo) {
    const int lp = std::max(ls, lo);
    const std::size_t c = static_cast<std::size_t>(ref.concept_index);
    if (ls > 0) {
        counts.element_hits[d.hits(ref.split, f, static_cast<std::size_t>(ls)) + kSame * d.C + c]++;
    }
    if (lo > 0) {
        counts.element_hits[d.hits(ref.split, f, static_cast<std::size_t>(lo)) + kOpposite * d.C +
                            c]++;
    }
    if (lp > 0) {
        counts
            .element_hits[d.hits(ref.split, f, static_cast<std::size_t>(lp)) + kPooled * d.C + c]++;
    }
}

void process_block(const SignalSource& source,
                   const ConceptSet& concepts,
                   const SplitPlan& split,
                   const Prepared& prep,
                   const Slots& slots,
                   std::size_t block_index,
                   Worker& w,
                   Shared& shared) {
    const SignalBlock& block = source.blocks()[block_index];
    source.read(block_index, w.rows);
    AlignCounts& counts = w.counts;
    const Dims d = dims_of(counts);
    const std::int32_t kc = prep.to_concept_contig[static_cast<std::size_t>(block.contig)];
    const auto n = static_cast<std::size_t>(block.end - block.begin);
    // flags[(c * 2 + concept strand) * n + i]
    w.flags.assign(d.C * 2 * n, 0);
    for (std::size_t c = 0; c < d.C; ++c) {
        for (int cs = 0; cs < 2; ++cs) {
            const auto& spans = spans_of(concepts.concepts[c], cs, kc);
            auto it = std::partition_point(
                spans.begin(), spans.end(), [&](const Span& s) { return s.end <= block.begin; });
            std::uint8_t* f = w.flags.data() + (c * 2 + static_cast<std::size_t>(cs)) * n;
            for (; it != spans.end() && it->begin < block.end; ++it) {
                const std::int64_t lo = std::max(it->begin, block.begin);
                const std::int64_t hi = std::min(it->end, block.end);
                std::fill(f + (lo - block.begin), f + (hi - block.begin), 1);
            }
        }
    }
    for (int r = 0; r < 2; ++r) {
        const sae::FeatureRows& rows = w.rows.rows[static_cast<std::size_t>(r)];
        auto& nz_slot = w.nz_slot[static_cast<std::size_t>(r)];
        nz_slot.assign(rows.ids.size(), kNoSlot);
        for (std::size_t i = 0; i < n; ++i) {
            if (rows.covered[i] == 0) {
                continue;
            }
            const std::int64_t pos = block.begin + static_cast<std::int64_t>(i);
            const int sp = split.split_of(block.contig, pos);
            w.jlist.clear();
            for (std::size_t c = 0; c < d.C; ++c) {
                const bool same = w.flags[(c * 2 + static_cast<std::size_t>(r)) * n + i] != 0;
                const bool opp = w.flags[(c * 2 + static_cast<std::size_t>(1 - r)) * n + i] != 0;
                if (same) {
                    w.jlist.push_back(static_cast<std::uint16_t>(kSame * d.C + c));
                }
                if (opp) {
                    w.jlist.push_back(static_cast<std::uint16_t>(kOpposite * d.C + c));
                }
                if (same || opp) {
                    w.jlist.push_back(static_cast<std::uint16_t>(kPooled * d.C + c));
                }
            }
            counts.rows[static_cast<std::size_t>(sp)]++;
            const auto residue = static_cast<std::size_t>(pos % 3);
            counts.frame_rows[static_cast<std::size_t>(sp) * 3 + residue]++;
            for (std::uint16_t j : w.jlist) {
                counts.positive[static_cast<std::size_t>(sp) * d.J + j]++;
                counts.frame_positive[(static_cast<std::size_t>(sp) * 3 + residue) * d.J + j]++;
            }
            for (auto k = static_cast<std::size_t>(rows.row_ptr[i]);
                 k < static_cast<std::size_t>(rows.row_ptr[i + 1]);
                 ++k) {
                const std::uint32_t f = rows.ids[k];
                const double v = static_cast<double>(rows.values[k]) * prep.inv_max[f];
                if (!(v > 0.0)) {
                    continue;
                }
                const int s = slots.slot(std::min(v, 1.0));
                nz_slot[k] = static_cast<std::uint16_t>(s);
                counts.active[d.active(sp, f, static_cast<std::size_t>(s))]++;
                std::uint32_t* base = counts.tp.data() + d.tp(sp, f, static_cast<std::size_t>(s));
                for (std::uint16_t j : w.jlist) {
                    base[j]++;
                }
            }
        }
    }
    // Elements overlapping the block: per feature the highest level reached on each sense.
    for (std::int32_t id : prep.block_elements[block_index]) {
        const ElementRef& ref = prep.elements[static_cast<std::size_t>(id)];
        const ConceptElement& el = concepts.concepts[static_cast<std::size_t>(ref.concept_index)]
                                       .elements[static_cast<std::size_t>(ref.element)];
        for (const auto& part : el.parts) {
            const std::int64_t lo = std::max(part.begin, block.begin);
            const std::int64_t hi = std::min(part.end, block.end);
            for (std::int64_t pos = lo; pos < hi; ++pos) {
                const auto i = static_cast<std::size_t>(pos - block.begin);
                for (int r = 0; r < 2; ++r) {
                    const auto& rows = w.rows.rows[static_cast<std::size_t>(r)];
                    if (rows.covered[i] == 0) {
                        continue;
                    }
                    auto& lv = w.level[r == el.strand ? 0 : 1];
                    const auto& nz_slot = w.nz_slot[static_cast<std::size_t>(r)];
                    for (auto k = static_cast<std::size_t>(rows.row_ptr[i]);
                         k < static_cast<std::size_t>(rows.row_ptr[i + 1]);
                         ++k) {
                        if (nz_slot[k] == kNoSlot) {
                            continue;
                        }
                        const std::uint32_t f = rows.ids[k];
                        const std::uint8_t L = slots.level_of_slot[nz_slot[k]];
                        if (L > lv[f]) {
                            if (w.level[0][f] == 0 && w.level[1][f] == 0) {
                                w.touched.push_back(f);
                            }
                            lv[f] = L;
                        }
                    }
                }
            }
        }
        if (ref.n_blocks <= 1) {
            for (std::uint32_t f : w.touched) {
                emit_element(counts, d, ref, f, w.level[0][f], w.level[1][f]);
            }
        } else if (!w.touched.empty()) {
            const std::lock_guard lock(shared.mutex);
            auto& partial = shared.partial[id];
            for (std::uint32_t f : w.touched) {
                partial.push_back({f, w.level[0][f], w.level[1][f]});
            }
        }
        for (std::uint32_t f : w.touched) {
            w.level[0][f] = 0;
            w.level[1][f] = 0;
        }
        w.touched.clear();
    }
}

/// Runs `fn(i, thread)` for i in [0, n) on `threads` threads; rethrows the first exception.
template <typename Fn>
void parallel_for(std::size_t n, int threads, Fn fn) {
    const int nt =
        std::max(1, std::min<int>(threads, static_cast<int>(std::max<std::size_t>(n, 1))));
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto body = [&](int t) {
        try {
            for (std::size_t i = next++; i < n; i = next++) {
                fn(i, t);
            }
        } catch (...) {
            const std::lock_guard lock(error_mutex);
            if (!error) {
                error = std::current_exception();
            }
            next = n;
        }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < nt; ++t) {
        pool.emplace_back(body, t);
    }
    body(0);
    for (auto& th : pool) {
        th.join();
    }
    if (error) {
        std::rethrow_exception(error);
    }
}

int effective_threads(int threads) {
    if (threads > 0) {
        return threads;
    }
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace

SplitPlan plan_split(const SignalSource& source,
                     const ConceptSet& concepts,
                     const AlignConfig& config) {
    (void)concepts;
    EVOSCOPE_CHECK(config.split_block_bp >= 0, "split block size must not be negative");
    const auto& contigs = source.contigs();
    std::vector<std::int64_t> covered(contigs.size(), 0);
    std::int64_t total = 0;
    for (const auto& b : source.blocks()) {
        covered[static_cast<std::size_t>(b.contig)] += b.end - b.begin;
        total += b.end - b.begin;
    }
    SplitPlan plan;
    // By contig: largest first, each to the split with fewer rows so far (validation first).
    std::vector<std::size_t> order(contigs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return covered[a] > covered[b];
    });
    std::array<std::int64_t, 2> size{0, 0};
    plan.contig_split.assign(contigs.size(), 0);
    int n_with_data = 0;
    for (std::size_t k : order) {
        if (covered[k] == 0) {
            continue;
        }
        ++n_with_data;
        const int s = size[0] <= size[1] ? 0 : 1;
        plan.contig_split[k] = static_cast<std::uint8_t>(s);
        size[static_cast<std::size_t>(s)] += covered[k];
    }
    const double lo = config.min_split_fraction * static_cast<double>(total);
    if (n_with_data >= 2 && static_cast<double>(size[0]) >= lo &&
        static_cast<double>(size[1]) >= lo) {
        plan.by_contig = true;
        return plan;
    }
    plan.by_contig = false;
    plan.block_bp = config.split_block_bp;
    if (plan.block_bp == 0) {
        // Automatic: 100 kb blocks, but at least 20 blocks of at least 1 kb. Fewer, larger blocks
        // give a lopsided split (a 154 kb chloroplast in 100 kb blocks: validation 0-100 kb, test
        // 100-154 kb, mostly one inverted-repeat copy).
        plan.block_bp = kDefaultSplitBlockBp;
        if (total / 2 < 20 * plan.block_bp)
            plan.block_bp = std::max<std::int64_t>(1000, total / 2 / 20);
        EVOSCOPE_LOG_INFO(
            "align: {} bp per strand, validation/test blocks of {} bp", total / 2, plan.block_bp);
    }
    std::int64_t first = 0;
    for (const auto& c : contigs) {
        plan.first_block.push_back(first);
        first += (c.length + plan.block_bp - 1) / plan.block_bp;
    }
    return plan;
}

AlignCounts count_alignment(const SignalSource& source,
                            const ConceptSet& concepts,
                            const SplitPlan& split,
                            const AlignConfig& config) {
    const Slots slots(config);
    AlignCounts counts = empty_counts(source, concepts, slots);
    EVOSCOPE_CHECK(counts.n_concepts <= 20000, "too many concepts ({})", counts.n_concepts);
    const Prepared prep = prepare(source, concepts, split, counts);
    const int nt = effective_threads(config.threads);
    std::vector<Worker> workers(static_cast<std::size_t>(nt));
    for (auto& w : workers) {
        w.counts = empty_counts(source, concepts, slots);
        for (auto& lv : w.level) {
            lv.assign(static_cast<std::size_t>(counts.n_features), 0);
        }
    }
    Shared shared;
    std::atomic<std::size_t> done{0};
    const std::size_t n_blocks = source.blocks().size();
    parallel_for(n_blocks, nt, [&](std::size_t b, int t) {
        process_block(
            source, concepts, split, prep, slots, b, workers[static_cast<std::size_t>(t)], shared);
        const std::size_t k = ++done;
        if (k % 256 == 0) {
            EVOSCOPE_LOG_DEBUG("align: {}/{} blocks", k, n_blocks);
        }
    });
    for (auto& w : workers) {
        add_into(counts, w.counts);
        w.counts = {};
    }
    const Dims d = dims_of(counts);
    for (auto& [id, partial] : shared.partial) {
        std::sort(partial.begin(), partial.end());
        for (std::size_t i = 0; i < partial.size();) {
            std::uint32_t ls = 0;
            std::uint32_t lo = 0;
            std::size_t j = i;
            for (; j < partial.size() && partial[j][0] == partial[i][0]; ++j) {
                ls = std::max(ls, partial[j][1]);
                lo = std::max(lo, partial[j][2]);
            }
            emit_element(counts,
                         d,
                         prep.elements[static_cast<std::size_t>(id)],
                         partial[i][0],
                         static_cast<int>(ls),
                         static_cast<int>(lo));
            i = j;
        }
    }
    return counts;
}

AlignCounts count_alignment_reference(const SignalSource& source,
                                      const ConceptSet& concepts,
                                      const SplitPlan& split,
                                      const AlignConfig& config) {
    // Plain and dense: the whole source as a [contig][strand][position][feature] array.
    const Slots slots(config);
    AlignCounts counts = empty_counts(source, concepts, slots);
    const Prepared prep = prepare(source, concepts, split, counts);
    const Dims d = dims_of(counts);
    const auto& contigs = source.contigs();
    std::vector<std::array<std::vector<float>, 2>> dense(contigs.size());
    std::vector<std::array<std::vector<std::uint8_t>, 2>> cov(contigs.size());
    for (std::size_t k = 0; k < contigs.size(); ++k) {
        for (int r = 0; r < 2; ++r) {
            dense[k][static_cast<std::size_t>(r)].assign(
                static_cast<std::size_t>(contigs[k].length) * d.F, 0.0f);
            cov[k][static_cast<std::size_t>(r)].assign(static_cast<std::size_t>(contigs[k].length),
                                                       0);
        }
    }
    BlockRows br;
    for (std::size_t b = 0; b < source.blocks().size(); ++b) {
        const auto& block = source.blocks()[b];
        source.read(b, br);
        const auto k = static_cast<std::size_t>(block.contig);
        for (int r = 0; r < 2; ++r) {
            const auto& rows = br.rows[static_cast<std::size_t>(r)];
            for (std::int64_t i = 0; i < block.end - block.begin; ++i) {
                const auto pos = static_cast<std::size_t>(block.begin + i);
                cov[k][static_cast<std::size_t>(r)][pos] =
                    rows.covered[static_cast<std::size_t>(i)];
                for (auto q = rows.row_ptr[static_cast<std::size_t>(i)];
                     q < rows.row_ptr[static_cast<std::size_t>(i) + 1];
                     ++q) {
                    dense[k][static_cast<std::size_t>(r)]
                         [pos * d.F + rows.ids[static_cast<std::size_t>(q)]] =
                             rows.values[static_cast<std::size_t>(q)];
                }
            }
        }
    }
    auto in_concept = [&](std::size_t c, int strand, std::size_t k, std::int64_t pos) {
        const auto& spans = spans_of(concepts.concepts[c], strand, prep.to_concept_contig[k]);
        const auto it =
            std::upper_bound(spans.begin(), spans.end(), pos, [](std::int64_t x, const Span& s) {
                return x < s.end;
            });
        return it != spans.end() && it->begin <= pos;
    };
    auto level_of = [&](std::size_t f, float x) {
        int level = 0;
        const double v = static_cast<double>(x) * prep.inv_max[f];
        for (double t : config.thresholds) {
            level += v > t ? 1 : 0;
        }
        return level;
    };
    for (std::size_t k = 0; k < contigs.size(); ++k) {
        for (int r = 0; r < 2; ++r) {
            for (std::int64_t pos = 0; pos < contigs[k].length; ++pos) {
                if (cov[k][static_cast<std::size_t>(r)][static_cast<std::size_t>(pos)] == 0) {
                    continue;
                }
                const int sp = split.split_of(static_cast<std::int32_t>(k), pos);
                counts.rows[static_cast<std::size_t>(sp)]++;
                counts.frame_rows[static_cast<std::size_t>(sp) * 3 +
                                  static_cast<std::size_t>(pos % 3)]++;
                std::vector<std::size_t> js;
                for (std::size_t c = 0; c < d.C; ++c) {
                    const bool same = in_concept(c, r, k, pos);
                    const bool opp = in_concept(c, 1 - r, k, pos);
                    if (same) {
                        js.push_back(kSame * d.C + c);
                    }
                    if (opp) {
                        js.push_back(kOpposite * d.C + c);
                    }
                    if (same || opp) {
                        js.push_back(kPooled * d.C + c);
                    }
                }
                for (std::size_t j : js) {
                    counts.positive[static_cast<std::size_t>(sp) * d.J + j]++;
                    counts.frame_positive[(static_cast<std::size_t>(sp) * 3 +
                                           static_cast<std::size_t>(pos % 3)) *
                                              d.J +
                                          j]++;
                }
                for (std::size_t f = 0; f < d.F; ++f) {
                    const float x = dense[k][static_cast<std::size_t>(r)]
                                         [static_cast<std::size_t>(pos) * d.F + f];
                    const double v = static_cast<double>(x) * prep.inv_max[f];
                    if (!(v > 0.0)) {
                        continue;
                    }
                    // slot by linear search: the last edge below v
                    std::size_t s = 0;
                    while (s + 1 < d.S && slots.edges[s + 1] < std::min(v, 1.0)) {
                        ++s;
                    }
                    counts.active[d.active(sp, f, s)]++;
                    for (std::size_t j : js) {
                        counts.tp[d.tp(sp, f, s) + j]++;
                    }
                }
            }
        }
    }
    for (const auto& ref : prep.elements) {
        const auto& el = concepts.concepts[static_cast<std::size_t>(ref.concept_index)]
                             .elements[static_cast<std::size_t>(ref.element)];
        const auto k = static_cast<std::size_t>(ref.source_contig);
        for (std::size_t f = 0; f < d.F; ++f) {
            std::array<int, 2> best{0, 0};
            for (const auto& part : el.parts) {
                for (std::int64_t pos = part.begin; pos < std::min(part.end, contigs[k].length);
                     ++pos) {
                    for (int r = 0; r < 2; ++r) {
                        if (cov[k][static_cast<std::size_t>(r)][static_cast<std::size_t>(pos)] ==
                            0) {
                            continue;
                        }
                        const float x = dense[k][static_cast<std::size_t>(r)]
                                             [static_cast<std::size_t>(pos) * d.F + f];
                        const int L = level_of(f, x);
                        auto& b = best[r == el.strand ? 0 : 1];
                        b = std::max(b, L);
                    }
                }
            }
            emit_element(counts, d, ref, static_cast<std::uint32_t>(f), best[0], best[1]);
        }
    }
    return counts;
}

Metrics metrics_at(const AlignCounts& counts,
                   int split,
                   std::int64_t feature,
                   std::int64_t concept_index,
                   int threshold,
                   int sense) {
    const Dims d = dims_of(counts);
    const auto f = static_cast<std::size_t>(feature);
    const std::size_t j =
        static_cast<std::size_t>(sense) * d.C + static_cast<std::size_t>(concept_index);
    Metrics m;
    for (auto s =
             static_cast<std::size_t>(counts.threshold_slot[static_cast<std::size_t>(threshold)]);
         s < d.S;
         ++s) {
        m.tp += counts.tp[d.tp(split, f, s) + j];
        m.active += counts.active[d.active(split, f, s)];
    }
    m.positive = counts.positive[static_cast<std::size_t>(split) * d.J + j];
    m.rows = counts.rows[static_cast<std::size_t>(split)];
    std::uint64_t found = 0;
    for (std::size_t L = static_cast<std::size_t>(threshold) + 1; L <= d.T; ++L) {
        found += counts.element_hits[d.hits(split, f, L) + j];
    }
    const std::uint64_t n_el = counts.elements[static_cast<std::size_t>(split) * d.C +
                                               static_cast<std::size_t>(concept_index)];
    auto ratio = [](std::uint64_t a, std::uint64_t b) {
        return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
    };
    auto hm = [](double a, double b) {
        return a + b > 0 ? 2 * a * b / (a + b) : 0.0;
    };
    m.precision = ratio(m.tp, m.active);
    m.recall = ratio(m.tp, m.positive);
    m.f1 = hm(m.precision, m.recall);
    m.element_recall = ratio(found, n_el);
    m.domain_f1 = hm(m.precision, m.element_recall);
    // Enrichment: 2x2 table of active x positive rows, Haldane-Anscombe +0.5 on every cell;
    // log odds ratio and z = log OR / SE with SE = sqrt(sum 1/cell) (Woolf 1955).
    const double a = static_cast<double>(m.tp) + 0.5;
    const double b = static_cast<double>(m.active - m.tp) + 0.5;
    const double c = static_cast<double>(m.positive - m.tp) + 0.5;
    const double dd = static_cast<double>(m.rows) - static_cast<double>(m.active) -
                      static_cast<double>(m.positive - m.tp) + 0.5;
    m.log_odds = std::log((a * dd) / (b * c));
    m.z = m.log_odds / std::sqrt(1 / a + 1 / b + 1 / c + 1 / dd);
    return m;
}

std::pair<double, double> auc_at(const AlignCounts& counts,
                                 int split,
                                 std::int64_t feature,
                                 std::int64_t concept_index,
                                 int sense) {
    const Dims d = dims_of(counts);
    const auto f = static_cast<std::size_t>(feature);
    const std::size_t j =
        static_cast<std::size_t>(sense) * d.C + static_cast<std::size_t>(concept_index);
    const double P =
        static_cast<double>(counts.positive[static_cast<std::size_t>(split) * d.J + j]);
    const double N = static_cast<double>(counts.rows[static_cast<std::size_t>(split)]) - P;
    if (P <= 0 || N <= 0) {
        return {0.5, P > 0 ? 1.0 : 0.0};
    }
    // Score groups from the highest slot down, then the inactive rows (value <= 0) as the
    // lowest group. Ties within a group: AUROC counts half (trapezoid), AUPRC takes one
    // operating point per group (average precision, step interpolation).
    double cum_pos = 0;
    double cum_all = 0;
    double auroc = 0;
    double ap = 0;
    auto group = [&](double pos, double all) {
        const double neg = all - pos;
        auroc += neg * (cum_pos + pos / 2);
        cum_pos += pos;
        cum_all += all;
        if (pos > 0) {
            ap += (pos / P) * (cum_pos / cum_all);
        }
    };
    double act_pos = 0;
    double act_all = 0;
    for (std::size_t s = d.S; s-- > 0;) {
        const double pos = counts.tp[d.tp(split, f, s) + j];
        const double all = static_cast<double>(counts.active[d.active(split, f, s)]);
        act_pos += pos;
        act_all += all;
        if (all > 0) {
            group(pos, all);
        }
    }
    group(P - act_pos, P + N - act_all);
    return {auroc / (P * N), ap};
}

namespace {

// ---- chance bound: circular shifts of the concept tracks over candidate features' bitsets ----

/// Bit arrays over the genome, one word range per source contig (length = the FASTA's).
struct Genome {
    std::vector<std::size_t> word_off;
    std::vector<std::int64_t> length;
    std::size_t total_words = 0;

    std::size_t bit(std::size_t k, std::int64_t pos) const {
        return word_off[k] * 64 + static_cast<std::size_t>(pos);
    }
};

using Words = std::vector<std::uint64_t>;

inline void set_bit(Words& w, std::size_t b) {
    w[b >> 6] |= std::uint64_t{1} << (b & 63);
}

inline void set_bit_atomic(Words& w, std::size_t b) {
    std::atomic_ref<std::uint64_t>(w[b >> 6]).fetch_or(std::uint64_t{1} << (b & 63),
                                                       std::memory_order_relaxed);
}

/// n <= 64 bits of a contig's bit array starting at bit `start` (no wrap: start + n <= length).
inline std::uint64_t extract(const std::uint64_t* in, std::int64_t start, int n) {
    const auto w = static_cast<std::size_t>(start >> 6);
    const int o = static_cast<int>(start & 63);
    std::uint64_t x = in[w] >> o;
    if (o != 0 && o + n > 64) {
        x |= in[w + 1] << (64 - o);
    }
    return n == 64 ? x : x & ((std::uint64_t{1} << n) - 1);
}

/// out[p] = in[(p - shift) mod L] for every contig (the concept moved right by `shift`).
void rotate(const Genome& g, const Words& in, const std::vector<std::int64_t>& shift, Words& out) {
    out.assign(g.total_words, 0);
    for (std::size_t k = 0; k < g.length.size(); ++k) {
        const std::int64_t L = g.length[k];
        const std::uint64_t* src = in.data() + g.word_off[k];
        std::uint64_t* dst = out.data() + g.word_off[k];
        for (std::int64_t p = 0; p < L; p += 64) {
            const int n = static_cast<int>(std::min<std::int64_t>(64, L - p));
            std::int64_t s = ((p - shift[k]) % L + L) % L;
            const int first = static_cast<int>(std::min<std::int64_t>(n, L - s));
            std::uint64_t x = extract(src, s, first);
            if (first < n) {
                x |= extract(src, 0, n - first) << first;
            }
            dst[p >> 6] = x;
        }
    }
}

/// Positions with level >= L from three bit planes holding the level in binary (L in 1..7).
inline std::uint64_t level_ge(int L, std::uint64_t b0, std::uint64_t b1, std::uint64_t b2) {
    switch (L) {
        case 1:
            return b0 | b1 | b2;
        case 2:
            return b1 | b2;
        case 3:
            return (b1 & b0) | b2;
        case 4:
            return b2;
        case 5:
            return b2 & (b0 | b1);
        case 6:
            return b2 & b1;
        default:
            return b2 & b1 & b0;
    }
}

struct CandidateBits {
    /// planes[(r * 3 + b)]: bit b of the level on row strand r
    std::array<Words, 6> planes;
};

/// Highest level in positions [a, b) of contig k on row strand r.
int max_level(const Genome& g,
              const CandidateBits& cb,
              int r,
              std::size_t k,
              std::int64_t a,
              std::int64_t b,
              int n_levels) {
    int best = 0;
    const std::size_t lo = g.bit(k, a);
    const std::size_t hi = g.bit(k, b);
    const auto& p0 = cb.planes[static_cast<std::size_t>(r) * 3];
    const auto& p1 = cb.planes[static_cast<std::size_t>(r) * 3 + 1];
    const auto& p2 = cb.planes[static_cast<std::size_t>(r) * 3 + 2];
    for (std::size_t w = lo >> 6; w <= (hi - 1) >> 6 && lo < hi; ++w) {
        std::uint64_t m = ~std::uint64_t{0};
        if (w == (lo >> 6)) {
            m &= ~std::uint64_t{0} << (lo & 63);
        }
        if (w == ((hi - 1) >> 6) && (hi & 63) != 0) {
            m &= (std::uint64_t{1} << (hi & 63)) - 1;
        }
        const std::uint64_t b0 = p0[w] & m;
        const std::uint64_t b1 = p1[w] & m;
        const std::uint64_t b2 = p2[w] & m;
        if ((b0 | b1 | b2) == 0) {
            continue;
        }
        for (int L = n_levels; L > best; --L) {
            if (level_ge(L, b0, b1, b2) != 0) {
                best = L;
                break;
            }
        }
        if (best == n_levels) {
            break;
        }
    }
    return best;
}

double score_of(const Metrics& m, bool domain) {
    return domain ? m.domain_f1 : m.f1;
}

Metrics make_metrics(std::uint64_t tp,
                     std::uint64_t active,
                     std::uint64_t positive,
                     std::uint64_t rows,
                     std::uint64_t found,
                     std::uint64_t n_el) {
    Metrics m;
    m.tp = tp;
    m.active = active;
    m.positive = positive;
    m.rows = rows;
    auto ratio = [](std::uint64_t a, std::uint64_t b) {
        return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
    };
    auto hm = [](double a, double b) {
        return a + b > 0 ? 2 * a * b / (a + b) : 0.0;
    };
    m.precision = ratio(tp, active);
    m.recall = ratio(tp, positive);
    m.f1 = hm(m.precision, m.recall);
    m.element_recall = ratio(found, n_el);
    m.domain_f1 = hm(m.precision, m.element_recall);
    return m;
}

/// The chance bound (docs/alignment.md): the whole selection repeated with every concept's
/// positions and elements moved circularly along each contig, over the candidate features only
/// (each concept's best features on validation plus the densest features overall), from their
/// activity levels kept as bit planes. Active counts per split do not move with the concept,
/// so they come from the main counts.
void run_shifts(const SignalSource& source,
                const ConceptSet& concepts,
                const AlignConfig& config,
                const std::vector<std::vector<double>>& best_val,
                AlignResult& result) {
    const AlignCounts& counts = result.counts;
    const Dims d = dims_of(counts);
    const int T = static_cast<int>(d.T);
    const Slots slots(config);
    // Candidates.
    std::vector<std::int64_t> density_order(d.F);
    std::vector<std::uint64_t> n_active(d.F, 0);
    for (std::size_t f = 0; f < d.F; ++f) {
        for (int sp = 0; sp < 2; ++sp) {
            for (std::size_t s = 0; s < d.S; ++s) {
                n_active[f] += counts.active[d.active(sp, f, s)];
            }
        }
    }
    std::iota(density_order.begin(), density_order.end(), 0);
    std::stable_sort(density_order.begin(), density_order.end(), [&](auto a, auto b) {
        return n_active[static_cast<std::size_t>(a)] > n_active[static_cast<std::size_t>(b)];
    });
    std::vector<std::vector<std::int64_t>> cand_of(d.C);
    std::vector<std::int32_t> cand_index(d.F, -1);
    std::vector<std::int64_t> cands;
    auto add_cand = [&](std::size_t c, std::int64_t f) {
        if (cand_index[static_cast<std::size_t>(f)] < 0) {
            cand_index[static_cast<std::size_t>(f)] = static_cast<std::int32_t>(cands.size());
            cands.push_back(f);
        }
        if (std::find(cand_of[c].begin(), cand_of[c].end(), f) == cand_of[c].end()) {
            cand_of[c].push_back(f);
        }
    };
    for (std::size_t c = 0; c < d.C; ++c) {
        std::vector<std::int64_t> order(d.F);
        std::iota(order.begin(), order.end(), 0);
        const int k = std::min<int>(config.shift_top, static_cast<int>(d.F));
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](auto a, auto b) {
            const double va = best_val[c][static_cast<std::size_t>(a)];
            const double vb = best_val[c][static_cast<std::size_t>(b)];
            return va != vb ? va > vb : a < b;
        });
        for (int i = 0; i < k; ++i) {
            if (best_val[c][static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] > 0) {
                add_cand(c, order[static_cast<std::size_t>(i)]);
            }
        }
        for (int i = 0; i < std::min<int>(config.shift_dense, static_cast<int>(d.F)); ++i) {
            if (n_active[static_cast<std::size_t>(density_order[static_cast<std::size_t>(i)])] >
                0) {
                add_cand(c, density_order[static_cast<std::size_t>(i)]);
            }
        }
    }
    result.shift_candidates = cands;
    result.n_shifts = config.n_shifts;
    // Genome bit layout over the source's contigs (FASTA lengths).
    const Prepared prep_map{map_contigs(source, concepts), {}, {}, {}};
    Genome g;
    for (std::size_t k = 0; k < source.contigs().size(); ++k) {
        const std::int64_t L =
            concepts.contigs[static_cast<std::size_t>(prep_map.to_concept_contig[k])].length;
        g.word_off.push_back(g.total_words);
        g.length.push_back(L);
        g.total_words += static_cast<std::size_t>((L + 63) / 64);
    }
    EVOSCOPE_LOG_INFO(
        "align: chance bound, {} shifts over {} candidate features ({:.0f} MiB of "
        "bit planes)",
        config.n_shifts,
        cands.size(),
        static_cast<double>(cands.size() * 6 * g.total_words * 8) / (1 << 20));
    std::vector<CandidateBits> bits(cands.size());
    for (auto& cb : bits) {
        for (auto& p : cb.planes) {
            p.assign(g.total_words, 0);
        }
    }
    std::array<std::array<Words, 2>, 2> cov;  // [split][row strand]
    for (auto& per : cov) {
        for (auto& w : per) {
            w.assign(g.total_words, 0);
        }
    }
    std::vector<double> inv_max;
    for (float m : source.feature_max()) {
        inv_max.push_back(m > 0.0f ? 1.0 / static_cast<double>(m) : 0.0);
    }
    const int nt = effective_threads(config.threads);
    std::vector<BlockRows> rows(static_cast<std::size_t>(nt));
    parallel_for(source.blocks().size(), nt, [&](std::size_t b, int t) {
        BlockRows& br = rows[static_cast<std::size_t>(t)];
        source.read(b, br);
        const SignalBlock& block = source.blocks()[b];
        const auto k = static_cast<std::size_t>(block.contig);
        for (int r = 0; r < 2; ++r) {
            const auto& fr = br.rows[static_cast<std::size_t>(r)];
            for (std::int64_t i = 0; i < block.end - block.begin; ++i) {
                if (fr.covered[static_cast<std::size_t>(i)] == 0) {
                    continue;
                }
                const std::int64_t pos = block.begin + i;
                const std::size_t bitpos = g.bit(k, pos);
                const int sp = result.split.split_of(block.contig, pos);
                set_bit_atomic(cov[static_cast<std::size_t>(sp)][static_cast<std::size_t>(r)],
                               bitpos);
                for (auto q = fr.row_ptr[static_cast<std::size_t>(i)];
                     q < fr.row_ptr[static_cast<std::size_t>(i) + 1];
                     ++q) {
                    const std::uint32_t f = fr.ids[static_cast<std::size_t>(q)];
                    const std::int32_t ci = cand_index[f];
                    if (ci < 0) {
                        continue;
                    }
                    const double v =
                        static_cast<double>(fr.values[static_cast<std::size_t>(q)]) * inv_max[f];
                    if (!(v > 0.0)) {
                        continue;
                    }
                    const int L =
                        slots.level_of_slot[static_cast<std::size_t>(slots.slot(std::min(v, 1.0)))];
                    for (int bit = 0; bit < 3; ++bit) {
                        if ((L >> bit) & 1) {
                            set_bit_atomic(bits[static_cast<std::size_t>(ci)]
                                               .planes[static_cast<std::size_t>(r) * 3 +
                                                       static_cast<std::size_t>(bit)],
                                           bitpos);
                        }
                    }
                }
            }
        }
    });
    // Active rows per (split, feature, threshold) from the main counts.
    auto active_at = [&](int sp, std::int64_t f, int t) {
        std::uint64_t a = 0;
        for (auto s = static_cast<std::size_t>(counts.threshold_slot[static_cast<std::size_t>(t)]);
             s < d.S;
             ++s) {
            a += counts.active[d.active(sp, static_cast<std::size_t>(f), s)];
        }
        return a;
    };
    // Offsets: one per (shift, contig), uniform in [5 %, 95 %] of the contig, shared by all
    // concepts of a shift.
    std::mt19937_64 rng(config.seed);
    std::vector<std::vector<std::int64_t>> offsets(static_cast<std::size_t>(config.n_shifts));
    for (auto& per : offsets) {
        for (std::int64_t L : g.length) {
            const std::int64_t lo = std::max<std::int64_t>(1, L / 20);
            const std::int64_t hi = std::max<std::int64_t>(lo, L - L / 20);
            per.push_back(std::uniform_int_distribution<std::int64_t>(lo, hi)(rng) %
                          std::max<std::int64_t>(L, 1));
        }
    }
    std::vector<std::int32_t> to_source(concepts.contigs.size(), -1);
    for (std::size_t k = 0; k < prep_map.to_concept_contig.size(); ++k) {
        to_source[static_cast<std::size_t>(prep_map.to_concept_contig[k])] =
            static_cast<std::int32_t>(k);
    }
    parallel_for(d.C, nt, [&](std::size_t c, int) {
        ConceptResult& cr = result.concepts[c];
        const Concept& cc = concepts.concepts[c];
        if (cr.feature < 0 || cand_of[c].empty()) {
            cr.null_scores.assign(static_cast<std::size_t>(config.n_shifts), 0.0);
            cr.p_value = 1.0;
            return;
        }
        std::array<Words, 2> conc;
        for (int cs = 0; cs < 2; ++cs) {
            conc[static_cast<std::size_t>(cs)].assign(g.total_words, 0);
            for (std::size_t kc = 0; kc < concepts.contigs.size(); ++kc) {
                const std::int32_t k = to_source[kc];
                if (k < 0) {
                    continue;
                }
                for (const auto& sp : spans_of(cc, cs, static_cast<std::int32_t>(kc))) {
                    for (std::int64_t p = sp.begin; p < sp.end; ++p) {
                        set_bit(conc[static_cast<std::size_t>(cs)],
                                g.bit(static_cast<std::size_t>(k), p));
                    }
                }
            }
        }
        // Elements on covered contigs.
        std::vector<const ConceptElement*> elements;
        for (const auto& el : cc.elements) {
            if (!el.parts.empty() && el.contig >= 0 &&
                static_cast<std::size_t>(el.contig) < to_source.size() &&
                to_source[static_cast<std::size_t>(el.contig)] >= 0) {
                elements.push_back(&el);
            }
        }
        std::array<Words, 2> rot;
        std::vector<std::array<std::uint8_t, 2>> el_level(elements.size());
        std::vector<std::uint8_t> el_split(elements.size());
        for (int h = 0; h < config.n_shifts; ++h) {
            const auto& shift = offsets[static_cast<std::size_t>(h)];
            for (int cs = 0; cs < 2; ++cs) {
                rotate(g,
                       conc[static_cast<std::size_t>(cs)],
                       shift,
                       rot[static_cast<std::size_t>(cs)]);
            }
            // Positives per split and sense.
            std::array<std::array<std::uint64_t, kNumSenses>, 2> P{};
            for (int sp = 0; sp < 2; ++sp) {
                for (int r = 0; r < 2; ++r) {
                    const auto& m = cov[static_cast<std::size_t>(sp)][static_cast<std::size_t>(r)];
                    const auto& cs = rot[static_cast<std::size_t>(r)];
                    const auto& co = rot[static_cast<std::size_t>(1 - r)];
                    for (std::size_t w = 0; w < g.total_words; ++w) {
                        P[static_cast<std::size_t>(sp)][kSame] +=
                            static_cast<std::uint64_t>(std::popcount(m[w] & cs[w]));
                        P[static_cast<std::size_t>(sp)][kOpposite] +=
                            static_cast<std::uint64_t>(std::popcount(m[w] & co[w]));
                        P[static_cast<std::size_t>(sp)][kPooled] +=
                            static_cast<std::uint64_t>(std::popcount(m[w] & (cs[w] | co[w])));
                    }
                }
            }
            // Shifted elements: split of the shifted first base.
            std::array<std::uint64_t, 2> n_el{0, 0};
            for (std::size_t e = 0; e < elements.size(); ++e) {
                const auto k = static_cast<std::size_t>(
                    to_source[static_cast<std::size_t>(elements[e]->contig)]);
                const std::int64_t L = g.length[k];
                const std::int64_t b0 = (elements[e]->parts.front().begin + shift[k]) % L;
                el_split[e] = static_cast<std::uint8_t>(
                    result.split.split_of(static_cast<std::int32_t>(k), b0));
                n_el[el_split[e]]++;
            }
            auto element_levels = [&](const CandidateBits& cb) {
                for (std::size_t e = 0; e < elements.size(); ++e) {
                    const ConceptElement& el = *elements[e];
                    const auto k =
                        static_cast<std::size_t>(to_source[static_cast<std::size_t>(el.contig)]);
                    const std::int64_t L = g.length[k];
                    std::array<int, 2> lv{0, 0};
                    for (const auto& part : el.parts) {
                        const std::int64_t a = (part.begin + shift[k]) % L;
                        const std::int64_t len = part.end - part.begin;
                        for (int side = 0; side < 2; ++side) {
                            const int r = side == 0 ? el.strand : 1 - el.strand;
                            auto& best = lv[static_cast<std::size_t>(side)];
                            if (best == T) {
                                continue;
                            }
                            if (a + len <= L) {
                                best = std::max(best, max_level(g, cb, r, k, a, a + len, T));
                            } else {
                                best = std::max(best, max_level(g, cb, r, k, a, L, T));
                                best = std::max(best, max_level(g, cb, r, k, 0, a + len - L, T));
                            }
                        }
                    }
                    el_level[e] = {static_cast<std::uint8_t>(lv[0]),
                                   static_cast<std::uint8_t>(lv[1])};
                }
            };
            auto found_at = [&](int sp, int t, int sense) {
                std::uint64_t n = 0;
                for (std::size_t e = 0; e < elements.size(); ++e) {
                    if (el_split[e] != sp) {
                        continue;
                    }
                    const int L = sense == kSame       ? el_level[e][0]
                                  : sense == kOpposite ? el_level[e][1]
                                                       : std::max(el_level[e][0], el_level[e][1]);
                    n += L >= t + 1 ? 1 : 0;
                }
                return n;
            };
            // True positives of one candidate on one split, per threshold and sense.
            auto tp_counts = [&](const CandidateBits& cb, int sp) {
                std::vector<std::array<std::uint64_t, kNumSenses>> tp(static_cast<std::size_t>(T));
                for (int r = 0; r < 2; ++r) {
                    const auto& m = cov[static_cast<std::size_t>(sp)][static_cast<std::size_t>(r)];
                    const auto& cs = rot[static_cast<std::size_t>(r)];
                    const auto& co = rot[static_cast<std::size_t>(1 - r)];
                    const auto& p0 = cb.planes[static_cast<std::size_t>(r) * 3];
                    const auto& p1 = cb.planes[static_cast<std::size_t>(r) * 3 + 1];
                    const auto& p2 = cb.planes[static_cast<std::size_t>(r) * 3 + 2];
                    for (std::size_t w = 0; w < g.total_words; ++w) {
                        const std::uint64_t mm = m[w] & (cs[w] | co[w]);
                        if (mm == 0) {
                            continue;
                        }
                        const std::uint64_t b0 = p0[w] & mm;
                        const std::uint64_t b1 = p1[w] & mm;
                        const std::uint64_t b2 = p2[w] & mm;
                        if ((b0 | b1 | b2) == 0) {
                            continue;
                        }
                        for (int t = 0; t < T; ++t) {
                            const std::uint64_t ge = level_ge(t + 1, b0, b1, b2);
                            auto& out = tp[static_cast<std::size_t>(t)];
                            out[kSame] += static_cast<std::uint64_t>(std::popcount(ge & cs[w]));
                            out[kOpposite] += static_cast<std::uint64_t>(std::popcount(ge & co[w]));
                            out[kPooled] += static_cast<std::uint64_t>(std::popcount(ge));
                        }
                    }
                }
                return tp;
            };
            double best = -1;
            std::int64_t best_f = -1;
            int best_t = 0;
            int best_s = 0;
            for (std::int64_t f : cand_of[c]) {
                const CandidateBits& cb =
                    bits[static_cast<std::size_t>(cand_index[static_cast<std::size_t>(f)])];
                const auto tp = tp_counts(cb, 0);
                if (cr.domain_score) {
                    element_levels(cb);
                }
                for (int t = 0; t < T; ++t) {
                    const std::uint64_t a = active_at(0, f, t);
                    for (int s = 0; s < kNumSenses; ++s) {
                        const Metrics m = make_metrics(
                            tp[static_cast<std::size_t>(t)][static_cast<std::size_t>(s)],
                            a,
                            P[0][static_cast<std::size_t>(s)],
                            counts.rows[0],
                            cr.domain_score ? found_at(0, t, s) : 0,
                            n_el[0]);
                        const double v = score_of(m, cr.domain_score);
                        if (v > best) {
                            best = v;
                            best_f = f;
                            best_t = t;
                            best_s = s;
                        }
                    }
                }
            }
            const CandidateBits& cb =
                bits[static_cast<std::size_t>(cand_index[static_cast<std::size_t>(best_f)])];
            const auto tp = tp_counts(cb, 1);
            if (cr.domain_score) {
                element_levels(cb);
            }
            const Metrics m =
                make_metrics(tp[static_cast<std::size_t>(best_t)][static_cast<std::size_t>(best_s)],
                             active_at(1, best_f, best_t),
                             P[1][static_cast<std::size_t>(best_s)],
                             counts.rows[1],
                             cr.domain_score ? found_at(1, best_t, best_s) : 0,
                             n_el[1]);
            cr.null_scores.push_back(score_of(m, cr.domain_score));
        }
        int n_ge = 0;
        for (double v : cr.null_scores) {
            n_ge += v >= cr.test_score - 1e-12 ? 1 : 0;
        }
        cr.p_value = (1.0 + n_ge) / (1.0 + config.n_shifts);
    });
    std::vector<double> p;
    for (const auto& cr : result.concepts) {
        p.push_back(cr.p_value);
    }
    const auto q = bh_qvalues(p);
    for (std::size_t c = 0; c < d.C; ++c) {
        result.concepts[c].q_value = q[c];
        result.concepts[c].clears_chance = result.concepts[c].feature >= 0 && q[c] <= 0.05;
    }
}

}  // namespace

AlignResult align(const SignalSource& source,
                  const ConceptSet& concepts,
                  const AlignConfig& config) {
    AlignResult result;
    result.split = plan_split(source, concepts, config);
    EVOSCOPE_LOG_INFO("align: {} features of {} x {} concepts; split {}",
                      source.n_features(),
                      source.describe(),
                      concepts.concepts.size(),
                      result.split.describe());
    result.counts = count_alignment(source, concepts, result.split, config);
    const AlignCounts& counts = result.counts;
    result.feature_max = source.feature_max();
    EVOSCOPE_CHECK(counts.rows[0] > 0 && counts.rows[1] > 0,
                   "{}: the {} split is empty ({} validation rows, {} test rows); use a smaller "
                   "split block size",
                   source.describe(),
                   counts.rows[0] == 0 ? "validation" : "test",
                   counts.rows[0],
                   counts.rows[1]);
    const Dims d = dims_of(counts);
    const int T = static_cast<int>(d.T);
    // Selection on validation: best (feature, threshold, sense) by domain F1 (F1 for nucleotide
    // concepts); ties keep the first (lowest feature, threshold, sense).
    std::vector<std::vector<double>> best_val(d.C, std::vector<double>(d.F, 0.0));
    for (std::size_t c = 0; c < d.C; ++c) {
        const Concept& cc = concepts.concepts[c];
        ConceptResult r;
        r.name = cc.name;
        r.category = cc.category;
        for (int s = 0; s < 2; ++s) {
            for (const auto& spans : cc.positive[static_cast<std::size_t>(s)]) {
                for (const auto& sp : spans) {
                    r.n_positive += sp.end - sp.begin;
                }
            }
        }
        r.n_elements = static_cast<std::int64_t>(cc.elements.size());
        r.domain_score = uses_domain_score(cc);
        for (std::size_t f = 0; f < d.F; ++f) {
            for (int t = 0; t < T; ++t) {
                for (int s = 0; s < kNumSenses; ++s) {
                    const Metrics m = metrics_at(counts,
                                                 0,
                                                 static_cast<std::int64_t>(f),
                                                 static_cast<std::int64_t>(c),
                                                 t,
                                                 s);
                    const double v = score_of(m, r.domain_score);
                    best_val[c][f] = std::max(best_val[c][f], v);
                    if (v > r.val_score) {
                        r.val_score = v;
                        r.feature = static_cast<std::int64_t>(f);
                        r.threshold = t;
                        r.sense = s;
                    }
                }
            }
        }
        if (r.feature >= 0) {
            r.test = metrics_at(
                counts, 1, r.feature, static_cast<std::int64_t>(c), r.threshold, r.sense);
            r.test_score = score_of(r.test, r.domain_score);
            std::tie(r.auroc, r.auprc) =
                auc_at(counts, 1, r.feature, static_cast<std::int64_t>(c), r.sense);
        }
        // Trivial predictor (every row positive) on test, for the chosen sense.
        const std::size_t j = static_cast<std::size_t>(r.sense) * d.C + c;
        const double pi =
            static_cast<double>(counts.positive[d.J + j]) / static_cast<double>(counts.rows[1]);
        r.trivial_f1 = pi > 0 ? 2 * pi / (1 + pi) : 0.0;
        if (is_frame_concept(cc)) {
            // Frame alone: "positive where genome coordinate mod 3 == residue", the residue and
            // sense chosen on validation by F1, reported on test.
            double best = -1;
            int best_res = 0;
            int best_sense = 0;
            for (int res = 0; res < 3; ++res) {
                for (int s = 0; s < kNumSenses; ++s) {
                    const std::size_t jj = static_cast<std::size_t>(s) * d.C + c;
                    const Metrics m = make_metrics(
                        counts.frame_positive[static_cast<std::size_t>(res) * d.J + jj],
                        counts.frame_rows[static_cast<std::size_t>(res)],
                        counts.positive[jj],
                        counts.rows[0],
                        0,
                        0);
                    if (m.f1 > best) {
                        best = m.f1;
                        best_res = res;
                        best_sense = s;
                    }
                }
            }
            const std::size_t jj = static_cast<std::size_t>(best_sense) * d.C + c;
            r.frame_baseline =
                make_metrics(
                    counts.frame_positive[(3 + static_cast<std::size_t>(best_res)) * d.J + jj],
                    counts.frame_rows[3 + static_cast<std::size_t>(best_res)],
                    counts.positive[d.J + jj],
                    counts.rows[1],
                    0,
                    0)
                    .f1;
        }
        result.concepts.push_back(std::move(r));
    }
    if (config.n_shifts > 0) {
        run_shifts(source, concepts, config, best_val, result);
    }
    return result;
}

std::vector<double> bh_qvalues(const std::vector<double>& p) {
    const std::size_t n = p.size();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(
        order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
    std::vector<double> q(n, 1.0);
    double running = 1.0;
    for (std::size_t r = n; r-- > 0;) {
        const std::size_t i = order[r];
        running = std::min(running, p[i] * static_cast<double>(n) / static_cast<double>(r + 1));
        q[i] = std::min(1.0, running);
    }
    return q;
}

}  // namespace evoscope::annotate
