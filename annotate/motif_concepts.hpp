/// @file
/// Motif hits (genomics/motif_scan.hpp) as concepts: one concept "motif:<id>" per motif, in
/// category "motif", each hit one stranded element labelled with the motif id, the matched
/// sequence and its p-value. The conversion to intervals is separate from adding them to a
/// ConceptSet, so it can be used (and tested) on its own.
#pragma once

#include <string>
#include <vector>

#include "annotate/concepts.hpp"
#include "genomics/interval.hpp"
#include "genomics/motif_scan.hpp"
#include "genomics/motifs.hpp"

namespace evoscope::annotate {

/// The hits of one motif as intervals (0-based half-open, the hit's strand) and their labels.
struct MotifIntervals {
    std::string concept_name;  ///< "motif:" + id
    std::string description;   ///< "motif MA0004.1 Arnt: 12 hits at p <= 0.0001 (scan)"
    std::vector<genomics::Interval> intervals;
    std::vector<std::string> labels;  ///< "MA0004.1 CACGTG p=1.2e-05", one per interval
};

/// Groups `hits` by motif (index into `motifs`), in motif order; hits keep their order within a
/// motif. Motifs without hits are left out. `pvalue_threshold` goes into the description only.
/// @throws InternalError for a hit whose motif index is out of range.
std::vector<MotifIntervals> motif_hit_intervals(const std::vector<genomics::Motif>& motifs,
                                                const std::vector<genomics::MotifHit>& hits,
                                                double pvalue_threshold);

/// Adds one concept per motif with hits (add_interval_concept with category "motif"), then
/// normalises the set. Returns the number of concepts added or extended.
std::size_t add_motif_concepts(ConceptSet& set,
                               const std::vector<genomics::Motif>& motifs,
                               const std::vector<genomics::MotifHit>& hits,
                               double pvalue_threshold);

}  // namespace evoscope::annotate
