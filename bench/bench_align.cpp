// Concept alignment throughput and memory on a synthetic SAE feature source over the E. coli 536
// genome length, against the plain dense reference on a small case.
//
//   build/release/bench/evoscope_bench_align [--length BP] [--d-sae N] [--k N] [--shifts N]
//                                            [--threads N] [--store-dir DIR]
//
// The synthetic source generates each block's CSR rows on the fly from a seeded hash (k
// features per position, ids from a Zipf-like law so that a few features are dense, as in
// trained SAEs, values exponential), so the figures are alignment's own cost without zlib
// inflation (a real store adds its chunk inflation, measured separately by the store tests).
// Concepts: gene/CDS over ~88 % of each strand in ~1 kb genes, codon_pos_1..3 (one span per
// base), start/stop codons, RBS-like windows, and random-ish span concepts of 10-300 bp up to
// 40 in all. Runs at half and full length (linearity), printing wall time of the counting pass,
// of the chance bound, and peak RSS after each.
//
// With --store-dir DIR it also measures the user's path end to end: the same synthetic rows are
// written into real feature stores (zlib chunks, manifest) on the E. coli 536 contig, covering
// the first half and the whole genome, and `evoscope align --features STORE -a
// data/genomes/ecoli536.predicted.gff3 -f data/genomes/ecoli536.fa` runs on each as a child
// process (its concepts come from the real annotation), with 0 and 100 shifts; wall time and
// the child's peak RSS are printed. DIR is created and left in place (about 1.3 GB per store).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "annotate/align.hpp"
#include "core/run_info.hpp"
#include "store/feature_store.hpp"

extern char** environ;

using namespace evoscope;
using namespace evoscope::annotate;

namespace {

std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

class SyntheticSource final : public SignalSource {
public:
    SyntheticSource(std::int64_t length,
                    std::int64_t d_sae,
                    int k,
                    std::int64_t block = 4096,
                    const std::string& contig = "chr")
        : d_(d_sae), k_(k) {
        contigs_ = {{contig, length}};
        for (std::int64_t b = 0; b < length; b += block) {
            blocks_.push_back({0, b, std::min(length, b + block)});
        }
        max_.assign(static_cast<std::size_t>(d_sae), 8.0f);
    }

    std::int64_t n_features() const override { return d_; }

    std::string feature_name(std::int64_t f) const override { return fmt::format("f/{}", f); }

    const std::vector<genomics::ContigInfo>& contigs() const override { return contigs_; }

    const std::vector<float>& feature_max() const override { return max_; }

    const std::vector<SignalBlock>& blocks() const override { return blocks_; }

    void read(std::size_t index, BlockRows& out) const override {
        const auto& b = blocks_[index];
        for (int s = 0; s < 2; ++s) {
            auto& r = out.rows[static_cast<std::size_t>(s)];
            r.begin = b.begin;
            r.end = b.end;
            const auto n = static_cast<std::size_t>(b.end - b.begin);
            r.row_ptr.assign(n + 1, 0);
            r.covered.assign(n, 1);
            r.ids.clear();
            r.values.clear();
            std::vector<std::uint32_t> row;
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint64_t seed = mix((static_cast<std::uint64_t>(b.begin) + i) * 2 +
                                               static_cast<std::uint64_t>(s));
                row.clear();
                std::uint64_t h = seed;
                while (static_cast<int>(row.size()) < k_) {
                    h = mix(h + 0x9e3779b97f4a7c15ULL);
                    // Zipf-like ids: u^3 concentrates mass on low ids.
                    const double u = static_cast<double>(h >> 11) / 9007199254740992.0;
                    const auto id = static_cast<std::uint32_t>(u * u * u * static_cast<double>(d_));
                    if (std::find(row.begin(), row.end(), id) == row.end()) {
                        row.push_back(id);
                    }
                }
                std::sort(row.begin(), row.end());
                for (auto id : row) {
                    h = mix(h + id);
                    const double u = (static_cast<double>(h >> 11) + 1) / 9007199254740993.0;
                    r.ids.push_back(id);
                    r.values.push_back(std::min(8.0f, static_cast<float>(-std::log(u))));
                }
                r.row_ptr[i + 1] = static_cast<std::int64_t>(r.ids.size());
            }
        }
    }

