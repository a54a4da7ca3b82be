#include "annotate/concepts.hpp"

#include <catch2/catch.hpp>

#include "core/error.hpp"

namespace an = evoscope::annotate;
namespace gx = evoscope::genomics;

namespace {

gx::AnnotationFeature feature(std::string type,
                              gx::Strand strand,
                              std::vector<std::pair<std::int64_t, std::int64_t>> parts,
                              std::string id = {},
                              std::vector<std::string> parents = {},
                              std::vector<int> phases = {}) {
    gx::AnnotationFeature f;
    f.contig = "c1";
    f.type = std::move(type);
    f.strand = strand;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        gx::FeaturePart p;
        p.begin = parts[i].first;
        p.end = parts[i].second;
        p.phase = i < phases.size() ? phases[i] : -1;
        f.parts.push_back(p);
    }
    f.id = std::move(id);
    f.parents = std::move(parents);
    return f;
}

/// A 1,000-bp contig: a spliced + strand gene with UTRs, a - strand bacterial-style gene, a
/// parentless tRNA, an unstranded repeat, a whole-contig region and a misc_feature.
gx::Annotation hand_made() {
    using gx::Strand;
    gx::Annotation a;
    a.features.push_back(feature("region", Strand::Unknown, {{0, 1000}}, "r"));
    a.features.push_back(feature("gene", Strand::Forward, {{100, 400}}, "g1"));
    a.features.push_back(feature("mRNA", Strand::Forward, {{100, 400}}, "t1", {"g1"}));
    a.features.push_back(feature("exon", Strand::Forward, {{100, 200}}, "e1", {"t1"}));
    a.features.push_back(feature("exon", Strand::Forward, {{300, 400}}, "e2", {"t1"}));
    // 50 + 49 = 99 coding bases: 33 codons; the second part's phase is (3 - 50 % 3) % 3 = 1.
    a.features.push_back(
        feature("CDS", Strand::Forward, {{150, 200}, {300, 349}}, "cds1", {"t1"}, {0, 1}));
    a.features.push_back(feature("gene", Strand::Reverse, {{600, 700}}, "g2"));
    a.features.push_back(feature("CDS", Strand::Reverse, {{610, 700}}, "cds2", {"g2"}, {0}));
    a.features.push_back(feature("tRNA", Strand::Forward, {{800, 870}}, "trna1"));
    a.features.push_back(feature("repeat_region", Strand::Unknown, {{900, 950}}, "rep1"));
    a.features.push_back(feature("misc_feature", Strand::Forward, {{20, 30}}, "m1"));
    a.finalize();
    return a;
}

std::vector<gx::ContigInfo> contigs() {
    return {gx::ContigInfo{"c1", 1000}};
}

const an::Concept& get(const an::ConceptSet& set, std::string_view name) {
    const auto i = set.concept_index(name);
    INFO("concept " << name);
    REQUIRE(i >= 0);
    return set.concepts[static_cast<std::size_t>(i)];
}

using Spans = std::vector<an::Span>;

Spans fwd(const an::Concept& c) {
    return c.positive[0][0];
}

Spans rev(const an::Concept& c) {
    return c.positive[1][0];
}

bool covers(const Spans& spans, std::int64_t pos) {
    for (const auto& s : spans) {
        if (pos >= s.begin && pos < s.end)
            return true;
    }
    return false;
}

}  // namespace

