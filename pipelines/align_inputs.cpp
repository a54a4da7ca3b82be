// The align stage's inputs: FASTA contigs, the annotation and its concepts (kept apart from
// align.cpp so that run_align_concepts links without the annotation readers).
#include "annotate/concepts.hpp"
#include "core/check.hpp"
#include "core/log.hpp"
#include "genomics/annotation.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"
#include "pipelines/align.hpp"

namespace evoscope::pipelines {

AlignRunResult run_align(const AlignOptions& options) {
    EVOSCOPE_CHECK(!options.fasta.empty(), "--fasta is required");
    EVOSCOPE_CHECK(!options.annotations.empty(), "--annotations is required");
    const genomics::FastaReader fasta(options.fasta);
    const genomics::ContigSet contigs(fasta.contigs());
    const genomics::Annotation annotation = genomics::read_annotation(options.annotations, contigs);
    const annotate::ConceptSet concepts = annotate::derive_concepts(annotation, fasta.contigs());
    EVOSCOPE_LOG_INFO("align: {} concepts from {}", concepts.concepts.size(), options.annotations);
    return run_align_concepts(options, concepts);
}

}  // namespace evoscope::pipelines
