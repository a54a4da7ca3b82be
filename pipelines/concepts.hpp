/// @file
/// The `concepts` stage: reads an annotation against a FASTA's contigs and derives the
/// strand-aware concepts that alignment scores features against (annotate/concepts.hpp); lists
/// them with counts and, optionally, writes each as a BED6 track of its elements.
#pragma once

#include <cstdint>
#include <string>

#include "annotate/concepts.hpp"
#include "genomics/annotation.hpp"

namespace evoscope::pipelines {

/// What to read: shared by `concepts` and `align`.
struct ConceptSourceOptions {
    std::string annotations;      ///< GFF3, GTF, BED or GenBank (plain or gzip)
    std::string fasta;            ///< the reference the annotation describes
    std::string format = "auto";  ///< auto, gff3, gtf, bed, genbank
    std::string rename_contigs;   ///< alias file: two names per line
    bool lenient = false;         ///< skip malformed lines (counted) instead of failing
    bool skip_unknown_contigs = false;
    annotate::ConceptOptions concept_options;
};

struct ConceptSource {
    genomics::Annotation annotation;
    annotate::ConceptSet concepts;
};

/// Reads the FASTA's contig table, the annotation and derives the concepts.
/// @throws InputError, FormatError, IoError naming the file (and line).
ConceptSource load_concepts(const ConceptSourceOptions& options);

struct ConceptsOptions {
    ConceptSourceOptions source;
    std::string output = "-";  ///< TSV, one row per concept; - for stdout
    std::string bed_dir;       ///< when set: one BED6 file per concept (its elements' parts)
    bool force = false;
};

struct ConceptsResult {
    ConceptSource source;
};

ConceptsResult run_concepts(const ConceptsOptions& options);

/// The concepts table: concept, category, n_positive (both strands), n_positive_fwd,
/// n_positive_rev, n_elements, genome_fraction (n_positive / 2 x genome length), description.
std::string format_concepts_table(const annotate::ConceptSet& set);

}  // namespace evoscope::pipelines
