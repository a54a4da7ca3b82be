#include "genomics/annotation.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>
#include <htslib/bgzf.h>

#include "core/error.hpp"
#include "core/strings.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope::genomics;
using Catch::Matchers::Contains;
using evoscope::FormatError;
using evoscope::InputError;
using evoscope::test::data_path;
using evoscope::test::fixture_path;
using evoscope::test::TempDir;
using evoscope::test::write_file;

namespace {

/// The contigs of a bundled genome, from its .fai (name and length columns).
ContigSet fai_contigs(const std::string& fasta) {
    std::vector<ContigInfo> contigs;
    std::istringstream in(evoscope::test::read_file(data_path(fasta + ".fai")));
    std::string name;
    std::int64_t length = 0;
    std::string rest;
    while (in >> name >> length && std::getline(in, rest))
        contigs.push_back({name, length});
    return ContigSet(contigs);
}

ContigSet mini_contigs() {
    std::vector<ContigInfo> contigs;
    for (const auto& [name, seq] : evoscope::test::plain_fasta(fixture_path("annotation/mini.fa")))
        contigs.push_back({name, static_cast<std::int64_t>(seq.size())});
    return ContigSet(contigs);
}

/// A feature reduced to what every format must agree on: type, contig, strand and the parts
/// (0-based begin, end, phase).
using Shape = std::
    tuple<std::string, std::string, char, std::vector<std::tuple<std::int64_t, std::int64_t, int>>>;

Shape shape(const AnnotationFeature& f) {
    std::vector<std::tuple<std::int64_t, std::int64_t, int>> parts;
    for (const auto& p : f.parts)
        parts.emplace_back(p.begin, p.end, p.phase);
    return {f.type, f.contig, strand_char(f.strand), parts};
}

/// The shapes of the features of the given types, as a multiset.
std::multiset<Shape> shapes(const Annotation& a, const std::set<std::string>& types) {
    std::multiset<Shape> out;
    for (const auto& f : a.features) {
        if (types.count(f.type) != 0)
            out.insert(shape(f));
    }
    return out;
}

/// Each feature of `type` with the shapes of its parents (IDs differ between formats; what
/// they point at must not).
std::multiset<std::pair<Shape, std::multiset<Shape>>> parent_links(const Annotation& a,
                                                                   const std::string& type) {
    std::multiset<std::pair<Shape, std::multiset<Shape>>> out;
    for (const auto& f : a.features) {
        if (f.type != type)
            continue;
        std::multiset<Shape> parents;
        for (const auto& id : f.parents) {
            const auto index = a.find(id);
            REQUIRE(index);
            parents.insert(shape(a.features[*index]));
        }
        out.emplace(shape(f), parents);
    }
    return out;
}

/// Independent count for a GFF3 file: per column-3 type, the distinct ID= values (a line
/// without ID counts on its own). Plain string handling, no shared code with the reader.
std::map<std::string, std::size_t> plain_gff3_counts(const std::filesystem::path& path) {
    std::map<std::string, std::set<std::string>> ids;
    std::istringstream in(evoscope::test::read_file(path));
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.rfind("##FASTA", 0) == 0)
            break;
        if (line.empty() || line[0] == '#')
            continue;
        std::vector<std::string> cols;
        std::stringstream ss(line);
        std::string col;
        while (std::getline(ss, col, '\t'))
            cols.push_back(col);
        REQUIRE(cols.size() == 9);
        std::string id = "line" + std::to_string(line_no);
        const auto at = cols[8].find("ID=");
        if (at == 0 || (at != std::string::npos && cols[8][at - 1] == ';'))
            id = cols[8].substr(at + 3, cols[8].find(';', at) - at - 3);
        ids[cols[2]].insert(id);
    }
    std::map<std::string, std::size_t> out;
    for (const auto& [type, set] : ids)
        out[type] = set.size();
    return out;
}

std::map<std::string, std::size_t> type_counts(const Annotation& a) {
    std::map<std::string, std::size_t> out;
    for (const auto& f : a.features)
        ++out[f.type];
    return out;
}

Annotation read_text(const TempDir& dir,
                     const std::string& name,
                     const std::string& text,
                     const ContigSet& contigs,
                     AnnotationOptions options = {}) {
    write_file(dir / name, text);
    return read_annotation(dir / name, contigs, options);
}

ContigSet two_contigs() {
    return ContigSet({{"chr1", 1000}, {"chr2", 500}});
}

}  // namespace

// --- real files -------------------------------------------------------------------------------

TEST_CASE("C. trachomatis GFF3: the README's counts, and an independent count",
          "[genomics][annotation]") {
    const auto path = data_path("genomes/ctrachomatis.gff3");
    const Annotation a = read_annotation(path, fai_contigs("genomes/ctrachomatis.fa"));
    CHECK(a.format == AnnotationFormat::Gff3);
    CHECK(a.count("CDS") == 895);
    CHECK(a.count("tRNA") == 37);
    CHECK(a.count("rRNA") == 6);
    CHECK(a.count("ncRNA") == 2);
    CHECK(type_counts(a) == plain_gff3_counts(path));
    CHECK(a.sequence_regions.at("CHLTCG") == 1042519);
    CHECK(a.n_skipped == 0);
    // Percent-decoding of column 9: "Exodeoxyribonuclease V%2C Alpha".
    const bool decoded = std::any_of(a.features.begin(), a.features.end(), [](const auto& f) {
        const std::string* product = f.attribute("product");
        return product != nullptr && *product == "Exodeoxyribonuclease V, Alpha";
    });
    CHECK(decoded);
    // The first CDS: 1..1176 on +, phase 0.
    const auto cds1 = a.find("CDS1");
    REQUIRE(cds1);
    const auto& f = a.features[*cds1];
    CHECK(f.contig == "CHLTCG");
    CHECK(f.strand == Strand::Forward);
    REQUIRE(f.parts.size() == 1);
    CHECK(f.parts[0].begin == 0);
    CHECK(f.parts[0].end == 1176);
    CHECK(f.parts[0].phase == 0);
    CHECK(f.name == "CT875");
}

