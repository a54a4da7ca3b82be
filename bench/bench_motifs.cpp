// Motif scanning throughput: the filtered scan of `motifs scan` (k-mer table + lookahead, only
// hits get a p-value) against a plain scan that scores every window in full, on the same motifs
// and sequence. Checks that both find the same hits.
//
//   build/release/bench/evoscope_bench_motifs [FASTA] [MOTIFS] [--thresh P] [--plain-motifs N]
//
// Prints, per method, seconds and Mb x motifs per second (both strands), and the speed-up. The
// plain scan runs on the first N motifs only (default 20) to keep it short; the figures are per
// motif, so they compare directly.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/strings.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/motif_scan.hpp"
#include "genomics/motifs.hpp"

namespace g = evoscope::genomics;

int main(int argc, char** argv) {
    std::string fasta_path = std::string(EVOSCOPE_DATA_DIR) + "/genomes/ecoli536.fa";
    std::string motif_path = std::string(EVOSCOPE_DATA_DIR) + "/motifs/jaspar_vertebrates.pfm";
    double thresh = 1e-4;
    std::size_t plain_motifs = 20;
    int positional = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--thresh" && i + 1 < argc) {
            thresh = std::stod(argv[++i]);
        } else if (a == "--plain-motifs" && i + 1 < argc) {
            plain_motifs = static_cast<std::size_t>(std::stoul(argv[++i]));
        } else if (positional++ == 0) {
            fasta_path = a;
        } else {
            motif_path = a;
        }
    }
    g::FastaReader fasta(fasta_path);
    std::vector<std::string> seqs;
    std::array<std::int64_t, 4> counts{};
    double mb = 0;
    for (const auto& c : fasta.contigs()) {
        seqs.push_back(fasta.fetch(c.name, 0, c.length));
        g::count_bases(seqs.back(), counts);
        mb += static_cast<double>(c.length) * 1e-6;
    }
    const auto bg = g::strand_symmetric_background(counts);
    const auto motifs = g::read_motifs(motif_path).motifs;
    using clock = std::chrono::steady_clock;

    auto t0 = clock::now();
    std::vector<g::MotifScanner> scanners;
    for (const auto& m : motifs) {
        scanners.emplace_back(m, bg, thresh);
    }
    const double prep = std::chrono::duration<double>(clock::now() - t0).count();

    std::vector<std::size_t> fast_hits(motifs.size(), 0);
    t0 = clock::now();
    for (std::size_t s = 0; s < seqs.size(); ++s) {
        const g::EncodedSequence enc(seqs[s]);
        for (std::size_t m = 0; m < scanners.size(); ++m) {
            std::vector<g::MotifHit> hits;
            scanners[m].scan(enc, fasta.contigs()[s].name, 0, m, hits);
            fast_hits[m] += hits.size();
        }
    }
    const double fast = std::chrono::duration<double>(clock::now() - t0).count();

    const std::size_t n_plain = std::min(plain_motifs, motifs.size());
    bool same = true;
    t0 = clock::now();
    for (std::size_t s = 0; s < seqs.size(); ++s) {
        const g::EncodedSequence enc(seqs[s]);
        for (std::size_t m = 0; m < n_plain; ++m) {
            std::vector<g::MotifHit> hits;
            scanners[m].scan_plain(enc, fasta.contigs()[s].name, 0, m, hits);
            same = same && hits.size() == fast_hits[m];
        }
    }
    const double plain = std::chrono::duration<double>(clock::now() - t0).count();
    std::size_t total = 0;
    for (auto h : fast_hits) {
        total += h;
    }
    const double fast_rate = mb * static_cast<double>(motifs.size()) / fast;
    const double plain_rate = mb * static_cast<double>(n_plain) / plain;
    fmt::print("sequence {} ({:.3f} Mb), {} motifs, p <= {:g}, both strands\n",
               fasta_path,
               mb,
               motifs.size(),
               thresh);
    fmt::print("thresholds (DP)   {:.3f} s for {} motifs\n", prep, motifs.size());
    fmt::print(
        "filtered scan     {:.2f} s  {:.1f} Mb x motif / s  ({} hits)\n", fast, fast_rate, total);
    fmt::print("plain scan        {:.2f} s  {:.1f} Mb x motif / s  (first {} motifs)\n",
               plain,
               plain_rate,
               n_plain);
    fmt::print("speed-up          {:.1f}x; same hit counts: {}\n",
               fast_rate / plain_rate,
               same ? "yes" : "NO");
    return same ? 0 : 1;
}
