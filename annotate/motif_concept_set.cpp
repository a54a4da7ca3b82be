// add_motif_concepts() lives apart from motif_hit_intervals() so that code using only the
// conversion does not pull add_interval_concept() (annotate/concepts.cpp) into its link.
#include "annotate/motif_concepts.hpp"

namespace evoscope::annotate {

std::size_t add_motif_concepts(ConceptSet& set,
                               const std::vector<genomics::Motif>& motifs,
                               const std::vector<genomics::MotifHit>& hits,
                               double pvalue_threshold) {
    const auto groups = motif_hit_intervals(motifs, hits, pvalue_threshold);
    for (const auto& g : groups) {
        add_interval_concept(set, g.concept_name, "motif", g.description, g.intervals, g.labels);
    }
    normalise(set);
    return groups.size();
}

}  // namespace evoscope::annotate