TEST_CASE("A. thaliana chloroplast GFF3: split and trans-spliced CDS keep their parts and phases",
          "[genomics][annotation]") {
    const auto path = data_path("genomes/athaliana_chloroplast.gff3");
    const Annotation a = read_annotation(path, fai_contigs("genomes/athaliana_chloroplast.fa"));
    CHECK(a.count("CDS") == 85);
    CHECK(a.count("tRNA") == 37);
    CHECK(a.count("rRNA") == 7);
    CHECK(a.count("gene") == 129);
    CHECK(type_counts(a) == plain_gff3_counts(path));
    // rps16 (CDS4): 5084..5283 phase 2 and 6149..6188 phase 0 on the minus strand.
    const auto rps16 = a.find("CDS4");
    REQUIRE(rps16);
    const auto& f = a.features[*rps16];
    REQUIRE(f.parts.size() == 2);
    CHECK(f.strand == Strand::Reverse);
    CHECK(f.parts[0].begin == 5083);
    CHECK(f.parts[0].end == 5283);
    CHECK(f.parts[0].phase == 2);
    CHECK(f.parts[1].begin == 6148);
    CHECK(f.parts[1].end == 6188);
    CHECK(f.parts[1].phase == 0);
    CHECK(f.parents == std::vector<std::string>{"gene6"});
    CHECK(a.children(*a.find("gene6")) == std::vector<std::size_t>{*rps16});
    const auto rps12 = a.find("CDS1");
    REQUIRE(rps12);
    CHECK(a.features[*rps12].parts.size() == 3);
    std::size_t multi = 0;
    for (const auto& g : a.features)
        multi += g.type == "CDS" && g.parts.size() > 1 ? 1U : 0U;
    CHECK(multi == 15);  // 104 CDS lines for 85 CDS
}

TEST_CASE("E. coli 536 predicted GFF3: prodigal, aragorn and barrnap counts",
          "[genomics][annotation]") {
    const auto path = data_path("genomes/ecoli536.predicted.gff3");
    const Annotation a = read_annotation(path, fai_contigs("genomes/ecoli536.fa"));
    CHECK(a.count("CDS") == 4544);
    CHECK(a.count("tRNA") == 81);
    CHECK(a.count("tmRNA") == 1);
    CHECK(a.count("rRNA") == 15);
    CHECK(type_counts(a) == plain_gff3_counts(path));
    // prodigal's partial=10: the first gene runs off the left edge.
    const auto first = a.find("cds_1_1");
    REQUIRE(first);
    CHECK(a.features[*first].partial_begin);
    CHECK_FALSE(a.features[*first].partial_end);
    CHECK(a.features[*first].score == Approx(0.9));
}

TEST_CASE("The chloroplast GenBank file gives the same records as the GFF3 made from it",
          "[genomics][annotation][genbank]") {
    const ContigSet contigs = fai_contigs("genomes/athaliana_chloroplast.fa");
    const Annotation gff =
        read_annotation(data_path("genomes/athaliana_chloroplast.gff3"), contigs);
    const Annotation gb =
        read_annotation(data_path("genomes/athaliana_chloroplast.gb.gz"), contigs);
    CHECK(gb.format == AnnotationFormat::GenBank);
    CHECK(gb.count("CDS") == 85);
    CHECK(gb.count("tRNA") == 37);
    CHECK(gb.count("rRNA") == 7);
    CHECK(gb.count("gene") == 129);
    CHECK(gb.count("source") == 0);
    // Same CDS (strand, parts, phases), and the same genes, RNAs and exons.
    for (const std::string type : {"CDS", "gene", "tRNA", "rRNA", "exon"}) {
        INFO(type);
        CHECK(shapes(gb, {type}) == shapes(gff, {type}));
    }
    CHECK(parent_links(gb, "CDS") == parent_links(gff, "CDS"));
    CHECK(parent_links(gb, "tRNA") == parent_links(gff, "tRNA"));
    // Genes are linked by /locus_tag.
    const auto gene = gb.find("ArthCp004");
    REQUIRE(gene);
    CHECK(gb.features[*gene].name == "rps16");
    const auto kids = gb.children(*gene);
    REQUIRE(kids.size() == 1);
    CHECK(gb.features[kids[0]].type == "CDS");
    CHECK(*gb.features[kids[0]].attribute("product") == "ribosomal protein S16");
}

