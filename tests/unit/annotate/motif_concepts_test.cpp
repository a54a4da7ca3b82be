#include "annotate/motif_concepts.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.hpp"

using namespace evoscope::annotate;
namespace g = evoscope::genomics;

namespace {

g::MotifHit hit(std::size_t motif, std::int64_t begin, g::Strand strand, double p) {
    g::MotifHit h;
    h.motif = motif;
    h.contig = "chr1";
    h.begin = begin;
    h.end = begin + 6;
    h.strand = strand;
    h.pvalue = p;
    h.matched = "CACGTG";
    return h;
}

}  // namespace

TEST_CASE("Motif concepts: hits become stranded intervals grouped per motif",
          "[annotate][motif_concepts]") {
    std::vector<g::Motif> motifs(3);
    motifs[0].id = "MA0004.1";
    motifs[0].alt = "Arnt";
    motifs[1].id = "MA0006.1";
    motifs[2].id = "MA0009.1";
    const std::vector<g::MotifHit> hits = {hit(2, 100, g::Strand::Forward, 1e-5),
                                           hit(0, 40, g::Strand::Reverse, 2e-6),
                                           hit(2, 7, g::Strand::Reverse, 3e-5)};
    const auto groups = motif_hit_intervals(motifs, hits, 1e-4);
    REQUIRE(groups.size() == 2);  // motif 1 has no hit
    CHECK(groups[0].concept_name == "motif:MA0004.1");
    CHECK(groups[0].description == "motif MA0004.1 Arnt: 1 hits at p <= 0.0001 (motifs scan)");
    REQUIRE(groups[0].intervals.size() == 1);
    CHECK(groups[0].intervals[0] == g::Interval{"chr1", 40, 46, g::Strand::Reverse});
    CHECK(groups[0].labels[0] == "MA0004.1 CACGTG p=2e-06");
    CHECK(groups[1].concept_name == "motif:MA0009.1");
    REQUIRE(groups[1].intervals.size() == 2);
    CHECK(groups[1].intervals[0] == g::Interval{"chr1", 100, 106, g::Strand::Forward});
    CHECK(groups[1].intervals[1] == g::Interval{"chr1", 7, 13, g::Strand::Reverse});
    CHECK(groups[1].labels.size() == 2);

    std::vector<g::MotifHit> bad = {hit(5, 0, g::Strand::Forward, 0.1)};
    CHECK_THROWS_AS(motif_hit_intervals(motifs, bad, 1e-4), evoscope::InternalError);
}

TEST_CASE("Motif concepts: add_motif_concepts puts each hit on its strand as one element",
          "[annotate][motif_concepts]") {
    std::vector<g::Motif> motifs(2);
    motifs[0].id = "MA0004.1";
    motifs[1].id = "MA0009.1";
    ConceptSet set;
    set.contigs = {{"chr1", 1000}};
    const std::vector<g::MotifHit> hits = {hit(1, 100, g::Strand::Forward, 1e-5),
                                           hit(0, 40, g::Strand::Reverse, 2e-6),
                                           hit(1, 103, g::Strand::Forward, 3e-5)};
    CHECK(add_motif_concepts(set, motifs, hits, 1e-4) == 2);
    const auto a = set.concept_index("motif:MA0004.1");
    const auto b = set.concept_index("motif:MA0009.1");
    REQUIRE(a >= 0);
    REQUIRE(b >= 0);
    const auto& ca = set.concepts[static_cast<std::size_t>(a)];
    CHECK(ca.category == "motif");
    CHECK(ca.positive[1][0] == std::vector<Span>{{40, 46}});
    CHECK(ca.positive[0][0].empty());
    REQUIRE(ca.elements.size() == 1);
    CHECK(ca.elements[0].strand == 1);
    CHECK(ca.elements[0].label == "MA0004.1 CACGTG p=2e-06");
    const auto& cb = set.concepts[static_cast<std::size_t>(b)];
    CHECK(cb.positive[0][0] == std::vector<Span>{{100, 109}});  // overlapping hits merge
    CHECK(cb.elements.size() == 2);
    CHECK(cb.n_positive() == 9);
}
