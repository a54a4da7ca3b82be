#include "annotate/concepts.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/error.hpp"

namespace evoscope::annotate {
namespace {

using genomics::AnnotationFeature;
using genomics::Strand;

/// Strands a feature's positions go to: its own, or both when it has none.
std::vector<std::uint8_t> strands_of(Strand strand) {
    switch (strand) {
        case Strand::Forward:
            return {0};
        case Strand::Reverse:
            return {1};
        case Strand::Unknown:
            break;
    }
    return {0, 1};
}

bool is_rna_type(std::string_view type) {
    return type == "tRNA" || type == "rRNA" || type == "tmRNA" || type == "ncRNA" ||
           type == "misc_RNA" || type == "snRNA" || type == "snoRNA" || type == "lnc_RNA" ||
           type == "RNase_P_RNA" || type == "SRP_RNA" || type == "antisense_RNA";
}

bool is_transcript_type(std::string_view type) {
    return type == "mRNA" || type == "transcript" || is_rna_type(type);
}

bool is_repeat_type(std::string_view type) {
    return type == "repeat_region" || type == "repeat" || type == "direct_repeat" ||
           type == "inverted_repeat" || type == "tandem_repeat" || type == "mobile_element" ||
           type == "transposable_element" || type == "dispersed_repeat";
}

/// Types the fixed concepts already cover (their generic twin would duplicate them).
bool has_fixed_concept(std::string_view type) {
    static const std::set<std::string_view> fixed = {"gene",
                                                     "CDS",
                                                     "exon",
                                                     "intron",
                                                     "five_prime_UTR",
                                                     "three_prime_UTR",
                                                     "UTR",
                                                     "tRNA",
                                                     "rRNA",
                                                     "tmRNA",
                                                     "ncRNA",
                                                     "start_codon",
                                                     "stop_codon"};
    return fixed.contains(type) || is_repeat_type(type);
}

/// Region-like types that describe a whole sequence, not a biological element.
bool is_sequence_type(std::string_view type) {
    return type == "region" || type == "source" || type == "chromosome" || type == "contig" ||
           type == "supercontig" || type == "scaffold" || type == "databank_entry";
}

struct Builder {
    const std::vector<genomics::ContigInfo>* contigs = nullptr;
    std::map<std::string, std::int32_t> contig_index;
    std::vector<Concept> concepts;
    std::map<std::string, std::size_t, std::less<>> index;

    Concept& get(std::string_view name, std::string_view category, std::string_view description) {
        const auto it = index.find(name);
        if (it != index.end())
            return concepts[it->second];
        Concept c;
        c.name = std::string(name);
        c.category = std::string(category);
        c.description = std::string(description);
        for (auto& per_strand : c.positive)
            per_strand.resize(contigs->size());
        index.emplace(std::string(name), concepts.size());
        concepts.push_back(std::move(c));
        return concepts.back();
    }