TEST_CASE("A real Ensembl-style GTF (Aedes aegypti, GenomicFeatures extdata)",
          "[genomics][annotation][gtf]") {
    const auto path = fixture_path("annotation/aedes_aegypti.partial.gtf.gz");
    // No FASTA comes with it: one contig long enough.
    const Annotation a = read_annotation(path, ContigSet({{"supercont1.1", 10'000'000}}));
    CHECK(a.format == AnnotationFormat::Gtf);
    // Counts from the kept attributes: exon lines, distinct transcript and gene ids.
    std::map<std::string, std::size_t> lines;
    std::set<std::string> transcripts;
    std::set<std::string> coding;
    std::set<std::string> genes;
    for (const auto& f : a.features) {
        if (f.type == "exon")
            ++lines["exon"];
        if (const std::string* t = f.attribute("transcript_id"); t && f.type != "gene") {
            transcripts.insert(*t);
            if (f.type == "CDS")
                coding.insert(*t);
        }
        if (const std::string* g = f.attribute("gene_id"))
            genes.insert(*g);
    }
    CHECK(lines["exon"] == 414);
    CHECK(a.count("gene") == genes.size());
    CHECK(a.count("mRNA") + a.count("transcript") == transcripts.size());
    CHECK(a.count("CDS") == coding.size());
    CHECK(a.count("stop_codon") > 0);
    // Every CDS with a stop codon now ends with it (3' end on its strand), and its phases
    // follow from the 5' end.
    std::size_t checked = 0;
    for (const auto& f : a.features) {
        if (f.type != "stop_codon")
            continue;
        const auto cds = a.find("CDS:" + f.parents.at(0));
        if (!cds)
            continue;
        const auto& c = a.features[*cds];
        if (f.strand == Strand::Forward) {
            CHECK(c.end() == f.end());
        } else {
            CHECK(c.begin() == f.begin());
        }
        std::int64_t length = 0;
        for (const auto& p : c.parts)
            length += p.end - p.begin;
        if (c.parts.front().phase == 0 && a.find("start_codon:" + f.parents.at(0)))
            CHECK(length % 3 == 0);
        ++checked;
    }
    CHECK(checked > 50);
}

TEST_CASE("The GTF2.2 specification's example (Twinscan)", "[genomics][annotation][gtf]") {
    const Annotation a =
        read_annotation(fixture_path("annotation/gtf22_twinscan.gtf"), ContigSet({{"381", 2000}}));
    const auto gene = a.find("381.000");
    const auto tx = a.find("381.000.1");
    const auto cds = a.find("CDS:381.000.1");
    REQUIRE(gene);
    REQUIRE(tx);
    REQUIRE(cds);
    CHECK(a.features[*gene].type == "gene");
    CHECK(a.features[*tx].type == "mRNA");
    CHECK(a.features[*tx].parents == std::vector<std::string>{"381.000"});
    CHECK(a.features[*tx].begin() == 149);
    CHECK(a.features[*tx].end() == 1000);
    // CDS 380..401, 501..650, 700..707 + stop codon 708..710.
    const auto& parts = a.features[*cds].parts;
    REQUIRE(parts.size() == 3);
    CHECK(parts[2].begin == 699);
    CHECK(parts[2].end == 710);
    CHECK(parts[0].phase == 0);
    CHECK(parts[1].phase == 2);
    CHECK(parts[2].phase == 2);
    CHECK(a.count("exon") == 5);
    CHECK(a.count("stop_codon") == 1);
    CHECK(a.count("start_codon") == 1);
}

// --- conformance ------------------------------------------------------------------------------

TEST_CASE("One annotation in GFF3, GTF, BED12 and GenBank reads to the same records",
          "[genomics][annotation][conformance]") {
    const ContigSet contigs = mini_contigs();
    const Annotation gff = read_annotation(fixture_path("annotation/mini.gff3"), contigs);
    const Annotation gtf = read_annotation(fixture_path("annotation/mini.gtf"), contigs);
    const Annotation bed = read_annotation(fixture_path("annotation/mini.bed"), contigs);
    const Annotation gb = read_annotation(fixture_path("annotation/mini.gb"), contigs);
    CHECK(gff.format == AnnotationFormat::Gff3);
    CHECK(gtf.format == AnnotationFormat::Gtf);
    CHECK(bed.format == AnnotationFormat::Bed);
    CHECK(gb.format == AnnotationFormat::GenBank);

    const std::set<std::string> types{"gene", "mRNA", "exon", "CDS"};
    const auto expected = shapes(gff, types);
    CHECK(expected.size() == 2 + 2 + 5 + 3);
    CHECK(shapes(gtf, types) == expected);
    CHECK(shapes(gb, types) == expected);
    CHECK(shapes(bed, {"mRNA", "exon", "CDS"}) == shapes(gff, {"mRNA", "exon", "CDS"}));
    // The minus-strand CDS: 5' part 461..491 phase 0, 3' part 371..420 phase 2 (stop included).
    const auto cds_b = gff.find("cdsB");
    REQUIRE(cds_b);
    CHECK(shape(gff.features[*cds_b]) == Shape{"CDS", "chrT", '-', {{370, 420, 2}, {460, 491, 0}}});

    const auto links = parent_links(gff, "CDS");
    CHECK(parent_links(gtf, "CDS") == links);
    CHECK(parent_links(bed, "CDS") == links);
    CHECK(parent_links(gb, "CDS") == links);
    CHECK(parent_links(gtf, "mRNA") == parent_links(gff, "mRNA"));
    CHECK(parent_links(gb, "mRNA") == parent_links(gff, "mRNA"));
    CHECK(parent_links(gb, "exon") == parent_links(gff, "exon"));

    // Format-specific extras.
    CHECK(gtf.count("stop_codon") == 2);
    CHECK(gtf.count("start_codon") == 2);
    CHECK(gtf.count("transcript") == 1);  // the tRNA's transcript
    CHECK(bed.count("transcript") == 1);
    CHECK(gb.count("misc_feature") == 0);  // 300^301 has no bases
    CHECK(gb.count("tRNA") == 1);
    const auto gb_cds = gb.find("CDS:geneA");
    REQUIRE(gb_cds);
    CHECK(*gb.features[*gb_cds].attribute("product") ==
          "protein alpha; a test protein whose note wraps onto the next line with \"quotes\" "
          "inside");
    CHECK(*gb.features[*gb_cds].attribute("translation") ==
          "MVGEIVNHFTEDTKFLLIQDLTSGVLRYIEARSCSSPSSIALSRGTSAN");
    CHECK(gb.features[*gb_cds].parents == std::vector<std::string>{"txA"});
    const auto trna = std::find_if(
        gb.features.begin(), gb.features.end(), [](const auto& f) { return f.type == "tRNA"; });
    REQUIRE(trna->attribute("pseudo") != nullptr);
    CHECK(trna->attribute("pseudo")->empty());
    CHECK(*gff.features[*gff.find("cdsA")].attribute("product") == "protein alpha; a test protein");
}