TEST_CASE("derive_concepts: gene structure on both strands", "[annotate][concepts]") {
    const auto set = an::derive_concepts(hand_made(), contigs());

    CHECK(fwd(get(set, "gene")) == Spans{{100, 400}, {800, 870}});
    CHECK(rev(get(set, "gene")) == Spans{{600, 700}});
    CHECK(get(set, "gene").elements.size() == 3);

    CHECK(fwd(get(set, "CDS")) == Spans{{150, 200}, {300, 349}});
    CHECK(rev(get(set, "CDS")) == Spans{{610, 700}});
    CHECK(get(set, "CDS").elements.size() == 2);

    CHECK(fwd(get(set, "exon")) == Spans{{100, 200}, {300, 400}});
    CHECK(fwd(get(set, "intron")) == Spans{{200, 300}});
    CHECK(rev(get(set, "intron")).empty());
    CHECK(fwd(get(set, "splice_donor")) == Spans{{197, 203}});
    CHECK(fwd(get(set, "splice_acceptor")) == Spans{{297, 303}});
    CHECK(fwd(get(set, "five_prime_UTR")) == Spans{{100, 150}});
    CHECK(fwd(get(set, "three_prime_UTR")) == Spans{{349, 400}});

    CHECK(fwd(get(set, "start_codon")) == Spans{{150, 153}});
    CHECK(fwd(get(set, "stop_codon")) == Spans{{346, 349}});
    // On the reverse strand the 5' end is the high coordinate.
    CHECK(rev(get(set, "start_codon")) == Spans{{697, 700}});
    CHECK(rev(get(set, "stop_codon")) == Spans{{610, 613}});

    // Promoter-proximal: 100 bp upstream of each gene's 5' end, on its strand (clipped).
    CHECK(fwd(get(set, "promoter_proximal")) == Spans{{0, 100}, {700, 800}});
    CHECK(rev(get(set, "promoter_proximal")) == Spans{{700, 800}});
    // RBS only for the CDS without an exon-bearing transcript: [start + 4, start + 20) on -.
    CHECK(fwd(get(set, "RBS_window")).empty());
    CHECK(rev(get(set, "RBS_window")) == Spans{{704, 720}});

    CHECK(fwd(get(set, "tRNA")) == Spans{{800, 870}});
    // Unstranded features go to both strands.
    CHECK(fwd(get(set, "repeat")) == Spans{{900, 950}});
    CHECK(rev(get(set, "repeat")) == Spans{{900, 950}});
    CHECK(fwd(get(set, "type:misc_feature")) == Spans{{20, 30}});
    // Whole-sequence descriptors and already-covered types have no generic concept.
    CHECK(set.concept_index("type:region") < 0);
    CHECK(set.concept_index("type:gene") < 0);
    CHECK(set.concept_index("type:mRNA") >= 0);

    const Spans inter{{0, 100}, {400, 600}, {700, 800}, {870, 1000}};
    CHECK(fwd(get(set, "intergenic")) == inter);
    CHECK(rev(get(set, "intergenic")) == inter);
}

TEST_CASE("derive_concepts: codon positions follow the reading frame across parts and strands",
          "[annotate][concepts]") {
    const auto set = an::derive_concepts(hand_made(), contigs());
    const auto p1 = get(set, "codon_pos_1");
    const auto p2 = get(set, "codon_pos_2");
    const auto p3 = get(set, "codon_pos_3");
    // Forward CDS: 150 is codon position 1; 199 is base 49 -> position 2; 300 is base 50 ->
    // position 3; 301 starts a codon.
    CHECK(covers(fwd(p1), 150));
    CHECK(covers(fwd(p2), 151));
    CHECK(covers(fwd(p3), 152));
    CHECK(covers(fwd(p2), 199));
    CHECK(covers(fwd(p3), 300));
    CHECK(covers(fwd(p1), 301));
    CHECK(covers(fwd(p3), 348));
    // Reverse CDS: 699 is the first base (position 1), 698 position 2, 610 the last (3).
    CHECK(covers(rev(p1), 699));
    CHECK(covers(rev(p2), 698));
    CHECK(covers(rev(p3), 697));
    CHECK(covers(rev(p1), 696));
    CHECK(covers(rev(p3), 610));
    // Each frame holds a third of the coding bases.
    CHECK(p1.n_positive(0) == 33);
    CHECK(p2.n_positive(0) == 33);
    CHECK(p3.n_positive(0) == 33);
    CHECK(p1.n_positive(1) == 30);
    CHECK(p1.n_positive(0) + p2.n_positive(0) + p3.n_positive(0) == get(set, "CDS").n_positive(0));
}

