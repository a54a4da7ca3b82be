/// @file
/// Genome annotations from GFF3, GTF, BED (3 to 12 columns) and GenBank flat files, read into
/// one record model: features with 0-based half-open parts, strand, phase, ID/Parent links and
/// attributes. Every format is normalised to GFF3 meaning, so that one annotation written in the
/// four formats gives the same records:
///   - a feature that spans several lines (GFF3 lines sharing one ID, a GenBank join(...), the
///     blocks of a BED12 line) is one AnnotationFeature with several parts;
///   - CDS includes the stop codon (GTF's separate stop_codon is merged into the CDS of its
///     transcript, as GFF3 and GenBank have it);
///   - GTF gene/transcript lines that are missing are synthesised from gene_id/transcript_id;
///     BED12 gives a transcript ("mRNA" when thickStart < thickEnd) with "exon" children (the
///     blocks) and a "CDS" child (the blocks cut to thickStart..thickEnd); BED3-BED6 lines give
///     one feature each of type AnnotationOptions::bed_type;
///   - GenBank features are linked to their gene by /locus_tag (else /gene): the gene's ID is
///     that value, and mRNA/CDS/tRNA/rRNA/... with the same value get it as Parent.
///   - GenBank genes and transcripts (mRNA, tRNA, rRNA, ncRNA, ...) are one span, as in GFF3;
///     a transcript's location segments become "exon" children;
///   - GFF3 features past the end of a contig whose landmark has Is_circular=true wrap around:
///     the part is split into [begin, length) and [0, end - length).
/// Contig names are resolved against the FASTA's contigs (aliases as for regions) and checked
/// against their lengths. Errors name the file and line. docs/annotations.md has the full
/// table of rules (IDs of synthesised features, GTF transcript types, GenBank linking).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "genomics/interval.hpp"
#include "genomics/regions.hpp"

namespace evoscope::genomics {

enum class AnnotationFormat { Auto, Gff3, Gtf, Bed, GenBank };

/// "gff3", "gtf", "bed", "genbank" (and "auto"); parse_annotation_format throws InputError for
/// anything else, listing the choices.
const char* annotation_format_name(AnnotationFormat format);
AnnotationFormat parse_annotation_format(std::string_view text);

/// One contiguous piece of a feature.
struct FeaturePart {
    std::int64_t begin = 0;  ///< 0-based, inclusive
    std::int64_t end = 0;    ///< 0-based, exclusive
    int phase = -1;          ///< 0, 1, 2 for CDS parts (GFF3 column 8 / GTF frame); -1 when absent
    std::size_t line = 0;    ///< 1-based line of the input it came from (0 when synthesised)
};

struct AnnotationFeature {
    std::string contig;  ///< the FASTA's own name (after alias resolution)
    std::string type;    ///< as written: "gene", "mRNA", "CDS", "tRNA", "SO:0000316", ...
    std::string source;  ///< GFF3/GTF column 2; "BED", "GenBank" for those formats
    Strand strand = Strand::Unknown;
    /// Sorted by begin; touching parts are kept apart (they are exons). Parts do not overlap,
    /// except where the input says so (a GenBank ribosomal-slippage join(1..100,100..200)).
    std::vector<FeaturePart> parts;
    std::optional<double> score;
    /// GFF3 ID (percent-decoded); GTF gene_id, transcript_id, "CDS:<transcript_id>" (also
    /// start_codon:, stop_codon:); BED12 name and "CDS:<name>"; GenBank /locus_tag for genes,
    /// /transcript_id or "<key>:<locus_tag>" for transcripts, /protein_id or "CDS:<locus_tag>"
    /// for CDS. May be empty (exons, BED3-6 lines, ...).
    std::string id;
    std::vector<std::string> parents;  ///< GFF3 Parent ids (several allowed)
    std::string name;                  ///< Name / gene_name / BED name / GenBank /gene or /product
    /// All attributes, decoded, in input order (GFF3 tags, GTF keys, GenBank qualifiers without
    /// the slash). Repeated keys stay repeated.
    std::vector<std::pair<std::string, std::string>> attributes;
    bool partial_begin = false;  ///< GenBank '<' at the lower coordinate (or GFF3 partial=true)
    bool partial_end = false;    ///< GenBank '>' at the upper coordinate
    std::size_t line = 0;        ///< first input line of the feature

    std::int64_t begin() const { return parts.empty() ? 0 : parts.front().begin; }

    std::int64_t end() const { return parts.empty() ? 0 : parts.back().end; }

    /// First value of attribute `key`, or nullptr.
    const std::string* attribute(std::string_view key) const;
};

struct AnnotationOptions {
    AnnotationFormat format = AnnotationFormat::Auto;  ///< Auto: from the extension, then content
    /// Skip malformed lines (counted in Annotation::n_skipped, the first few logged as warnings)
    /// instead of failing on the first one.
    bool lenient = false;
    /// Features on contigs the FASTA lacks: error (false) or skipped and counted (true).
    bool skip_unknown_contigs = false;
    std::string bed_type = "region";  ///< type of BED3-BED6 features
};

struct Annotation {
    std::filesystem::path path;
    AnnotationFormat format = AnnotationFormat::Auto;  ///< the format that was read
    /// In input order (a multi-line feature at its first line).
    std::vector<AnnotationFeature> features;
    std::size_t n_skipped = 0;  ///< malformed lines skipped (lenient)
    /// Lines (GenBank: features) skipped for an unknown contig, with their children.
    std::size_t n_unknown_contig = 0;
    std::map<std::string, std::int64_t> sequence_regions;  ///< GFF3 ##sequence-region lengths

    /// Index of the feature whose ID is `id`, if any.
    std::optional<std::size_t> find(std::string_view id) const;
    /// Indices of the features that list `features[index].id` among their parents.
    std::vector<std::size_t> children(std::size_t index) const;
    /// Number of features of `type`.
    std::size_t count(std::string_view type) const;

    // Built by read_annotation (and by finalize() for hand-made annotations).
    std::map<std::string, std::size_t, std::less<>> id_index;
    std::map<std::string, std::vector<std::size_t>, std::less<>> child_index;
    /// Rebuilds id_index and child_index from features.
    void finalize();
};

/// Reads an annotation file (plain or gzip/bgzip; "-" is stdin, which needs an explicit format).
/// @throws IoError when the file cannot be read; FormatError "path:line: what" for a malformed
///         line (unless lenient), a GFF3 Parent that no feature has as ID, duplicate GFF3 IDs
///         on lines that differ in type, contig or strand; InputError "path:line: unknown contig
///         ..." (ContigSet::require's message) or a feature past the contig's end.
Annotation read_annotation(const std::filesystem::path& path,
                           const ContigSet& contigs,
                           const AnnotationOptions& options = {});

}  // namespace evoscope::genomics