// --- GFF3 details -----------------------------------------------------------------------------

TEST_CASE("GFF3: multi-parent exons, forward references, ##FASTA, percent-decoding",
          "[genomics][annotation][gff3]") {
    TempDir dir;
    const Annotation a = read_text(dir,
                                   "a.gff3",
                                   "##gff-version 3\n"
                                   "chr1\t.\texon\t10\t20\t.\t+\t.\tParent=tx1,tx2;Name=e%3B1\n"
                                   "chr1\t.\tmRNA\t10\t90\t.\t+\t.\tID=tx1;Parent=g%2C1\n"
                                   "chr1\t.\tmRNA\t10\t80\t.\t+\t.\tID=tx2;Parent=g%2C1\n"
                                   "chr1\t.\tgene\t10\t90\t5.5\t?\t.\tID=g%2C1;Note=a b %25\n"
                                   "###\n"
                                   "##FASTA\n"
                                   ">chr1\n"
                                   "ACGT\n"
                                   "chr1\t.\tgene\t1\t2\t.\t+\t.\tID=not_read\n",
                                   two_contigs());
    REQUIRE(a.features.size() == 4);
    CHECK(a.features[0].parents == std::vector<std::string>{"tx1", "tx2"});
    CHECK(a.features[0].name == "e;1");
    CHECK(a.features[1].parents == std::vector<std::string>{"g,1"});
    CHECK(a.features[3].id == "g,1");
    CHECK(a.features[3].strand == Strand::Unknown);
    CHECK(a.features[3].score == Approx(5.5));
    CHECK(*a.features[3].attribute("Note") == "a b %");
    CHECK(a.children(1) == std::vector<std::size_t>{0});
    CHECK(a.children(2) == std::vector<std::size_t>{0});
    CHECK(a.children(3) == std::vector<std::size_t>{1, 2});
    CHECK_FALSE(a.find("not_read"));
    CHECK(a.features[0].parts[0].line == 2);
}

TEST_CASE("Real-world leniencies: CDS without phase, trailing tab, GTF named .gff",
          "[genomics][annotation]") {
    TempDir dir;
    const Annotation a =
        read_text(dir, "nophase.gff3", "chr1\t.\tCDS\t1\t30\t.\t+\t.\tID=c\n", two_contigs());
    REQUIRE(a.features.size() == 1);
    CHECK(a.features[0].parts[0].phase == -1);
    const Annotation g = read_text(dir,
                                   "ensembl.gff",
                                   "chr1\tt\texon\t1\t10\t.\t+\t.\tgene_id \"g\"; "
                                   "transcript_id \"t\";\t\n",
                                   two_contigs());
    CHECK(g.format == AnnotationFormat::Gtf);
    CHECK(g.count("exon") == 1);
    CHECK(g.count("transcript") == 1);
}

TEST_CASE("GFF3: features past the end wrap around circular contigs",
          "[genomics][annotation][gff3]") {
    TempDir dir;
    const std::string region = "chr2\t.\tregion\t1\t500\t.\t+\t.\tID=chr2;Is_circular=true\n";
    // 491..510 on a 500 bp circle: 491..500 then 1..10.
    const Annotation a = read_text(dir,
                                   "c.gff3",
                                   region + "chr2\t.\tCDS\t491\t510\t.\t+\t1\tID=c1\n" +
                                       "chr2\t.\tCDS\t496\t504\t.\t-\t0\tID=c2\n",
                                   two_contigs());
    const auto& c1 = a.features[*a.find("c1")];
    REQUIRE(c1.parts.size() == 2);
    CHECK(c1.parts[0].begin == 0);
    CHECK(c1.parts[0].end == 10);
    CHECK(c1.parts[1].begin == 490);
    CHECK(c1.parts[1].end == 500);
    CHECK(c1.parts[1].phase == 1);
    CHECK(c1.parts[0].phase == 0);  // 10 bases, 1 skipped: 9 = 3 codons, next starts clean
    // Minus strand: 1..4 is the 5' piece (phase 0 given), 496..500 follows.
    const auto& c2 = a.features[*a.find("c2")];
    REQUIRE(c2.parts.size() == 2);
    CHECK(c2.parts[0].phase == 0);
    CHECK(c2.parts[0].end == 4);
    CHECK(c2.parts[1].phase == 2);  // 4 bases: one codon + 1, so 2 bases to skip
    // Without Is_circular it is an error at that line.
    CHECK_THROWS_WITH(
        read_text(dir, "d.gff3", "chr2\t.\tCDS\t491\t510\t.\t+\t1\tID=c1\n", two_contigs()),
        Contains("d.gff3:1:") && Contains("beyond the end of contig 'chr2'"));
}

