#include "pipelines/motifs_scan.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"

namespace evoscope::pipelines {

namespace {

using genomics::Interval;
using genomics::MotifHit;

/// Regions sorted in contig order and merged where they overlap or touch (so no base is tested
/// twice).
std::vector<Interval> merge_regions(std::vector<Interval> regions,
                                    const std::vector<genomics::ContigInfo>& contigs) {
    std::map<std::string, std::size_t, std::less<>> order;
    for (std::size_t i = 0; i < contigs.size(); ++i) {
        order.emplace(contigs[i].name, i);
    }
    std::sort(regions.begin(), regions.end(), [&](const Interval& a, const Interval& b) {
        const auto ca = order.at(a.contig);
        const auto cb = order.at(b.contig);
        return ca != cb ? ca < cb : a.begin < b.begin;
    });
    std::vector<Interval> out;
    for (auto& r : regions) {
        r.strand = genomics::Strand::Unknown;
        if (!out.empty() && out.back().contig == r.contig && r.begin <= out.back().end) {
            out.back().end = std::max(out.back().end, r.end);
        } else {
            out.push_back(std::move(r));
        }
    }
    return out;
}

}  // namespace

std::string fimo_tsv_header() {
    return "motif_id\tmotif_alt_id\tsequence_name\tstart\tstop\tstrand\tscore\tp-value\tq-value\t"
           "matched_sequence\n";
}

std::string fimo_tsv_line(const genomics::Motif& motif, const MotifHit& hit) {
    return fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{:.4f}\t{:.3g}\t{:.3g}\t{}\n",
                       motif.id,
                       motif.alt,
                       hit.contig,
                       hit.begin + 1,
                       hit.end,
                       genomics::strand_char(hit.strand),
                       hit.score,
                       hit.pvalue,
                       hit.qvalue,
                       hit.matched);
}

