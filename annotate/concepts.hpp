/// @file
/// Biological concepts as per-nucleotide, strand-aware position sets derived from an annotation
/// (and from motif hits): gene, CDS, codon positions, start/stop codons, exons, introns, UTRs,
/// splice neighbourhoods, RBS windows, promoter-proximal spans, tRNA, rRNA, ncRNA, repeats,
/// intergenic, every other feature type as a generic concept. Each concept has positive
/// positions and elements (the instances: one gene, one exon, one motif hit), on each genomic
/// strand. Alignment compares a signal on a row of strand s with the concept's positions on s
/// ("same sense") and on the other strand ("opposite sense").
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "genomics/annotation.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/interval.hpp"

namespace evoscope::annotate {

/// [begin, end), 0-based.
struct Span {
    std::int64_t begin = 0;
    std::int64_t end = 0;
    friend bool operator==(const Span&, const Span&) = default;
};

/// One instance of a concept: its parts on one contig and strand.
struct ConceptElement {
    std::int32_t contig = 0;  ///< index into ConceptSet::contigs
    std::uint8_t strand = 0;  ///< 0 forward, 1 reverse
    std::vector<Span> parts;  ///< sorted, disjoint
    std::string label;        ///< e.g. the feature's ID or name, the motif id
};

struct Concept {
    std::string name;         ///< unique: "CDS", "codon_pos_1", "tRNA", "motif:MA0001.3", ...
    std::string category;     ///< "gene_structure", "rna", "regulatory", "repeat", "generic",
                              ///< "motif", "intergenic"
    std::string description;  ///< one line, for tables and the report
    /// positive[strand][contig]: sorted, disjoint, non-touching spans (strand 0 forward, 1
    /// reverse). An unstranded annotation (strand '.') puts its positions on both strands.
    std::array<std::vector<std::vector<Span>>, 2> positive;
    std::vector<ConceptElement> elements;

    /// Positive positions on both strands (a base counted once per strand).
    std::int64_t n_positive() const;
    std::int64_t n_positive(int strand) const;
};

struct ConceptSet {
    std::vector<genomics::ContigInfo> contigs;  ///< order = the contig index of spans/elements
    std::vector<Concept> concepts;

    /// Index of the contig `name`, or -1.
    std::int32_t contig_index(std::string_view name) const;
    /// Index of the concept `name`, or -1.
    std::int32_t concept_index(std::string_view name) const;
};

struct ConceptOptions {
    /// Ribosome-binding-site window: bases [start - rbs_far, start - rbs_near) upstream of each
    /// CDS start, on the CDS's strand (Shine-Dalgarno lies about 5-15 nt upstream of the start).
    std::int64_t rbs_far = 20;
    std::int64_t rbs_near = 4;
    /// Promoter-proximal: this many bases upstream of each gene start, on the gene's strand.
    std::int64_t promoter_bp = 100;
    /// Splice donor/acceptor neighbourhood: bases on each side of an exon-intron boundary.
    std::int64_t splice_flank = 3;
    /// Generic concepts for every other feature type present (region/source-like types covering
    /// whole contigs are left out).
    bool generic_types = true;
};

/// Derives the concepts of an annotation over `contigs` (the FASTA's, in its order). Concepts
/// with no positive position are left out.
ConceptSet derive_concepts(const genomics::Annotation& annotation,
                           const std::vector<genomics::ContigInfo>& contigs,
                           const ConceptOptions& options = {});

/// Adds (or extends) concept `name` with stranded intervals (Strand::Unknown: both strands);
/// each interval is one element labelled `labels[i]` (empty labels allowed).
void add_interval_concept(ConceptSet& set,
                          std::string_view name,
                          std::string_view category,
                          std::string_view description,
                          const std::vector<genomics::Interval>& intervals,
                          const std::vector<std::string>& labels = {});

/// Normalises every concept (sorts, merges positives; sorts elements) after additions.
void normalise(ConceptSet& set);

}  // namespace evoscope::annotate