    std::string describe() const override { return "synthetic source"; }

private:
    std::int64_t d_;
    int k_;
    std::vector<genomics::ContigInfo> contigs_;
    std::vector<float> max_;
    std::vector<SignalBlock> blocks_;
};

Concept make_concept(const std::string& name, const std::string& category) {
    Concept c;
    c.name = name;
    c.category = category;
    for (auto& per : c.positive) {
        per.resize(1);
    }
    return c;
}

void add_span(Concept& c, int strand, Span s, bool element) {
    c.positive[static_cast<std::size_t>(strand)][0].push_back(s);
    if (element) {
        c.elements.push_back({0, static_cast<std::uint8_t>(strand), {s}, {}});
    }
}

ConceptSet make_concepts(std::int64_t length, int n_concepts, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    ConceptSet set;
    set.contigs = {{"chr", length}};
    Concept gene = make_concept("gene", "gene_structure");
    Concept cds = make_concept("CDS", "gene_structure");
    std::array<Concept, 3> codon{make_concept("codon_pos_1", "gene_structure"),
                                 make_concept("codon_pos_2", "gene_structure"),
                                 make_concept("codon_pos_3", "gene_structure")};
    Concept start = make_concept("start_codon", "gene_structure");
    Concept stop = make_concept("stop_codon", "gene_structure");
    Concept rbs = make_concept("RBS", "regulatory");
    // Genes of 300-2000 bp separated by 0-250 bp, random strand (E. coli: ~88 % coding).
    std::int64_t p = 100;
    std::uniform_int_distribution<std::int64_t> glen(100, 667);
    std::uniform_int_distribution<std::int64_t> gap(0, 250);
    while (true) {
        const std::int64_t len = glen(rng) * 3;
        if (p + len + 30 >= length) {
            break;
        }
        const int s = static_cast<int>(rng() & 1);
        add_span(gene, s, {p, p + len}, true);
        add_span(cds, s, {p, p + len}, true);
        for (std::int64_t q = p; q < p + len; ++q) {
            const auto frame = s == 0 ? (q - p) % 3 : (p + len - 1 - q) % 3;
            add_span(codon[static_cast<std::size_t>(frame)], s, {q, q + 1}, false);
        }
        const Span st = s == 0 ? Span{p, p + 3} : Span{p + len - 3, p + len};
        const Span sp = s == 0 ? Span{p + len - 3, p + len} : Span{p, p + 3};
        add_span(start, s, st, true);
        add_span(stop, s, sp, true);
        if (s == 0 && p >= 20) {
            add_span(rbs, s, {p - 20, p - 4}, true);
        } else if (s == 1 && p + len + 20 < length) {
            add_span(rbs, s, {p + len + 4, p + len + 20}, true);
        }
        p += len + gap(rng);
    }
    for (auto* c : {&gene, &cds, &codon[0], &codon[1], &codon[2], &start, &stop, &rbs}) {
        set.concepts.push_back(std::move(*c));
    }
    // Random-ish span concepts up to n_concepts: 200-3000 spans of 10-300 bp.
    while (static_cast<int>(set.concepts.size()) < n_concepts) {
        Concept c = make_concept(fmt::format("region_{}", set.concepts.size()), "generic");
        const auto n = std::uniform_int_distribution<std::int64_t>(200, 3000)(rng);
        const auto span_len = std::uniform_int_distribution<std::int64_t>(10, 300)(rng);
        const std::int64_t step = length / n;
        for (std::int64_t i = 0; i < n; ++i) {
            const std::int64_t b =
                i * step +
                static_cast<std::int64_t>(
                    rng() % static_cast<std::uint64_t>(std::max<std::int64_t>(1, step - span_len)));
            add_span(c, static_cast<int>(rng() & 1), {b, std::min(length, b + span_len)}, true);
        }
        set.concepts.push_back(std::move(c));
    }
    // Spans sorted and disjoint per strand (codon spans of one strand may touch: merge them).
    for (auto& c : set.concepts) {
        for (auto& per : c.positive) {
            auto& v = per[0];
            std::sort(
                v.begin(), v.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
            std::vector<Span> merged;
            for (const auto& s : v) {
                if (!merged.empty() && s.begin <= merged.back().end) {
                    merged.back().end = std::max(merged.back().end, s.end);
                } else {
                    merged.push_back(s);
                }
            }
            v = std::move(merged);
        }
    }
    return set;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct ChildRun {
    double seconds = 0;
    double peak_rss_mb = 0;
    int exit_code = -1;
};

/// Runs argv under /usr/bin/time with stdout and stderr to `log`, waiting for it: wall time and
/// the child's own peak RSS. (wait4's ru_maxrss of a child spawned by this process would start
/// from this process's RSS: Linux carries the old address space's high-water mark across
/// exec. GNU time, a small process, forks the command itself, so its %M is the command's.)
ChildRun run_child(const std::vector<std::string>& command, const std::string& log) {
    std::vector<std::string> argv = {"/usr/bin/time", "-f", "EVOSCOPE_MAXRSS_KB %M"};
    argv.insert(argv.end(), command.begin(), command.end());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ChildRun result;
    const auto t0 = std::chrono::steady_clock::now();
    pid_t pid = 0;
    if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) == 0) {
        int status = 0;
        waitpid(pid, &status, 0);
        result.seconds = seconds_since(t0);
        result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("EVOSCOPE_MAXRSS_KB ", 0) == 0) {
            result.peak_rss_mb = std::stod(line.substr(19)) / 1024.0;
        }
    }
    return result;
}

