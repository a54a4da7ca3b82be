// The align stage's inputs: FASTA contigs, the annotation and its concepts (kept apart from
// align.cpp so that run_align_concepts links without the annotation readers).
#include "annotate/concepts.hpp"
#include "annotate/motif_concepts.hpp"
#include "core/check.hpp"
#include "core/log.hpp"
#include "genomics/annotation.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"
#include "pipelines/align.hpp"
#include "pipelines/motifs_scan.hpp"

namespace evoscope::pipelines {

AlignRunResult run_align(const AlignOptions& options) {
    ConceptSourceOptions source = options.source;
    if (!options.annotations.empty())
        source.annotations = options.annotations;
    if (!options.fasta.empty())
        source.fasta = options.fasta;
    EVOSCOPE_CHECK(!source.fasta.empty(), "--fasta is required");
    EVOSCOPE_CHECK(!source.annotations.empty(), "--annotations is required");
    annotate::ConceptSet concepts = load_concepts(source).concepts;
    if (!options.motifs.empty()) {
        MotifsScanOptions scan;
        scan.motifs = options.motifs;
        scan.fasta = source.fasta;
        scan.thresh = options.motif_thresh;
        scan.output.clear();  // hits stay in memory
        const auto hits = run_motifs_scan(scan);
        const auto n =
            annotate::add_motif_concepts(concepts, hits.motifs, hits.hits, options.motif_thresh);
        EVOSCOPE_LOG_INFO("align: {} motif concepts from {} ({} hits at p <= {:g})",
                          n,
                          options.motifs,
                          hits.hits.size(),
                          options.motif_thresh);
    }
    EVOSCOPE_LOG_INFO("align: {} concepts from {}", concepts.concepts.size(), source.annotations);
    return run_align_concepts(options, concepts);
}

}  // namespace evoscope::pipelines
