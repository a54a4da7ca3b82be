#include "pipelines/motifs_discover.hpp"

#include <array>
#include <filesystem>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/motif_scan.hpp"
#include "genomics/sequence.hpp"
#include "store/feature_store.hpp"

namespace evoscope::pipelines {

MotifsDiscoverResult run_motifs_discover(const MotifsDiscoverOptions& options) {
    EVOSCOPE_CHECK_USAGE(options.feature >= 0, "--feature is required (a feature id >= 0)");
    EVOSCOPE_CHECK_USAGE(options.width >= 4 && options.width <= 40,
                         "--width must be in [4, 40], got {}",
                         options.width);
    EVOSCOPE_CHECK_USAGE(options.slack >= 0, "--slack must be >= 0");
    EVOSCOPE_CHECK_USAGE(options.n_peaks >= 2, "--n-peaks must be >= 2");
    EVOSCOPE_CHECK_USAGE(options.min_fraction > 0 && options.min_fraction <= 1,
                         "--min-fraction must be in (0, 1]");
    EVOSCOPE_CHECK_USAGE(!options.output_dir.empty(), "an output folder (-o) is required");
    const std::filesystem::path dir(options.output_dir);
    const std::vector<std::string> names = {"motif.meme", "logo.svg", "tomtom.tsv", "peaks.bed"};
    for (const auto& n : names) {
        EVOSCOPE_CHECK(options.force || !std::filesystem::exists(dir / n),
                       "{} exists (use --force to replace it)",
                       (dir / n).string());
    }

    MotifsDiscoverResult result;
    const sae::FeatureStore store(options.features);
    genomics::FastaReader fasta(options.fasta);
    if (!options.motifs.empty()) {
        result.database = genomics::read_motifs(options.motifs).motifs;
    }
    for (const auto& c : store.contigs()) {
        const auto len = fasta.contig_length(c.name);
        EVOSCOPE_CHECK(len.has_value() && *len == c.length,
                       "contig '{}' ({} bp) of the feature store is not in {} with that length",
                       c.name,
                       c.length,
                       options.fasta);
    }

    annotate::FeaturePeakOptions peak_options;
    peak_options.min_fraction = options.min_fraction;
    peak_options.max_peaks = options.n_peaks;
    peak_options.min_distance = options.width;  // seqlet cores do not overlap
    const auto feature = static_cast<std::uint32_t>(options.feature);
    const auto peaks = annotate::feature_peaks(store, feature, peak_options);

    // Seqlets centred on the peaks, in the orientation of the peak's row.
    const std::int64_t span = options.width + 2 * options.slack;
    std::array<std::int64_t, 4> counts{};
    for (const auto& p : peaks) {
        const std::int64_t begin = p.position - span / 2;
        const std::int64_t end = begin + span;
        const auto len = *fasta.contig_length(p.contig);
        if (begin < 0 || end > len) {
            continue;  // too close to a contig end
        }
        std::string s = fasta.fetch(p.contig, begin, end);
        genomics::to_upper_in_place(s);
        if (p.strand == '-') {
            genomics::reverse_complement_in_place(s);
        }
        genomics::count_bases(s, counts);
        result.peaks.push_back(p);
        result.seqlets.push_back(std::move(s));
    }
    EVOSCOPE_CHECK(result.seqlets.size() >= 2,
                   "feature {} has {} usable peak(s) at >= {:g} of its maximum; need at least 2",
                   options.feature,
                   result.seqlets.size(),
                   options.min_fraction);
    // Background: the seqlets' composition, strand-symmetric (the seqlets are what EM models).
    const auto background = genomics::strand_symmetric_background(counts);

    std::vector<std::string> cores;
    for (const auto& s : result.seqlets) {
        cores.push_back(s.substr(static_cast<std::size_t>(options.slack),
                                 static_cast<std::size_t>(options.width)));
    }
    const std::string id = fmt::format("feature_{}", options.feature);
    result.initial = genomics::count_matrix(cores, id);
    result.initial.alt = fmt::format("{}_peaks", result.seqlets.size());
    genomics::OopsOptions oops;
    oops.width = static_cast<std::size_t>(options.width);
    oops.iterations = options.em_iterations;
    const auto refined = genomics::refine_oops(result.seqlets, result.initial, background, oops);
    result.refined = refined.motif;
    result.em_iterations = refined.iterations;
    result.motif = genomics::trim_motif(result.refined, options.min_ic);
    EVOSCOPE_LOG_INFO("feature {}: {} peaks, EM {} iterations, motif {} ({} bp after trimming)",
                      options.feature,
                      result.seqlets.size(),
                      result.em_iterations,
                      genomics::consensus(result.motif.probabilities()),
                      result.motif.width());

    create_output_dir(dir);
    write_file_atomic(dir / "motif.meme", genomics::format_meme({result.motif}, background));
    write_file_atomic(dir / "logo.svg", genomics::logo_svg(result.motif));
    std::string bed;
    for (const auto& p : result.peaks) {
        bed += fmt::format("{}\t{}\t{}\t{}\t{:g}\t{}\n",
                           p.contig,
                           p.position,
                           p.position + 1,
                           id,
                           p.value,
                           p.strand);
    }
    write_file_atomic(dir / "peaks.bed", bed);
    std::string tsv = genomics::tomtom_tsv_header();
    if (!result.database.empty()) {
        genomics::TomtomOptions tt;
        tt.min_overlap = static_cast<std::size_t>(std::max<std::int64_t>(options.min_overlap, 1));
        result.matches = genomics::tomtom(result.motif, result.database, tt);
        for (const auto& m : result.matches) {
            if (m.qvalue <= options.match_thresh) {
                tsv += genomics::tomtom_tsv_line(result.motif, result.database, m);
            }
        }
        if (!result.matches.empty()) {
            const auto& best = result.matches.front();
            EVOSCOPE_LOG_INFO("best match {} {} (p = {:.3g}, q = {:.3g}, orientation {})",
                              result.database[best.target].id,
                              result.database[best.target].alt,
                              best.pvalue,
                              best.qvalue,
                              best.reverse ? '-' : '+');
        }
    }
    write_file_atomic(dir / "tomtom.tsv", tsv);
    return result;
}

}  // namespace evoscope::pipelines