TEST_CASE("GFF3: malformed lines are FormatErrors at their line, lenient skips and counts",
          "[genomics][annotation][gff3]") {
    TempDir dir;
    const std::string good = "##gff-version 3\nchr1\t.\tgene\t1\t10\t.\t+\t.\tID=g\n";

    struct Case {
        std::string line;
        std::string message;
    };

    const std::vector<Case> cases = {
        {"chr1\t.\tgene\tx\t10\t.\t+\t.\tID=a", "invalid start 'x'"},
        {"chr1\t.\tgene\t0\t10\t.\t+\t.\tID=a", "1-based"},
        {"chr1\t.\tgene\t20\t10\t.\t+\t.\tID=a", "start 20 is after end 10"},
        {"chr1\t.\tgene\t1\t10\t.\t*\t.\tID=a", "invalid strand '*'"},
        {"chr1\t.\tCDS\t1\t10\t.\t+\t3\tID=a", "invalid phase '3'"},
        {"chr1\t.\tgene\t1\t10\t.\t+\t.", "expected 9 tab-separated columns"},
        {"chr1\t.\tgene\t1\t10\tx\t+\t.\tID=a", "invalid score 'x'"},
        {"chr1\t.\tgene\t1\t10\t.\t+\t.\tID", "is not tag=value"},
        {"chr1\t.\tmRNA\t1\t10\t.\t+\t.\tID=g", "IDs must be unique"},
    };
    for (const auto& c : cases) {
        INFO(c.line);
        write_file(dir / "bad.gff3", good + c.line + "\n");
        CHECK_THROWS_AS(read_annotation(dir / "bad.gff3", two_contigs()), FormatError);
        CHECK_THROWS_WITH(read_annotation(dir / "bad.gff3", two_contigs()),
                          Contains((dir / "bad.gff3").string() + ":3: ") && Contains(c.message));
    }
    // Unknown Parent: reported at the child's line after the whole file was read.
    write_file(dir / "orphan.gff3", good + "chr1\t.\tmRNA\t1\t10\t.\t+\t.\tID=t;Parent=nope\n");
    CHECK_THROWS_WITH(read_annotation(dir / "orphan.gff3", two_contigs()),
                      Contains("orphan.gff3:3: Parent 'nope'"));
    // Unknown contig and end past the contig: InputError naming the line.
    write_file(dir / "contig.gff3", good + "chrX\t.\tgene\t1\t10\t.\t+\t.\tID=x\n");
    CHECK_THROWS_AS(read_annotation(dir / "contig.gff3", two_contigs()), InputError);
    CHECK_THROWS_WITH(read_annotation(dir / "contig.gff3", two_contigs()),
                      Contains("unknown contig 'chrX' at ") && Contains("contig.gff3:3"));
    write_file(dir / "long.gff3", good + "chr2\t.\tgene\t1\t501\t.\t+\t.\tID=x\n");
    CHECK_THROWS_AS(read_annotation(dir / "long.gff3", two_contigs()), InputError);
    CHECK_THROWS_WITH(read_annotation(dir / "long.gff3", two_contigs()),
                      Contains("long.gff3:3: end 501 is beyond the end of contig 'chr2' (500 bp)"));

    // Lenient: every bad line skipped and counted; the good ones kept.
    std::string all = good;
    for (const auto& c : cases)
        all += c.line + "\n";
    all += "chr1\t.\tmRNA\t1\t10\t.\t+\t.\tID=t;Parent=nope\n";
    AnnotationOptions lenient;
    lenient.lenient = true;
    const Annotation a = read_text(dir, "all.gff3", all, two_contigs(), lenient);
    CHECK(a.n_skipped == cases.size() + 1);
    REQUIRE(a.features.size() == 1);
    CHECK(a.features[0].id == "g");

    // skip_unknown_contigs: the feature and its children are dropped and counted.
    AnnotationOptions skip;
    skip.skip_unknown_contigs = true;
    const Annotation s = read_text(dir,
                                   "skip.gff3",
                                   good + "chrX\t.\tgene\t1\t10\t.\t+\t.\tID=x\n" +
                                       "chrX\t.\tmRNA\t1\t10\t.\t+\t.\tID=xt;Parent=x\n" +
                                       "chr1\t.\texon\t1\t10\t.\t+\t.\tParent=xt\n",
                                   two_contigs(),
                                   skip);
    CHECK(s.features.size() == 1);
    CHECK(s.n_unknown_contig == 3);
}

// --- GTF details ------------------------------------------------------------------------------