/// Writes the synthetic rows of [0, covered) of `contig` (of length `length`) into a real store.
void write_store(const std::filesystem::path& dir,
                 const std::string& contig,
                 std::int64_t length,
                 std::int64_t covered,
                 std::int64_t d_sae,
                 int k) {
    const SyntheticSource source(covered, d_sae, k, sae::kDefaultChunkPositions, contig);
    sae::FeatureStoreHeader header;
    header.d_sae = d_sae;
    header.sae_path = "synthetic";
    header.site = "synthetic";
    header.window_bp = 8192;
    header.stride_bp = 4096;
    header.contigs = {{contig, length}};
    sae::FeatureStoreWriter writer(dir, header, sae::kDefaultChunkPositions, true);
    BlockRows rows;
    for (std::size_t b = 0; b < source.blocks().size(); ++b) {
        source.read(b, rows);
        for (int s = 0; s < 2; ++s) {
            const auto& r = rows.rows[static_cast<std::size_t>(s)];
            writer.append(contig, r.begin, r.end, s == 0 ? '+' : '-', r.row_ptr, r.ids, r.values);
        }
    }
    writer.commit();
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t length = 4938920;  // E. coli 536 (NC_008253)
    std::int64_t d_sae = 4096;
    int k = 32;
    int shifts = 100;
    int threads = 2;
    int n_concepts = 40;
    std::string store_dir;
    bool synthetic = true;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--store-dir") {
            store_dir = argv[i + 1];
            continue;
        }
        const std::int64_t v = std::stoll(argv[i + 1]);
        if (a == "--length") {
            length = v;
        } else if (a == "--d-sae") {
            d_sae = v;
        } else if (a == "--k") {
            k = static_cast<int>(v);
        } else if (a == "--shifts") {
            shifts = static_cast<int>(v);
        } else if (a == "--threads") {
            threads = static_cast<int>(v);
        } else if (a == "--synthetic") {
            synthetic = v != 0;
        } else if (a == "--concepts") {
            n_concepts = static_cast<int>(v);
        }
    }
    // Small case: fast path vs the plain dense reference (same counts, time ratio).
    if (synthetic) {
        SyntheticSource small(20000, 256, 16);
        const ConceptSet concepts = make_concepts(20000, 10, 1);
        AlignConfig config;
        config.threads = 1;
        config.split_block_bp = 2000;
        const SplitPlan split = plan_split(small, concepts, config);
        auto t0 = std::chrono::steady_clock::now();
        const AlignCounts fast = count_alignment(small, concepts, split, config);
        const double t_fast = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        const AlignCounts ref = count_alignment_reference(small, concepts, split, config);
        const double t_ref = seconds_since(t0);
        const bool same = fast.tp == ref.tp && fast.active == ref.active &&
                          fast.element_hits == ref.element_hits && fast.positive == ref.positive;
        fmt::print(
            "small case (20 kb x 2 strands, d_sae 256, k 16, 10 concepts, 1 thread): "
            "streaming {:.3f} s, dense reference {:.3f} s ({:.0f}x), counts identical: {}\n",
            t_fast,
            t_ref,
            t_ref / std::max(1e-9, t_fast),
            same ? "yes" : "NO");
    }
    for (const std::int64_t len : {length / 2, length}) {
        if (!synthetic) {
            break;
        }
        SyntheticSource source(len, d_sae, k);
        const ConceptSet concepts = make_concepts(len, n_concepts, 2);
        AlignConfig config;
        config.threads = threads;
        config.n_shifts = 0;
        auto t0 = std::chrono::steady_clock::now();
        const AlignResult r = align(source, concepts, config);
        const double t_count = seconds_since(t0);
        const double rss_count = static_cast<double>(peak_rss_bytes()) / (1 << 20);
        config.n_shifts = shifts;
        t0 = std::chrono::steady_clock::now();
        const AlignResult r2 = align(source, concepts, config);
        const double t_all = seconds_since(t0);
        fmt::print(
            "{} bp x 2 strands ({:.1f} M rows), d_sae {}, k {}, {} concepts x {} "
            "thresholds, {} threads: counting + selection {:.1f} s (peak RSS {:.0f} MiB); "
            "with {} shifts {:.1f} s ({} candidate features; peak RSS {:.0f} MiB)\n",
            len,
            2.0 * static_cast<double>(len) / 1e6,
            d_sae,
            k,
            concepts.concepts.size(),
            config.thresholds.size(),
            threads,
            t_count,
            rss_count,
            shifts,
            t_all,
            r2.shift_candidates.size(),
            static_cast<double>(peak_rss_bytes()) / (1 << 20));
        (void)r;
    }
    if (!store_dir.empty()) {
        // The user's path: real stores on the E. coli 536 contig, `evoscope align` on the real
        // annotation (concepts from the prodigal GFF3: CDS, codon positions, RBS, ...).
        const std::string contig = "NC_008253.1";
        const std::int64_t genome = 4938920;
        const std::filesystem::path root(store_dir);
        std::filesystem::create_directories(root);
        for (const std::int64_t covered : {genome / 2, genome}) {
            const auto store = root / fmt::format("store_{}", covered);
            auto t0 = std::chrono::steady_clock::now();
            // A store from an earlier run of this benchmark (same rows: seeded) is reused.
            if (!std::filesystem::exists(store / "manifest.json")) {
                write_store(store, contig, genome, covered, d_sae, k);
            }
            const double t_write = seconds_since(t0);
            std::uintmax_t bytes = 0;
            for (const auto& e : std::filesystem::directory_iterator(store)) {
                bytes += e.is_regular_file() ? e.file_size() : 0;
            }
            for (const int n_shifts : {0, shifts}) {
                const auto out = root / fmt::format("align_{}_{}", covered, n_shifts);
                const ChildRun run =
                    run_child({EVOSCOPE_BIN,
                               "align",
                               "--features",
                               store.string(),
                               "-a",
                               std::string(EVOSCOPE_DATA_DIR) + "/genomes/ecoli536.predicted.gff3",
                               "-f",
                               std::string(EVOSCOPE_DATA_DIR) + "/genomes/ecoli536.fa",
                               "--threads",
                               std::to_string(threads),
                               "--shifts",
                               std::to_string(n_shifts),
                               "--force",
                               "-o",
                               out.string()},
                              (root / fmt::format("align_{}_{}.log", covered, n_shifts)).string());
                fmt::print(
                    "real store, E. coli 536 {} bp x 2 strands covered ({:.1f} M rows; store "
                    "{:.0f} MiB, written in {:.1f} s), d_sae {}, k {}, `evoscope align` on the "
                    "prodigal annotation, {} shifts, {} threads: {:.1f} s, peak RSS {:.0f} MiB{}\n",
                    covered,
                    2.0 * static_cast<double>(covered) / 1e6,
                    static_cast<double>(bytes) / (1 << 20),
                    t_write,
                    d_sae,
                    k,
                    n_shifts,
                    threads,
                    run.seconds,
                    run.peak_rss_mb,
                    run.exit_code == 0 ? "" : fmt::format(" (FAILED, exit {})", run.exit_code));
            }
        }
    }
    return 0;
}
