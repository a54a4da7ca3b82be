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
    EVOSCOPE_CHECK(!options.fasta.empty(), "--fasta is required");
    EVOSCOPE_CHECK(!options.annotations.empty(), "--annotations is required");
    const genomics::FastaReader fasta(options.fasta);
    const genomics::ContigSet contigs(fasta.contigs());
    const genomics::Annotation annotation = genomics::read_annotation(options.annotations, contigs);
    annotate::ConceptSet concepts = annotate::derive_concepts(annotation, fasta.contigs());
    if (!options.motifs.empty()) {
        MotifsScanOptions scan;
        scan.motifs = options.motifs;
        scan.fasta = options.fasta;
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
    EVOSCOPE_LOG_INFO("align: {} concepts from {}", concepts.concepts.size(), options.annotations);
    return run_align_concepts(options, concepts);
}

}  // namespace evoscope::pipelines