TEST_CASE("GTF: stop codons split across exons are merged into the CDS on both strands",
          "[genomics][annotation][gtf]") {
    TempDir dir;
    const std::string p = "gene_id \"g1\"; transcript_id \"t1\";";
    const std::string m = "gene_id \"g2\"; transcript_id \"t2\";";
    // + strand: CDS 11..100 and 201..209 (99 bases), stop codon 210..211 + 301 (split).
    // - strand: CDS 602..700 (99 bases), stop codon 600..601 + 500 (split across an intron).
    const std::string text = "chr1\tt\texon\t1\t211\t.\t+\t.\t" + p + "\n" +   //
                             "chr1\tt\tCDS\t11\t100\t.\t+\t0\t" + p + "\n" +   //
                             "chr1\tt\tCDS\t201\t209\t.\t+\t0\t" + p + "\n" +  //
                             "chr1\tt\tstop_codon\t210\t211\t.\t+\t0\t" + p + "\n" +
                             "chr1\tt\texon\t301\t320\t.\t+\t.\t" + p + "\n" +  //
                             "chr1\tt\tstop_codon\t301\t301\t.\t+\t1\t" + p + "\n" +
                             "chr1\tt\texon\t450\t500\t.\t-\t.\t" + m + "\n" +  //
                             "chr1\tt\tstop_codon\t500\t500\t.\t-\t2\t" + m + "\n" +
                             "chr1\tt\texon\t599\t720\t.\t-\t.\t" + m + "\n" +  //
                             "chr1\tt\tCDS\t602\t700\t.\t-\t0\t" + m + "\n" +   //
                             "chr1\tt\tstop_codon\t600\t601\t.\t-\t0\t" + m + "\n";
    const Annotation a = read_text(dir, "s.gtf", text, two_contigs());
    const auto& c1 = a.features[*a.find("CDS:t1")];
    REQUIRE(c1.parts.size() == 3);
    CHECK(c1.parts[0].begin == 10);
    CHECK(c1.parts[0].end == 100);
    CHECK(c1.parts[1].begin == 200);
    CHECK(c1.parts[1].end == 211);
    CHECK(c1.parts[2].begin == 300);
    CHECK(c1.parts[2].end == 301);
    CHECK(c1.parts[2].phase == 1);  // 90 + 11 = 101 bases: 33 codons + 2, 1 to skip
    const auto& c2 = a.features[*a.find("CDS:t2")];
    REQUIRE(c2.parts.size() == 2);
    CHECK(c2.parts[0].begin == 499);
    CHECK(c2.parts[0].end == 500);
    CHECK(c2.parts[0].phase == 1);  // 99 + 2 = 101 bases before it
    CHECK(c2.parts[1].begin == 599);
    CHECK(c2.parts[1].end == 700);
    CHECK(a.count("stop_codon") == 2);
    CHECK(a.features[*a.find("stop_codon:t1")].parts.size() == 2);
    // Synthesised parents: gene g1 then mRNA t1 before t1's first line.
    CHECK(a.features[0].type == "gene");
    CHECK(a.features[0].id == "g1");
    CHECK(a.features[1].type == "mRNA");
    CHECK(a.features[1].id == "t1");
    CHECK(a.features[1].begin() == 0);
    CHECK(a.features[1].end() == 320);
    CHECK(a.features[2].type == "exon");
    CHECK(a.features[1].parents == std::vector<std::string>{"g1"});
}

TEST_CASE("GTF: explicit gene/transcript lines (Ensembl) and malformed lines",
          "[genomics][annotation][gtf]") {
    TempDir dir;
    const Annotation a =
        read_text(dir,
                  "e.gtf",
                  "#!genome-build test\n"
                  "chr1\tensembl\tgene\t1\t100\t.\t+\t.\tgene_id \"G\"; gene_name \"GN\"; "
                  "gene_biotype \"lncRNA\";\n"
                  "chr1\tensembl\ttranscript\t1\t100\t.\t+\t.\tgene_id \"G\"; transcript_id "
                  "\"T\"; transcript_name \"TN\";\n"
                  "chr1\tensembl\texon\t1\t100\t.\t+\t.\tgene_id \"G\"; transcript_id \"T\"; "
                  "exon_number 1; note \"a;b\";\n",
                  two_contigs());
    REQUIRE(a.features.size() == 3);
    CHECK(a.features[0].id == "G");
    CHECK(a.features[0].name == "GN");
    CHECK(a.features[1].type == "transcript");
    CHECK(a.features[1].name == "TN");
    CHECK(a.features[2].parents == std::vector<std::string>{"T"});
    CHECK(*a.features[2].attribute("exon_number") == "1");
    CHECK(*a.features[2].attribute("note") == "a;b");

    const std::string ok = "chr1\tt\texon\t1\t10\t.\t+\t.\tgene_id \"g\"; transcript_id \"t\";\n";
    write_file(dir / "bad.gtf", ok + "chr1\tt\texon\t1\t10\t.\t+\t.\ttranscript_id \"t\";\n");
    CHECK_THROWS_WITH(read_annotation(dir / "bad.gtf", two_contigs()),
                      Contains("bad.gtf:2: exon line without gene_id"));
    write_file(dir / "bad.gtf", ok + "chr1\tt\texon\t1\t10\t.\t+\t.\tgene_id \"g\";\n");
    CHECK_THROWS_WITH(read_annotation(dir / "bad.gtf", two_contigs()),
                      Contains("bad.gtf:2: exon line without transcript_id"));
    write_file(dir / "bad.gtf", ok + "chr1\tt\texon\t1\t10\t.\t+\t.\tgene_id \"g; transcript_id\n");
    CHECK_THROWS_WITH(read_annotation(dir / "bad.gtf", two_contigs()),
                      Contains("bad.gtf:2: unterminated quote"));
    write_file(dir / "bad.gtf",
               ok + "chr1\tt\texon\t1\t10\t.\t-\t.\tgene_id \"g\"; transcript_id \"t\";\n");
    CHECK_THROWS_WITH(read_annotation(dir / "bad.gtf", two_contigs()),
                      Contains("bad.gtf:2: gene 'g' is on chr1 (+) at line 1"));
}

// --- BED --------------------------------------------------------------------------------------

