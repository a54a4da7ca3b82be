#include "annotate/motif_concepts.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace evoscope::annotate {

std::vector<MotifIntervals> motif_hit_intervals(const std::vector<genomics::Motif>& motifs,
                                                const std::vector<genomics::MotifHit>& hits,
                                                double pvalue_threshold) {
    std::vector<MotifIntervals> per_motif(motifs.size());
    for (const auto& hit : hits) {
        if (hit.motif >= motifs.size()) {
            throw InternalError(
                fmt::format("motif hit names motif {} of {}", hit.motif, motifs.size()));
        }
        auto& group = per_motif[hit.motif];
        group.intervals.push_back(genomics::Interval{hit.contig, hit.begin, hit.end, hit.strand});
        group.labels.push_back(
            fmt::format("{} {} p={:.3g}", motifs[hit.motif].id, hit.matched, hit.pvalue));
    }
    std::vector<MotifIntervals> out;
    for (std::size_t m = 0; m < motifs.size(); ++m) {
        auto& group = per_motif[m];
        if (group.intervals.empty()) {
            continue;
        }
        const auto& motif = motifs[m];
        group.concept_name = "motif:" + motif.id;
        group.description = fmt::format("motif {}{}{}: {} hits at p <= {:g} (motifs scan)",
                                        motif.id,
                                        motif.alt.empty() ? "" : " ",
                                        motif.alt,
                                        group.intervals.size(),
                                        pvalue_threshold);
        out.push_back(std::move(group));
    }
    return out;
}

}  // namespace evoscope::annotate
