#include "pipelines/markov.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "core/strings.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/markov.hpp"
#include "genomics/regions.hpp"

namespace evoscope::pipelines {
namespace {

using genomics::Interval;

/// Bases fetched at a time, so memory stays bounded on large contigs.
constexpr std::int64_t kChunkBp = std::int64_t{1} << 20;

/// A region and the FASTA it comes from.
struct SourcedRegion {
    Interval interval;
    std::size_t fasta = 0;
};

/// The given FASTA files with one name space of contigs.
struct Genomes {
    std::vector<genomics::FastaReader> readers;
    std::vector<std::string> labels;  ///< file names, for the TSV
    std::unique_ptr<genomics::ContigSet> contigs;
    std::map<std::string, std::size_t, std::less<>> fasta_of;
};

Genomes open_genomes(const MarkovOptions& config) {
    Genomes g;
    genomics::FastaOptions options;
    options.index_cache_dir = config.index_cache_dir;
    std::vector<genomics::ContigInfo> all;
    for (std::size_t i = 0; i < config.fasta.size(); ++i) {
        g.readers.emplace_back(config.fasta[i], options);
        g.labels.push_back(std::filesystem::path(config.fasta[i]).filename().string());
        for (const auto& c : g.readers.back().contigs()) {
            const auto [it, inserted] = g.fasta_of.emplace(c.name, i);
            EVOSCOPE_CHECK(
                inserted,
                "contig '{}' is in both {} and {}; give such FASTA files to separate runs",
                c.name,
                config.fasta[it->second],
                config.fasta[i]);
            all.push_back(c);
        }
    }
    g.contigs = std::make_unique<genomics::ContigSet>(std::move(all));
    return g;
}

std::vector<SourcedRegion> read_regions(const Genomes& g,
                                        const std::vector<std::string>& texts,
                                        const std::string& bed) {
    std::vector<Interval> intervals = genomics::parse_regions(texts, *g.contigs);
    if (!bed.empty()) {
        auto from_bed = genomics::read_bed_regions(bed, *g.contigs);
        EVOSCOPE_CHECK(!from_bed.empty(), "regions file '{}' contains no regions", bed);
        intervals.insert(intervals.end(), from_bed.begin(), from_bed.end());
    }
    std::vector<SourcedRegion> out;
    for (auto& iv : intervals) {
        const std::size_t f = g.fasta_of.find(iv.contig)->second;
        out.push_back(SourcedRegion{std::move(iv), f});
    }
    return out;
}

/// Calls fn(piece) on the bases of `iv` in chunks: forward, or last chunk first for a reverse
/// strand (the caller reverse-complements each piece, so the pieces form the reverse strand).
template <typename Fn>
void for_each_chunk(const genomics::FastaReader& fasta, const Interval& iv, bool reverse, Fn&& fn) {
    if (!reverse) {
        for (std::int64_t b = iv.begin; b < iv.end; b += kChunkBp) {
            fn(fasta.fetch(iv.contig, b, std::min(b + kChunkBp, iv.end)));
        }
    } else {
        for (std::int64_t e = iv.end; e > iv.begin; e -= kChunkBp) {
            fn(fasta.fetch(iv.contig, std::max(e - kChunkBp, iv.begin), e));
        }
    }
}

/// Errors (or warns, with --allow-overlap) when an eval region shares a base with a training
/// region of the same contig: held-out figures would be optimistic.
void check_overlap(const std::vector<SourcedRegion>& train,
                   const std::vector<SourcedRegion>& eval,
                   bool allow) {
    std::map<std::string, std::vector<Interval>, std::less<>> by_contig;
    for (const auto& r : train) {
        by_contig[r.interval.contig].push_back(r.interval);
    }
    for (auto& [contig, list] : by_contig) {
        std::sort(list.begin(), list.end(), [](const Interval& a, const Interval& b) {
            return a.begin < b.begin;
        });
    }
    std::int64_t n_overlapping = 0;
    for (const auto& r : eval) {
        const auto it = by_contig.find(r.interval.contig);
        if (it == by_contig.end()) {
            continue;
        }
        // Training regions starting before eval's end; the one reaching furthest decides.
        const auto& list = it->second;
        const auto end = std::lower_bound(
            list.begin(), list.end(), r.interval.end, [](const Interval& a, std::int64_t pos) {
                return a.begin < pos;
            });
        for (auto t = list.begin(); t != end; ++t) {
            if (t->end > r.interval.begin && !t->empty() && !r.interval.empty()) {
                const std::string what = fmt::format("eval region {} overlaps training region {}",
                                                     genomics::format_region_1b(r.interval),
                                                     genomics::format_region_1b(*t));
                EVOSCOPE_CHECK(allow,
                               "{}: held-out bits per base would be optimistic "
                               "(--allow-overlap scores it anyway)",
                               what);
                if (n_overlapping == 0) {
                    EVOSCOPE_LOG_WARN("{} (--allow-overlap: scoring it anyway)", what);
                }
                ++n_overlapping;
                break;
            }
        }
    }
    if (n_overlapping > 1) {
        EVOSCOPE_LOG_WARN("{} eval regions overlap training regions", n_overlapping);
    }
}

std::string group_key(const SourcedRegion& r, const Genomes& g, const std::string& by) {
    if (by == "contig") {
        return r.interval.contig;
    }
    if (by == "region") {
        return genomics::format_region_1b(r.interval);
    }
    return g.labels[r.fasta];
}

std::string format_bpb(double v) {
    return std::isfinite(v) ? fmt::format("{:.6f}", v) : std::string("NA");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<genomics::MarkovSmoothing> parse_smoothings(const std::vector<std::string>& texts) {
    std::vector<genomics::MarkovSmoothing> out;
    auto push = [&out](genomics::MarkovSmoothing s) {
        if (std::find(out.begin(), out.end(), s) == out.end()) {
            out.push_back(s);
        }
    };
    for (const auto& text : texts) {
        for (const auto part : split(text, ',')) {
            if (part == "both" || part == "all") {
                push(genomics::MarkovSmoothing::KneserNey);
                push(genomics::MarkovSmoothing::AddOne);
                continue;
            }
            try {
                push(genomics::parse_markov_smoothing(trim(part)));
            } catch (const InputError& e) {
                throw UsageError(std::string("--smoothing: ") + e.what());
            }
        }
    }
    EVOSCOPE_CHECK_USAGE(!out.empty(), "--smoothing: no smoothing given");
    return out;
}

/// One training set (all regions, or one FASTA's) and the eval regions scored with its model.
struct ModelJob {
    std::string label;
    std::vector<SourcedRegion> train;
    std::vector<SourcedRegion> eval;
};

}  // namespace

std::vector<int> parse_markov_orders(std::string_view spec) {
    std::vector<int> out;
    auto parse_one = [spec](std::string_view text) {
        text = trim(text);
        int v = -1;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        EVOSCOPE_CHECK_USAGE(ec == std::errc() && ptr == text.data() + text.size() && !text.empty(),
                             "--order: invalid order list '{}' (examples: 5, 0-12, 0,2,4-6)",
                             spec);
        EVOSCOPE_CHECK_USAGE(v >= 0 && v <= genomics::kMaxMarkovOrder,
                             "--order: order {} is outside 0..{} (4^(K+1) counts per order)",
                             v,
                             genomics::kMaxMarkovOrder);
        return v;
    };
    for (const auto part : split(spec, ',')) {
        const auto dash = part.find('-', 1);
        if (dash == std::string_view::npos) {
            out.push_back(parse_one(part));
            continue;
        }
        const int lo = parse_one(part.substr(0, dash));
        const int hi = parse_one(part.substr(dash + 1));
        EVOSCOPE_CHECK_USAGE(lo <= hi, "--order: empty range '{}'", part);
        for (int k = lo; k <= hi; ++k) {
            out.push_back(k);
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

MarkovResult run_markov(const MarkovOptions& config) {
    const std::vector<int> orders = parse_markov_orders(config.orders);
    const auto smoothings = parse_smoothings(config.smoothing);
    const bool holdout = config.holdout_fraction > 0;
    const bool explicit_sets = !config.train_regions.empty() || !config.train_bed.empty() ||
                               !config.eval_regions.empty() || !config.eval_bed.empty();
    EVOSCOPE_CHECK_USAGE(
        !(holdout && explicit_sets),
        "--holdout-fraction cannot be combined with --train/--train-bed/--eval/--eval-bed");
    EVOSCOPE_CHECK_USAGE(
        holdout || (config.regions.empty() && config.regions_bed.empty()),
        "-r/-R select regions to split with --holdout-fraction; for explicit sets use "
        "--train/--eval (or --train-bed/--eval-bed)");
    EVOSCOPE_CHECK_USAGE(holdout || explicit_sets,
                         "give --holdout-fraction F, or training and evaluation regions with "
                         "--train/--train-bed and --eval/--eval-bed");
    EVOSCOPE_CHECK_USAGE(config.holdout_fraction < 1,
                         "--holdout-fraction {} is outside (0, 1)",
                         config.holdout_fraction);

    const Genomes genomes = open_genomes(config);
    std::vector<SourcedRegion> train;
    std::vector<SourcedRegion> eval;
    if (holdout) {
        std::vector<SourcedRegion> base = read_regions(genomes, config.regions, config.regions_bed);
        if (base.empty()) {
            for (const auto& iv : genomics::whole_genome(*genomes.contigs)) {
                base.push_back(SourcedRegion{iv, genomes.fasta_of.find(iv.contig)->second});
            }
        }
        for (const auto& r : base) {
            const genomics::HoldoutSplit s =
                genomics::split_holdout(r.interval, config.holdout_fraction);
            if (s.train.empty() || s.eval.empty()) {
                EVOSCOPE_LOG_WARN(
                    "region {} ({} bp) is too short to split with --holdout-fraction {}; "
                    "left out",
                    genomics::format_region_1b(r.interval),
                    r.interval.length(),
                    config.holdout_fraction);
                continue;
            }
            EVOSCOPE_LOG_INFO("{}: train {}, eval {}",
                              genomes.labels[r.fasta],
                              genomics::format_region_1b(s.train),
                              genomics::format_region_1b(s.eval));
            train.push_back(SourcedRegion{s.train, r.fasta});
            eval.push_back(SourcedRegion{s.eval, r.fasta});
        }
    } else {
        train = read_regions(genomes, config.train_regions, config.train_bed);
        eval = read_regions(genomes, config.eval_regions, config.eval_bed);
    }
    EVOSCOPE_CHECK(!train.empty(),
                   "empty training set: no training regions (give --train/--train-bed)");
    EVOSCOPE_CHECK(!eval.empty(), "no evaluation regions (give --eval/--eval-bed)");
    check_overlap(train, eval, config.allow_overlap);

    std::vector<ModelJob> jobs;
    if (config.per_fasta) {
        for (std::size_t f = 0; f < genomes.readers.size(); ++f) {
            ModelJob job{genomes.labels[f], {}, {}};
            for (const auto& r : train) {
                if (r.fasta == f) {
                    job.train.push_back(r);
                }
            }
            for (const auto& r : eval) {
                if (r.fasta == f) {
                    job.eval.push_back(r);
                }
            }
            if (job.eval.empty()) {
                continue;
            }
            EVOSCOPE_CHECK(!job.train.empty(),
                           "empty training set for {} (--per-fasta): it has eval "
                           "regions but no training regions",
                           job.label);
            jobs.push_back(std::move(job));
        }
    } else {
        jobs.push_back(ModelJob{"all", train, eval});
    }

    const int max_order = orders.back();
    const bool kn_used =
        std::find(smoothings.begin(), smoothings.end(), genomics::MarkovSmoothing::KneserNey) !=
        smoothings.end();
    EVOSCOPE_LOG_INFO(
        "orders {}-{}: count tables {:.1f} MB",
        orders.front(),
        max_order,
        static_cast<double>(genomics::markov_memory_bytes(
            max_order,
            kn_used ? genomics::MarkovSmoothing::KneserNey : genomics::MarkovSmoothing::AddOne)) /
            1e6);

    OutputFile out(config.output, config.force);
    out.write("order\tsmoothing\ttrain\teval\tn_bases\tn_skipped\tbits_per_base\n");
    MarkovResult result;
    const bool train_both = config.train_strand == "both";
    std::vector<bool> eval_reverse;
    if (config.eval_strand != "-") {
        eval_reverse.push_back(false);
    }
    if (config.eval_strand != "+") {
        eval_reverse.push_back(true);
    }

    for (const auto& job : jobs) {
        const auto t_train = std::chrono::steady_clock::now();
        genomics::MarkovCounts counts(max_order);
        for (const auto& r : job.train) {
            const auto& fasta = genomes.readers[r.fasta];
            counts.end_segment();
            for_each_chunk(
                fasta, r.interval, false, [&counts](const std::string& s) { counts.add(s); });
            counts.end_segment();
            if (train_both) {
                for_each_chunk(fasta, r.interval, true, [&counts](const std::string& s) {
                    counts.add(s, true);
                });
                counts.end_segment();
            }
        }
        EVOSCOPE_CHECK(counts.n_bases() > 0,
                       "empty training set{}: the {} training region(s) hold no A/C/G/T bases",
                       job.label == "all" ? std::string() : " for " + job.label,
                       job.train.size());
        EVOSCOPE_LOG_INFO(
            "model {}: {} training region(s), {} bases counted ({}), {} non-ACGT skipped, "
            "{:.1f} s",
            job.label,
            job.train.size(),
            counts.n_bases(),
            train_both ? "both strands" : "forward strand",
            counts.n_skipped(),
            seconds_since(t_train));

        // Group eval regions in first-seen order.
        std::vector<std::string> group_names;
        std::vector<std::vector<const SourcedRegion*>> groups;
        for (const auto& r : job.eval) {
            const std::string key = group_key(r, genomes, config.by);
            auto it = std::find(group_names.begin(), group_names.end(), key);
            if (it == group_names.end()) {
                group_names.push_back(key);
                groups.emplace_back();
                it = group_names.end() - 1;
            }
            groups[static_cast<std::size_t>(it - group_names.begin())].push_back(&r);
        }

        for (const auto smoothing : smoothings) {
            const auto t_eval = std::chrono::steady_clock::now();
            const genomics::MarkovModel model(counts, smoothing);
            std::vector<std::vector<genomics::MarkovScore>> group_scores;
            std::vector<genomics::MarkovScore> total(orders.size());
            for (const auto& group : groups) {
                genomics::MarkovScorer scorer(model, orders);
                for (const SourcedRegion* r : group) {
                    const auto& fasta = genomes.readers[r->fasta];
                    for (const bool reverse : eval_reverse) {
                        scorer.end_segment();
                        for_each_chunk(
                            fasta, r->interval, reverse, [&scorer, reverse](const std::string& s) {
                                scorer.add(s, reverse);
                            });
                    }
                }
                for (std::size_t i = 0; i < orders.size(); ++i) {
                    const auto& s = scorer.scores()[i];
                    total[i].order = s.order;
                    total[i].n_bases += s.n_bases;
                    total[i].n_skipped += s.n_skipped;
                    total[i].bits += s.bits;
                }
                group_scores.push_back(scorer.scores());
            }
            const std::string_view smoothing_name = genomics::markov_smoothing_name(smoothing);
            std::string buf;
            for (std::size_t i = 0; i < orders.size(); ++i) {
                for (std::size_t g = 0; g < groups.size(); ++g) {
                    const auto& s = group_scores[g][i];
                    fmt::format_to(std::back_inserter(buf),
                                   "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                                   s.order,
                                   smoothing_name,
                                   job.label,
                                   group_names[g],
                                   s.n_bases,
                                   s.n_skipped,
                                   format_bpb(s.bits_per_base()));
                }
                if (groups.size() > 1) {
                    const auto& s = total[i];
                    fmt::format_to(std::back_inserter(buf),
                                   "{}\t{}\t{}\tall\t{}\t{}\t{}\n",
                                   s.order,
                                   smoothing_name,
                                   job.label,
                                   s.n_bases,
                                   s.n_skipped,
                                   format_bpb(s.bits_per_base()));
                }
            }
            out.write(buf);
            result.n_rows += std::count(buf.begin(), buf.end(), '\n');
            if (total.front().n_bases == 0) {
                EVOSCOPE_LOG_WARN(
                    "model {}: the eval regions hold no A/C/G/T bases (bits per base NA)",
                    job.label);
            }
            EVOSCOPE_LOG_INFO(
                "model {} ({}): {} eval region(s), {} bases scored, {} skipped, {:.1f} s",
                job.label,
                smoothing_name,
                job.eval.size(),
                total.front().n_bases,
                total.front().n_skipped,
                seconds_since(t_eval));
        }
    }
    out.commit();
    return result;
}

}  // namespace evoscope::pipelines