TEST_CASE("BED3-BED6 give one feature per line, BED12 errors name the line",
          "[genomics][annotation][bed]") {
    TempDir dir;
    AnnotationOptions options;
    options.bed_type = "peak";
    const Annotation a = read_text(dir,
                                   "p.bed",
                                   "browser position chr1\ntrack name=x\n# c\n"
                                   "chr1\t0\t10\n"
                                   "chr1\t5\t20\tp2\n"
                                   "chr2\t5\t20\tp3\t7.5\t-\n"
                                   "chr2 30 40 p4 0 +\n",
                                   two_contigs(),
                                   options);
    REQUIRE(a.features.size() == 4);
    CHECK(a.count("peak") == 4);
    CHECK(a.features[0].name.empty());
    CHECK(a.features[1].name == "p2");
    CHECK(a.features[2].score == Approx(7.5));
    CHECK(a.features[2].strand == Strand::Reverse);
    CHECK(a.features[3].strand == Strand::Forward);
    CHECK(a.features[3].line == 7);
    CHECK(a.features[0].source == "BED");

    // Repeated BED12 names get unique IDs.
    const std::string row = "chr1\t0\t100\tdup\t0\t+\t10\t90\t0\t2\t40,30,\t0,70,\n";
    const Annotation d = read_text(dir, "d.bed", row + row, two_contigs());
    CHECK(d.find("dup"));
    CHECK(d.find("dup_2"));
    CHECK(d.count("exon") == 4);
    const auto& cds = d.features[*d.find("CDS:dup")];
    REQUIRE(cds.parts.size() == 2);
    CHECK(cds.parts[0].begin == 10);
    CHECK(cds.parts[0].end == 40);
    CHECK(cds.parts[1].phase == 0);  // 30 bases before it

    const std::vector<std::pair<std::string, std::string>> bad = {
        {"chr1\t10\t5\tx", "begin 10 is after end 5"},
        {"chr1\tx\t5\tx", "invalid begin 'x'"},
        {"chr1\t1\t5\tx\t0\t*", "invalid strand '*'"},
        {"chr1\t0\t100\tx\t0\t+\t10\t90\t0\t2\t40,30,\t0,60,", "do not start at chromStart"},
        {"chr1\t0\t100\tx\t0\t+\t10\t90\t0\t3\t40,30,\t0,70,", "blockCount 3"},
        {"chr1\t0\t100\tx\t0\t+\t10\t190\t0\t2\t40,30,\t0,70,", "thickStart..thickEnd"},
        {"chr1\t0\t100\tx\t0\t+\t10\t90\t0\t2\t40,50,\t0,30,", "overlaps the block before it"},
    };
    for (const auto& [line, message] : bad) {
        INFO(line);
        write_file(dir / "bad.bed", "chr1\t0\t1\n" + line + "\n");
        CHECK_THROWS_WITH(read_annotation(dir / "bad.bed", two_contigs()),
                          Contains("bad.bed:2: ") && Contains(message));
    }
    write_file(dir / "bad.bed", "chr1\t0\t1001\n");
    CHECK_THROWS_AS(read_annotation(dir / "bad.bed", two_contigs()), InputError);
}

// --- GenBank details --------------------------------------------------------------------------

TEST_CASE("GenBank: locations, several records, contig by VERSION/ACCESSION/LOCUS",
          "[genomics][annotation][genbank]") {
    TempDir dir;
    auto record =
        [](const std::string& locus, const std::string& accession, const std::string& features) {
            return "LOCUS       " + locus + "   1000 bp    DNA     circular BCT 01-JAN-2000\n" +
                   "ACCESSION   " + accession + "\nVERSION     " + accession + ".1\n" +
                   "FEATURES             Location/Qualifiers\n" + features +
                   "ORIGIN\n        1 acgt\n//\n";
        };
    const std::string f1 =
        "     gene            <1..>50\n"
        "                     /locus_tag=\"T1\"\n"
        "     CDS             <1..>50\n"
        "                     /locus_tag=\"T1\"\n"
        "                     /codon_start=2\n"
        "     CDS             complement(join(100..110,\n"
        "                     200..210))\n"
        "                     /locus_tag=T2\n"
        "     misc_feature    order(300..310,320)\n"
        "                     /note=\"unquoted is fine\"\n"
        "     CDS             join(990..1000,1..10)\n"
        "                     /gene=\"wrap\"\n"
        "     misc_feature    complement(995..5)\n"
        "                     /note=\"spans the origin\"\n";
    const std::string f2 = "     rRNA            1..30\n                     /gene=\"rrs\"\n";
    // Record 1 is known by its VERSION, record 2 by its ACCESSION only, record 3 by LOCUS.
    const ContigSet contigs({{"NZ_A.1", 1000}, {"NZ_B", 500}, {"locus3", 40}});
    const Annotation a = read_text(
        dir,
        "m.gbk",
        record("locus1", "NZ_A", f1) + record("locus2", "NZ_B", f2) + record("locus3", "NZ_C", f2),
        contigs);
    REQUIRE(a.count("CDS") == 3);
    const auto& partial = a.features[*a.find("CDS:T1")];
    CHECK(partial.contig == "NZ_A.1");
    CHECK(partial.partial_begin);
    CHECK(partial.partial_end);
    CHECK(partial.parts[0].phase == 1);
    CHECK(partial.parents == std::vector<std::string>{"T1"});
    const auto& rev = a.features[*a.find("CDS:T2")];
    CHECK(rev.strand == Strand::Reverse);
    REQUIRE(rev.parts.size() == 2);
    CHECK(rev.parts[1].phase == 0);  // 200..210 is the 5' part
    CHECK(rev.parts[0].phase == 1);  // 11 bases before: 3 codons + 2, 1 to skip
    const auto& wrap = a.features[*a.find("CDS:wrap")];
    REQUIRE(wrap.parts.size() == 2);
    CHECK(wrap.parts[0].begin == 0);
    CHECK(wrap.parts[1].end == 1000);
    CHECK(wrap.parts[0].phase == 1);  // after 11 bases of 990..1000
    // complement(995..5) on the circular record: 995..1000 and 1..5, minus strand.
    const auto origin = std::find_if(a.features.begin(), a.features.end(), [](const auto& f) {
        return f.attribute("note") != nullptr && *f.attribute("note") == "spans the origin";
    });
    REQUIRE(origin != a.features.end());
    CHECK(shape(*origin) == Shape{"misc_feature", "NZ_A.1", '-', {{0, 5, -1}, {994, 1000, -1}}});
    const auto misc = std::find_if(a.features.begin(), a.features.end(), [](const auto& f) {
        return f.type == "misc_feature";
    });
    REQUIRE(misc != a.features.end());
    CHECK(misc->parts.size() == 2);
    CHECK(*misc->attribute("note") == "unquoted is fine");
    CHECK(a.count("rRNA") == 2);
    CHECK(a.count("exon") == 2);  // the rRNAs' synthesised exons
    std::set<std::string> contig_names;
    for (const auto& f : a.features)
        contig_names.insert(f.contig);
    CHECK(contig_names == std::set<std::string>{"NZ_A.1", "NZ_B", "locus3"});

    // Unknown record: InputError, or skipped with skip_unknown_contigs.
    const std::string unknown = record("other", "NZ_X", f2);
    CHECK_THROWS_AS(read_text(dir, "u.gb", unknown, contigs), InputError);
    AnnotationOptions skip;
    skip.skip_unknown_contigs = true;
    const Annotation s =
        read_text(dir, "u.gb", unknown + record("locus2", "NZ_B", f2), contigs, skip);
    CHECK(s.n_unknown_contig == 1);
    CHECK(s.count("rRNA") == 1);

    // Broken locations are FormatErrors at the feature's line.
    for (const std::string loc : {"join(1..10", "10..5", "1..x", "J00194.1:100..202", "5^9"}) {
        INFO(loc);
        std::string text = record("locus1", "NZ_A", "     CDS             " + loc + "\n");
        text.replace(text.find("circular"), 8, "linear  ");  // 10..5 is an error only there
        write_file(dir / "bad.gb", text);
        CHECK_THROWS_AS(read_annotation(dir / "bad.gb", contigs), FormatError);
        CHECK_THROWS_WITH(read_annotation(dir / "bad.gb", contigs), Contains("bad.gb:5: "));
    }
    AnnotationOptions lenient;
    lenient.lenient = true;
    const Annotation l = read_text(dir,
                                   "l.gb",
                                   record("locus1", "NZ_A", "     CDS             join(1..\n" + f2),
                                   contigs,
                                   lenient);
    CHECK(l.n_skipped == 1);
    CHECK(l.count("rRNA") == 1);
}