    /// Adds one element (parts clipped to the contig; empty after clipping: nothing).
    void add(Concept& c,
             std::int32_t contig,
             Strand strand,
             std::vector<Span> parts,
             const std::string& label) {
        const std::int64_t length = (*contigs)[static_cast<std::size_t>(contig)].length;
        std::vector<Span> clipped;
        for (auto s : parts) {
            s.begin = std::max<std::int64_t>(s.begin, 0);
            s.end = std::min(s.end, length);
            if (s.end > s.begin)
                clipped.push_back(s);
        }
        if (clipped.empty())
            return;
        std::sort(clipped.begin(), clipped.end(), [](const Span& a, const Span& b) {
            return a.begin < b.begin;
        });
        for (const auto strand_index : strands_of(strand)) {
            auto& spans = c.positive[strand_index][static_cast<std::size_t>(contig)];
            spans.insert(spans.end(), clipped.begin(), clipped.end());
            c.elements.push_back(ConceptElement{contig, strand_index, clipped, label});
        }
    }
};

std::string label_of(const AnnotationFeature& f) {
    if (!f.id.empty())
        return f.id;
    if (!f.name.empty())
        return f.name;
    return fmt::format("{}:{}-{}", f.contig, f.begin() + 1, f.end());
}

std::vector<Span> spans_of(const AnnotationFeature& f) {
    std::vector<Span> spans;
    spans.reserve(f.parts.size());
    for (const auto& p : f.parts)
        spans.push_back(Span{p.begin, p.end});
    return spans;
}

/// Bases of a CDS in 5'->3' order of its strand, as (position, codon position 0..2) runs: the
/// first `phase` bases of the first part finish the previous codon (GFF3 phase definition:
/// bases to remove from the 5' end of the feature to reach the first complete codon).
struct CodingBase {
    std::int64_t pos;
    int frame;  // 0, 1, 2 = codon position 1, 2, 3
};

/// The CDS's parts in 5'->3' order.
std::vector<genomics::FeaturePart> parts_5to3(const AnnotationFeature& f) {
    auto parts = f.parts;
    if (f.strand == Strand::Reverse)
        std::reverse(parts.begin(), parts.end());
    return parts;
}

/// Codon position of every base of a CDS, as spans per frame (0, 1, 2).
std::array<std::vector<Span>, 3> codon_spans(const AnnotationFeature& cds, std::int64_t& coding) {
    std::array<std::vector<Span>, 3> out;
    const auto parts = parts_5to3(cds);
    const int phase = parts.empty() || parts.front().phase < 0 ? 0 : parts.front().phase;
    std::int64_t k = 0;  // bases of the CDS before the current one, 5'->3'
    const bool reverse = cds.strand == Strand::Reverse;
    for (const auto& part : parts) {
        const std::int64_t n = part.end - part.begin;
        for (std::int64_t i = 0; i < n; ++i, ++k) {
            const int frame = static_cast<int>((((k - phase) % 3) + 3) % 3);
            const std::int64_t pos = reverse ? part.end - 1 - i : part.begin + i;
            auto& spans = out[static_cast<std::size_t>(frame)];
            if (!spans.empty() && spans.back().end == pos && !reverse)
                spans.back().end = pos + 1;
            else if (!spans.empty() && spans.back().begin == pos + 1 && reverse)
                spans.back().begin = pos;
            else
                spans.push_back(Span{pos, pos + 1});
        }
    }
    coding = k - phase;
    return out;
}

/// The first (or last) `n` bases of a CDS in transcript order, as genomic spans.
std::vector<Span> cds_end_bases(const AnnotationFeature& cds, std::int64_t n, bool five_prime) {
    auto parts = parts_5to3(cds);
    if (!five_prime)
        std::reverse(parts.begin(), parts.end());
    const bool reverse = cds.strand == Strand::Reverse;
    // Walking from the 5' end on + (or the 3' end on -) means walking up in coordinates.
    const bool upward = (five_prime && !reverse) || (!five_prime && reverse);
    std::vector<Span> spans;
    std::int64_t left = n;
    for (const auto& part : parts) {
        if (left == 0)
            break;
        const std::int64_t take = std::min(left, part.end - part.begin);
        if (upward)
            spans.push_back(Span{part.begin, part.begin + take});
        else
            spans.push_back(Span{part.end - take, part.end});
        left -= take;
    }
    return left == 0 ? spans : std::vector<Span>{};
}

/// Gaps between consecutive parts.
std::vector<Span> gaps(const std::vector<Span>& parts) {
    std::vector<Span> out;
    for (std::size_t i = 1; i < parts.size(); ++i) {
        if (parts[i].begin > parts[i - 1].end)
            out.push_back(Span{parts[i - 1].end, parts[i].begin});
    }
    return out;
}

/// `spans` minus [cut.begin, cut.end).
std::vector<Span> subtract(const std::vector<Span>& spans, Span cut) {
    std::vector<Span> out;
    for (const auto& s : spans) {
        if (s.end <= cut.begin || s.begin >= cut.end) {
            out.push_back(s);
            continue;
        }
        if (s.begin < cut.begin)
            out.push_back(Span{s.begin, cut.begin});
        if (s.end > cut.end)
            out.push_back(Span{cut.end, s.end});
    }
    return out;
}

std::vector<Span> merge(std::vector<Span> spans) {
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
        return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
    });
    std::vector<Span> out;
    for (const auto& s : spans) {
        if (!out.empty() && s.begin <= out.back().end)
            out.back().end = std::max(out.back().end, s.end);
        else
            out.push_back(s);
    }
    return out;
}

}  // namespace