TEST_CASE("derive_concepts: a phase shifts the frame, partial and incomplete CDS have no codons",
          "[annotate][concepts]") {
    using gx::Strand;
    gx::Annotation a;
    // Phase 2 on +: the first two bases finish a codon (positions 2, 3).
    // 32 bases, 30 after the phase: ten complete codons, the last a stop.
    a.features.push_back(feature("CDS", Strand::Forward, {{10, 42}}, "p2", {}, {2}));
    // 31 bases, phase 0, 5'-partial on -: no start codon; length not a multiple of 3: no stop.
    auto partial = feature("CDS", Strand::Reverse, {{100, 131}}, "pr", {}, {0});
    partial.partial_end = true;
    a.features.push_back(partial);
    a.finalize();
    const auto set = an::derive_concepts(a, contigs());
    CHECK(covers(fwd(get(set, "codon_pos_2")), 10));
    CHECK(covers(fwd(get(set, "codon_pos_3")), 11));
    CHECK(covers(fwd(get(set, "codon_pos_1")), 12));
    // Phase 2: the CDS starts mid-codon; the other is 5'-partial: no start codon at all, and a
    // concept without positions is left out.
    CHECK(set.concept_index("start_codon") < 0);
    CHECK(fwd(get(set, "stop_codon")) == Spans{{39, 42}});
    CHECK(rev(get(set, "stop_codon")).empty());
    CHECK(rev(get(set, "CDS")) == Spans{{100, 131}});
}

TEST_CASE("add_interval_concept: motif-like hits merge into positions, one element each",
          "[annotate][concepts]") {
    an::ConceptSet set;
    set.contigs = contigs();
    an::add_interval_concept(set,
                             "motif:M1",
                             "motif",
                             "hits of M1",
                             {gx::Interval{"c1", 10, 16, gx::Strand::Forward},
                              gx::Interval{"c1", 14, 20, gx::Strand::Forward},
                              gx::Interval{"c1", 50, 56, gx::Strand::Reverse},
                              gx::Interval{"c1", 90, 96, gx::Strand::Unknown}},
                             {"a", "b", "c", "d"});
    const auto& c = get(set, "motif:M1");
    CHECK(fwd(c) == Spans{{10, 20}, {90, 96}});
    CHECK(rev(c) == Spans{{50, 56}, {90, 96}});
    CHECK(c.elements.size() == 5);  // the unstranded hit is an element on each strand
    CHECK(c.n_positive() == 10 + 6 + 6 + 6);
    // Adding again extends the same concept.
    an::add_interval_concept(set,
                             "motif:M1",
                             "motif",
                             "hits of M1",
                             {gx::Interval{"c1", 200, 206, gx::Strand::Forward}});
    CHECK(set.concepts.size() == 1);
    CHECK(get(set, "motif:M1").elements.size() == 6);
    CHECK_THROWS_AS(an::add_interval_concept(
                        set, "x", "motif", "", {gx::Interval{"nope", 1, 5, gx::Strand::Forward}}),
                    evoscope::InputError);
    CHECK_THROWS_AS(
        an::add_interval_concept(
            set, "x", "motif", "", {gx::Interval{"c1", 995, 1005, gx::Strand::Forward}}),
        evoscope::InputError);
}

TEST_CASE("derive_concepts: a gap that holds another gene is not an intron (trans-splicing)",
          "[annotate][concepts]") {
    using gx::Strand;
    gx::Annotation a;
    // A CDS in two parts 500 bp apart around a whole gene (as chloroplast rps12), and a split CDS
    // whose gap holds no gene.
    a.features.push_back(
        feature("CDS", Strand::Forward, {{10, 40}, {700, 730}}, "trans", {}, {0, 0}));
    a.features.push_back(feature("gene", Strand::Reverse, {{300, 400}}, "inner"));
    a.features.push_back(feature("CDS", Strand::Forward, {{800, 830}, {860, 890}}, "cis", {}, {0}));
    a.finalize();
    const auto set = an::derive_concepts(a, contigs());
    CHECK(fwd(get(set, "intron")) == Spans{{830, 860}});
    CHECK(get(set, "intron").elements.size() == 1);
}