MotifsScanResult run_motifs_scan(const MotifsScanOptions& options) {
    EVOSCOPE_CHECK_USAGE(options.thresh > 0 && options.thresh <= 1,
                         "--thresh must be in (0, 1], got {}",
                         options.thresh);
    EVOSCOPE_CHECK_USAGE(options.max_hits >= 0, "--max-hits must be >= 0");
    EVOSCOPE_CHECK_USAGE(options.pseudocount >= 0, "--pseudocount must be >= 0");
    MotifsScanResult result;
    const auto file = genomics::read_motifs(options.motifs);
    result.motifs = file.motifs;
    genomics::FastaReader fasta(options.fasta);
    const genomics::ContigSet contigs(fasta.contigs());
    std::vector<Interval> regions = genomics::parse_regions(options.regions, contigs);
    if (!options.regions_bed.empty()) {
        auto bed = genomics::read_bed_regions(options.regions_bed, contigs);
        EVOSCOPE_CHECK(!bed.empty(), "regions file '{}' contains no regions", options.regions_bed);
        regions.insert(regions.end(), bed.begin(), bed.end());
    }
    if (regions.empty()) {
        regions = genomics::whole_genome(contigs);
    }
    regions = merge_regions(std::move(regions), fasta.contigs());
    result.n_regions = regions.size();

    // The whole scanned sequence is held in memory (a bacterial genome is a few MB), so the
    // background is known before any motif is prepared.
    std::vector<std::string> sequences;
    std::array<std::int64_t, 4> counts{};
    for (const auto& r : regions) {
        sequences.push_back(fasta.fetch(r.contig, r.begin, r.end));
        genomics::count_bases(sequences.back(), counts);
        result.bases_scanned += r.length();
    }
    result.background = genomics::strand_symmetric_background(counts);
    EVOSCOPE_LOG_INFO(
        "{} motifs ({}) over {} bp in {} region(s); background A {:.3f} C {:.3f} G {:.3f} T "
        "{:.3f} (strand-symmetric)",
        result.motifs.size(),
        genomics::motif_format_name(file.format),
        result.bases_scanned,
        regions.size(),
        result.background[0],
        result.background[1],
        result.background[2],
        result.background[3]);

    const auto t0 = std::chrono::steady_clock::now();
    std::vector<genomics::MotifScanner> scanners;
    scanners.reserve(result.motifs.size());
    for (const auto& m : result.motifs) {
        scanners.emplace_back(m, result.background, options.thresh, options.pseudocount);
    }
    std::vector<std::vector<MotifHit>> per_motif(result.motifs.size());
    result.tests_per_motif.assign(result.motifs.size(), 0);
    result.dropped_per_motif.assign(result.motifs.size(), 0);
    for (std::size_t r = 0; r < regions.size(); ++r) {
        const genomics::EncodedSequence enc(sequences[r]);
        for (std::size_t m = 0; m < scanners.size(); ++m) {
            result.tests_per_motif[m] +=
                scanners[m].scan(enc, regions[r].contig, regions[r].begin, m, per_motif[m]);
        }
    }
    std::map<std::string, std::size_t, std::less<>> contig_order;
    for (std::size_t i = 0; i < fasta.contigs().size(); ++i) {
        contig_order.emplace(fasta.contigs()[i].name, i);
    }
    for (std::size_t m = 0; m < per_motif.size(); ++m) {
        auto& hits = per_motif[m];
        std::sort(hits.begin(), hits.end(), [&](const MotifHit& a, const MotifHit& b) {
            if (a.pvalue != b.pvalue) {
                return a.pvalue < b.pvalue;
            }
            const auto ca = contig_order.at(a.contig);
            const auto cb = contig_order.at(b.contig);
            if (ca != cb) {
                return ca < cb;
            }
            return a.begin != b.begin ? a.begin < b.begin : a.strand < b.strand;
        });
        if (options.max_hits > 0 && static_cast<std::int64_t>(hits.size()) > options.max_hits) {
            result.dropped_per_motif[m] = static_cast<std::int64_t>(hits.size()) - options.max_hits;
            hits.resize(static_cast<std::size_t>(options.max_hits));
        }
        genomics::benjamini_hochberg(hits, result.tests_per_motif[m]);
        result.hits.insert(result.hits.end(), hits.begin(), hits.end());
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::int64_t dropped = 0;
    for (auto d : result.dropped_per_motif) {
        dropped += d;
    }
    if (dropped > 0) {
        EVOSCOPE_LOG_WARN(
            "{} hits beyond --max-hits {} per motif were dropped (the least significant); "
            "q-values of the rest are upper bounds",
            dropped,
            options.max_hits);
    }

    if (options.output.empty()) {
        return result;  // in-process callers (align --motifs) take the hits from the result
    }
    OutputFile out(options.output, options.force);
    std::string text;
    if (options.bed) {
        // BED6: name = motif id, score = round(-10 log10 p) capped at 1000, strand.
        std::vector<const MotifHit*> order;
        for (const auto& h : result.hits) {
            order.push_back(&h);
        }
        std::stable_sort(order.begin(), order.end(), [&](const MotifHit* a, const MotifHit* b) {
            const auto ca = contig_order.at(a->contig);
            const auto cb = contig_order.at(b->contig);
            if (ca != cb) {
                return ca < cb;
            }
            return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
        });
        for (const auto* h : order) {
            const double phred = -10.0 * std::log10(std::max(h->pvalue, 1e-300));
            text += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\n",
                                h->contig,
                                h->begin,
                                h->end,
                                result.motifs[h->motif].id,
                                static_cast<int>(std::lround(std::min(phred, 1000.0))),
                                genomics::strand_char(h->strand));
            if (text.size() > (1U << 20)) {
                out.write(text);
                text.clear();
            }
        }
    } else {
        text = fimo_tsv_header();
        for (const auto& h : result.hits) {
            text += fimo_tsv_line(result.motifs[h.motif], h);
            if (text.size() > (1U << 20)) {
                out.write(text);
                text.clear();
            }
        }
    }
    out.write(text);
    out.commit();
    const double mb_motifs = static_cast<double>(result.bases_scanned) * 1e-6 *
                             static_cast<double>(result.motifs.size());
    EVOSCOPE_LOG_INFO("{} hits at p <= {:g}; scanning took {:.2f} s ({:.1f} Mb x motif / s)",
                      result.hits.size(),
                      options.thresh,
                      result.seconds,
                      result.seconds > 0 ? mb_motifs / result.seconds : 0.0);
    return result;
}

}  // namespace evoscope::pipelines