std::int64_t Concept::n_positive(int strand) const {
    std::int64_t n = 0;
    for (const auto& spans : positive[static_cast<std::size_t>(strand)]) {
        for (const auto& s : spans)
            n += s.end - s.begin;
    }
    return n;
}

std::int64_t Concept::n_positive() const {
    return n_positive(0) + n_positive(1);
}

std::int32_t ConceptSet::contig_index(std::string_view name) const {
    for (std::size_t i = 0; i < contigs.size(); ++i) {
        if (contigs[i].name == name)
            return static_cast<std::int32_t>(i);
    }
    return -1;
}

std::int32_t ConceptSet::concept_index(std::string_view name) const {
    for (std::size_t i = 0; i < concepts.size(); ++i) {
        if (concepts[i].name == name)
            return static_cast<std::int32_t>(i);
    }
    return -1;
}

void normalise(ConceptSet& set) {
    for (auto& c : set.concepts) {
        for (auto& per_strand : c.positive) {
            per_strand.resize(set.contigs.size());
            for (auto& spans : per_strand)
                spans = merge(std::move(spans));
        }
        std::stable_sort(c.elements.begin(),
                         c.elements.end(),
                         [](const ConceptElement& a, const ConceptElement& b) {
                             if (a.contig != b.contig)
                                 return a.contig < b.contig;
                             if (a.strand != b.strand)
                                 return a.strand < b.strand;
                             return a.parts.front().begin < b.parts.front().begin;
                         });
    }
}

void add_interval_concept(ConceptSet& set,
                          std::string_view name,
                          std::string_view category,
                          std::string_view description,
                          const std::vector<genomics::Interval>& intervals,
                          const std::vector<std::string>& labels) {
    EVOSCOPE_CHECK(labels.empty() || labels.size() == intervals.size(),
                   "concept '{}': {} labels for {} intervals",
                   name,
                   labels.size(),
                   intervals.size());
    Builder b;
    b.contigs = &set.contigs;
    for (std::size_t i = 0; i < set.concepts.size(); ++i)
        b.index.emplace(set.concepts[i].name, i);
    b.concepts = std::move(set.concepts);
    auto& c = b.get(name, category, description);
    for (std::size_t i = 0; i < intervals.size(); ++i) {
        const auto& iv = intervals[i];
        const auto contig = set.contig_index(iv.contig);
        EVOSCOPE_CHECK(contig >= 0, "concept '{}': unknown contig '{}'", name, iv.contig);
        const std::int64_t length = set.contigs[static_cast<std::size_t>(contig)].length;
        EVOSCOPE_CHECK(iv.begin >= 0 && iv.end <= length && iv.begin < iv.end,
                       "concept '{}': interval {}:{}-{} outside contig (length {})",
                       name,
                       iv.contig,
                       iv.begin,
                       iv.end,
                       length);
        b.add(c, contig, iv.strand, {Span{iv.begin, iv.end}}, labels.empty() ? "" : labels[i]);
    }
    set.concepts = std::move(b.concepts);
    normalise(set);
}