// --- input handling ---------------------------------------------------------------------------

TEST_CASE("Annotation input: gzip/bgzip, content sniffing, format names, stdin",
          "[genomics][annotation]") {
    TempDir dir;
    const std::string gff = evoscope::test::read_file(fixture_path("annotation/mini.gff3"));
    {
        BGZF* out = bgzf_open((dir / "mini.gff3.gz").c_str(), "w");
        REQUIRE(out != nullptr);
        REQUIRE(bgzf_write(out, gff.data(), gff.size()) == static_cast<ssize_t>(gff.size()));
        REQUIRE(bgzf_close(out) == 0);
    }
    const ContigSet contigs = mini_contigs();
    const Annotation plain = read_annotation(fixture_path("annotation/mini.gff3"), contigs);
    const Annotation bgz = read_annotation(dir / "mini.gff3.gz", contigs);
    CHECK(bgz.format == AnnotationFormat::Gff3);
    CHECK(shapes(bgz, {"gene", "mRNA", "exon", "CDS", "tRNA"}) ==
          shapes(plain, {"gene", "mRNA", "exon", "CDS", "tRNA"}));

    // Unknown extensions: the content decides.
    for (const std::string name : {"mini.gff3", "mini.gtf", "mini.bed", "mini.gb"}) {
        INFO(name);
        write_file(dir / (name + ".txt"),
                   evoscope::test::read_file(fixture_path("annotation/" + name)));
        const Annotation by_ext = read_annotation(fixture_path("annotation/" + name), contigs);
        const Annotation sniffed = read_annotation(dir / (name + ".txt"), contigs);
        CHECK(sniffed.format == by_ext.format);
        CHECK(sniffed.features.size() == by_ext.features.size());
    }
    write_file(dir / "junk.txt", "hello world\n");
    CHECK_THROWS_AS(read_annotation(dir / "junk.txt", contigs), FormatError);
    CHECK_THROWS_AS(read_annotation("-", contigs), InputError);  // stdin needs a format
    CHECK_THROWS_AS(read_annotation(dir / "missing.gff3", contigs), evoscope::IoError);

    CHECK(parse_annotation_format("GFF3") == AnnotationFormat::Gff3);
    CHECK(parse_annotation_format("gtf") == AnnotationFormat::Gtf);
    CHECK(parse_annotation_format("bed") == AnnotationFormat::Bed);
    CHECK(parse_annotation_format("genbank") == AnnotationFormat::GenBank);
    CHECK(std::string(annotation_format_name(AnnotationFormat::GenBank)) == "genbank");
    CHECK_THROWS_WITH(parse_annotation_format("vcf"), Contains("gff3, gtf, bed, genbank"));

    // finalize() on a hand-made annotation.
    Annotation hand;
    hand.features.resize(2);
    hand.features[0].id = "p";
    hand.features[0].type = "gene";
    hand.features[1].parents = {"p"};
    hand.finalize();
    CHECK(hand.children(0) == std::vector<std::size_t>{1});
    CHECK(hand.count("gene") == 1);
}