ConceptSet derive_concepts(const genomics::Annotation& annotation,
                           const std::vector<genomics::ContigInfo>& contigs,
                           const ConceptOptions& options) {
    EVOSCOPE_CHECK(options.rbs_far > options.rbs_near && options.rbs_near >= 0,
                   "RBS window: --rbs-far ({}) must exceed --rbs-near ({}) >= 0",
                   options.rbs_far,
                   options.rbs_near);
    EVOSCOPE_CHECK(options.promoter_bp > 0 && options.splice_flank > 0,
                   "promoter span ({}) and splice flank ({}) must be positive",
                   options.promoter_bp,
                   options.splice_flank);
    ConceptSet set;
    set.contigs = contigs;
    Builder b;
    b.contigs = &set.contigs;
    for (std::size_t i = 0; i < contigs.size(); ++i)
        b.contig_index.emplace(contigs[i].name, static_cast<std::int32_t>(i));

    const auto& features = annotation.features;
    auto contig_of = [&](const AnnotationFeature& f) -> std::int32_t {
        const auto it = b.contig_index.find(f.contig);
        return it == b.contig_index.end() ? -1 : it->second;
    };
    auto has_exon_children = [&](std::size_t i) {
        for (const auto child : annotation.children(i)) {
            if (features[child].type == "exon")
                return true;
        }
        return false;
    };
    auto parent_has_exons = [&](const AnnotationFeature& f) {
        for (const auto& p : f.parents) {
            const auto idx = annotation.find(p);
            if (idx && has_exon_children(*idx))
                return true;
        }
        return false;
    };

    // Covered by any gene-like feature on either strand (for intergenic).
    std::vector<std::vector<Span>> genic(contigs.size());
    // Spans of every gene-like feature per contig, sorted: a gap between the parts of one
    // feature that holds a whole other gene is not an intron (trans-splicing, as chloroplast
    // rps12, whose parts lie 30-70 kb apart around other genes).
    std::vector<std::vector<Span>> gene_spans(contigs.size());
    for (const auto& f : features) {
        const auto contig = contig_of(f);
        if (contig >= 0 && !f.parts.empty() &&
            (f.type == "gene" || f.type == "CDS" || is_rna_type(f.type)))
            gene_spans[static_cast<std::size_t>(contig)].push_back(Span{f.begin(), f.end()});
    }
    for (auto& spans : gene_spans) {
        std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) {
            return x.begin < y.begin;
        });
    }
    auto holds_a_gene = [&](std::int32_t contig, Span gap) {
        const auto& spans = gene_spans[static_cast<std::size_t>(contig)];
        auto it = std::lower_bound(
            spans.begin(), spans.end(), gap.begin, [](const Span& s, std::int64_t v) {
                return s.begin < v;
            });
        for (; it != spans.end() && it->begin < gap.end; ++it) {
            if (it->end <= gap.end)
                return true;
        }
        return false;
    };

    for (std::size_t i = 0; i < features.size(); ++i) {
        const auto& f = features[i];
        const auto contig = contig_of(f);
        if (contig < 0 || f.parts.empty())
            continue;
        const auto spans = spans_of(f);
        const auto label = label_of(f);
        const std::int64_t length = contigs[static_cast<std::size_t>(contig)].length;
        const bool reverse = f.strand == Strand::Reverse;
        const std::int64_t five = reverse ? f.end() : f.begin();  // 5' boundary coordinate

        const bool gene_like =
            f.type == "gene" || ((f.type == "CDS" || is_rna_type(f.type)) && f.parents.empty());
        if (gene_like) {
            b.add(b.get("gene",
                        "gene_structure",
                        "gene bodies (gene features; CDS/RNA features without a parent gene)"),
                  contig,
                  f.strand,
                  {Span{f.begin(), f.end()}},
                  label);
            genic[static_cast<std::size_t>(contig)].push_back(Span{f.begin(), f.end()});
            // Promoter-proximal: upstream of the gene's 5' end on its strand.
            if (f.strand != Strand::Unknown) {
                const Span up = reverse ? Span{five, five + options.promoter_bp}
                                        : Span{five - options.promoter_bp, five};
                b.add(b.get("promoter_proximal",
                            "regulatory",
                            fmt::format("{} bp upstream of each gene start, on the gene's strand",
                                        options.promoter_bp)),
                      contig,
                      f.strand,
                      {up},
                      label);
            }
        }
        if (f.type == "CDS") {
            b.add(b.get("CDS", "gene_structure", "coding sequence (including the stop codon)"),
                  contig,
                  f.strand,
                  spans,
                  label);
            if (f.strand != Strand::Unknown) {
                std::int64_t coding = 0;
                const auto frames = codon_spans(f, coding);
                for (int k = 0; k < 3; ++k) {
                    b.add(b.get(fmt::format("codon_pos_{}", k + 1),
                                "gene_structure",
                                fmt::format("position {} of each codon in the CDS reading frame",
                                            k + 1)),
                          contig,
                          f.strand,
                          frames[static_cast<std::size_t>(k)],
                          label);
                }
                const int phase = parts_5to3(f).front().phase;
                const bool start_ok = (phase <= 0) && !(reverse ? f.partial_end : f.partial_begin);
                const bool stop_ok =
                    coding % 3 == 0 && !(reverse ? f.partial_begin : f.partial_end);
                if (start_ok) {
                    b.add(b.get("start_codon",
                                "gene_structure",
                                "the first codon of each complete CDS"),
                          contig,
                          f.strand,
                          cds_end_bases(f, 3, true),
                          label);
                }
                if (stop_ok) {
                    b.add(
                        b.get(
                            "stop_codon", "gene_structure", "the last codon of each complete CDS"),
                        contig,
                        f.strand,
                        cds_end_bases(f, 3, false),
                        label);
                }
                // Ribosome-binding-site window upstream of the start of prokaryote-style CDS
                // (no exon-bearing transcript above it).
                if (start_ok && !parent_has_exons(f)) {
                    const std::int64_t start = reverse ? f.end() : f.begin();
                    const Span rbs = reverse
                                         ? Span{start + options.rbs_near, start + options.rbs_far}
                                         : Span{start - options.rbs_far, start - options.rbs_near};
                    b.add(b.get("RBS_window",
                                "regulatory",
                                fmt::format("ribosome-binding-site window: {} to {} bp upstream "
                                            "of each CDS start",
                                            options.rbs_far,
                                            options.rbs_near + 1)),
                          contig,
                          f.strand,
                          {rbs},
                          label);
                }
            }
            // A multi-part CDS without exon lines: its parts are exons, its gaps introns.
            if (f.parts.size() > 1 && !parent_has_exons(f)) {
                for (const auto& s : spans) {
                    b.add(b.get("exon",
                                "gene_structure",
                                "exons (exon features; parts of split CDS without exon lines)"),
                          contig,
                          f.strand,
                          {s},
                          label);
                }
            }
        }
        if (f.type == "exon") {
            b.add(b.get("exon",
                        "gene_structure",
                        "exons (exon features; parts of split CDS without exon lines)"),
                  contig,
                  f.strand,
                  spans,
                  label);
        }
        if (is_rna_type(f.type)) {
            const std::string name =
                (f.type == "tRNA" || f.type == "rRNA" || f.type == "tmRNA") ? f.type : "ncRNA";
            b.add(b.get(name,
                        "rna",
                        name == "ncRNA" ? "non-coding RNA genes other than tRNA, rRNA, tmRNA"
                                        : fmt::format("{} genes", name)),
                  contig,
                  f.strand,
                  {Span{f.begin(), f.end()}},
                  label);
            genic[static_cast<std::size_t>(contig)].push_back(Span{f.begin(), f.end()});
        }
        if (is_repeat_type(f.type)) {
            b.add(b.get("repeat", "repeat", "repeat regions and mobile elements"),
                  contig,
                  f.strand,
                  spans,
                  label);
        }
        if (f.type == "five_prime_UTR" || f.type == "three_prime_UTR") {
            b.add(b.get(f.type, "gene_structure", fmt::format("{} features", f.type)),
                  contig,
                  f.strand,
                  spans,
                  label);
        }
        if (f.type == "intron") {
            b.add(b.get("intron",
                        "gene_structure",
                        "introns: gaps between the parts of one transcript or CDS"),
                  contig,
                  f.strand,
                  spans,
                  label);
        }

        // Introns, splice sites and UTRs of transcripts (features with exon children) and of
        // split CDS without exons.
        std::vector<Span> exons;
        bool from_exons = false;
        if (is_transcript_type(f.type) && has_exon_children(i)) {
            for (const auto child : annotation.children(i)) {
                if (features[child].type == "exon") {
                    for (const auto& s : spans_of(features[child]))
                        exons.push_back(s);
                }
            }
            exons = merge(std::move(exons));
            from_exons = true;
        } else if (f.type == "CDS" && f.parts.size() > 1 && !parent_has_exons(f)) {
            exons = spans;
        }
        for (const auto& intron : gaps(exons)) {
            if (holds_a_gene(contig, intron))
                continue;
            b.add(b.get("intron",
                        "gene_structure",
                        "introns: gaps between the parts of one transcript or CDS"),
                  contig,
                  f.strand,
                  {intron},
                  label);
            if (f.strand == Strand::Unknown)
                continue;
            // Donor at the intron's 5' end, acceptor at its 3' end (on the feature's strand).
            const std::int64_t k = options.splice_flank;
            const Span low{intron.begin - k, intron.begin + k};
            const Span high{intron.end - k, intron.end + k};
            b.add(b.get("splice_donor",
                        "gene_structure",
                        fmt::format("exon-intron boundary at the intron's 5' end, +-{} bp", k)),
                  contig,
                  f.strand,
                  {reverse ? high : low},
                  label);
            b.add(b.get("splice_acceptor",
                        "gene_structure",
                        fmt::format("intron-exon boundary at the intron's 3' end, +-{} bp", k)),
                  contig,
                  f.strand,
                  {reverse ? low : high},
                  label);
        }
        // UTRs where mRNAs exist: exonic bases before the first / after the last CDS base.
        if (from_exons && f.type == "mRNA" && f.strand != Strand::Unknown) {
            std::int64_t cds_lo = length;
            std::int64_t cds_hi = -1;
            for (const auto child : annotation.children(i)) {
                if (features[child].type == "CDS") {
                    cds_lo = std::min(cds_lo, features[child].begin());
                    cds_hi = std::max(cds_hi, features[child].end());
                }
            }
            if (cds_hi > cds_lo) {
                const auto upstream = subtract(exons, Span{cds_lo, length});
                const auto downstream = subtract(exons, Span{0, cds_hi});
                const auto& five_utr = reverse ? downstream : upstream;
                const auto& three_utr = reverse ? upstream : downstream;
                if (!five_utr.empty()) {
                    b.add(b.get("five_prime_UTR",
                                "gene_structure",
                                "5' UTR: exonic bases of an mRNA before its CDS"),
                          contig,
                          f.strand,
                          five_utr,
                          label);
                }
                if (!three_utr.empty()) {
                    b.add(b.get("three_prime_UTR",
                                "gene_structure",
                                "3' UTR: exonic bases of an mRNA after its CDS"),
                          contig,
                          f.strand,
                          three_utr,
                          label);
                }
            }
        }
    }

    // Generic concepts: every other feature type present.
    if (options.generic_types) {
        for (const auto& f : features) {
            const auto contig = contig_of(f);
            if (contig < 0 || f.parts.empty() || has_fixed_concept(f.type) ||
                is_sequence_type(f.type))
                continue;
            const std::int64_t length = contigs[static_cast<std::size_t>(contig)].length;
            if (f.end() - f.begin() >= length * 9 / 10)
                continue;  // whole-sequence descriptors
            b.add(b.get("type:" + f.type,
                        "generic",
                        fmt::format("'{}' features of the annotation", f.type)),
                  contig,
                  f.strand,
                  spans_of(f),
                  label_of(f));
        }
    }

    // Intergenic: bases on neither strand of any gene-like or RNA feature (both strands).
    {
        auto& c =
            b.get("intergenic", "intergenic", "bases outside every gene, CDS and RNA feature");
        for (std::size_t contig = 0; contig < contigs.size(); ++contig) {
            const auto covered = merge(std::move(genic[contig]));
            if (covered.empty())
                continue;  // an unannotated contig says nothing about intergenic bases
            std::int64_t at = 0;
            auto emit = [&](std::int64_t begin, std::int64_t end) {
                if (end > begin) {
                    b.add(c,
                          static_cast<std::int32_t>(contig),
                          Strand::Unknown,
                          {Span{begin, end}},
                          fmt::format("{}:{}-{}", contigs[contig].name, begin + 1, end));
                }
            };
            for (const auto& g : covered) {
                emit(at, g.begin);
                at = std::max(at, g.end);
            }
            emit(at, contigs[contig].length);
        }
    }

    for (auto& c : b.concepts) {
        if (!c.elements.empty())
            set.concepts.push_back(std::move(c));
    }
    normalise(set);
    return set;
}

}  // namespace evoscope::annotate
