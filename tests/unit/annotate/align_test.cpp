#include "annotate/align.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "store/activation_store.hpp"
#include "store/feature_store.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope;
using namespace evoscope::annotate;

namespace {

/// A concept with spans on one strand of contig 0; each span is one element (when `elements`).
Concept make_concept(const std::string& name,
                     int strand,
                     std::size_t n_contigs,
                     const std::vector<Span>& spans,
                     bool elements = true,
                     std::int32_t contig = 0) {
    Concept c;
    c.name = name;
    c.category = "test";
    for (auto& per : c.positive) {
        per.resize(n_contigs);
    }
    c.positive[static_cast<std::size_t>(strand)][static_cast<std::size_t>(contig)] = spans;
    if (elements) {
        for (const auto& s : spans) {
            ConceptElement e;
            e.contig = contig;
            e.strand = static_cast<std::uint8_t>(strand);
            e.parts = {s};
            c.elements.push_back(e);
        }
    }
    return c;
}

DenseTrack forward_track(const std::string& name, std::vector<float> forward) {
    DenseTrack t;
    t.name = name;
    t.values[1] = {std::vector<float>(forward.size(), 0.0f)};
    t.values[0] = {std::move(forward)};
    return t;
}

}  // namespace

TEST_CASE("align: metrics of a tiny genome match hand-computed values", "[annotate][align]") {
    ConceptSet set;
    set.contigs = {{"chr1", 20}};
    set.concepts.push_back(make_concept("X", 0, 1, {{2, 6}, {12, 16}}));
    std::vector<float> v(20, 0.0f);
    v[3] = 1.0f;
    v[4] = 1.0f;
    v[5] = 0.1f;
    v[13] = 0.5f;
    v[14] = 1.0f;
    v[18] = 1.0f;
    std::vector<DenseTrack> tracks;
    tracks.push_back(forward_track("t", v));
    const auto source = make_track_source(set.contigs, std::move(tracks), 4);
    AlignConfig config;
    config.split_block_bp = 10;  // [0,10) validation, [10,20) test
    config.n_shifts = 0;
    config.threads = 2;
    const AlignResult r = align(*source, set, config);
    const AlignCounts& c = r.counts;
    REQUIRE(c.rows == std::vector<std::uint64_t>{20, 20});

    const Metrics t0 = metrics_at(c, 1, 0, 0, 0, kSame);
    CHECK(t0.active == 3);
    CHECK(t0.tp == 2);
    CHECK(t0.positive == 4);
    CHECK(t0.precision == Approx(2.0 / 3));
    CHECK(t0.recall == Approx(0.5));
    CHECK(t0.f1 == Approx(4.0 / 7));
    CHECK(t0.element_recall == Approx(1.0));
    CHECK(t0.domain_f1 == Approx(0.8));

    const Metrics t06 = metrics_at(c, 1, 0, 0, 3, kSame);  // threshold 0.6
    CHECK(t06.active == 2);
    CHECK(t06.tp == 1);
    CHECK(t06.f1 == Approx(1.0 / 3));

    const Metrics opp = metrics_at(c, 1, 0, 0, 0, kOpposite);
    CHECK(opp.positive == 4);
    CHECK(opp.tp == 0);
    const Metrics pooled = metrics_at(c, 1, 0, 0, 0, kPooled);
    CHECK(pooled.positive == 8);
    CHECK(pooled.tp == 2);
    CHECK(pooled.recall == Approx(0.25));

    const Metrics val = metrics_at(c, 0, 0, 0, 1, kSame);  // threshold 0.15 on validation
    CHECK(val.active == 2);
    CHECK(val.tp == 2);
    CHECK(val.recall == Approx(0.5));
    CHECK(val.element_recall == Approx(1.0));

    const auto [auroc, auprc] = auc_at(c, 1, 0, 0, kSame);
    CHECK(auroc == Approx(45.5 / 64));
    CHECK(auprc == Approx(0.125 + 0.25 * 2.0 / 3 + 0.1));

    REQUIRE(r.concepts.size() == 1);
    const ConceptResult& cr = r.concepts[0];
    CHECK(cr.feature == 0);
    CHECK(cr.threshold == 0);  // domain F1 1.0 at every threshold: the first is kept
    CHECK(cr.sense == kSame);
    CHECK(cr.val_score == Approx(1.0));
    CHECK(cr.test_score == Approx(0.8));
    CHECK(cr.trivial_f1 == Approx(2 * 0.2 / 1.2));
    CHECK(cr.n_positive == 8);
    CHECK(cr.n_elements == 2);
}

namespace {

struct RandomCase {
    ConceptSet set;
    std::vector<Span> spans;
};

/// Random spans of 20-200 bp covering about a fifth of a contig.
std::vector<Span> random_spans(std::mt19937& rng, std::int64_t length, int n) {
    std::vector<Span> spans;
    std::uniform_int_distribution<std::int64_t> len(20, 200);
    const std::int64_t step = length / n;
    for (int i = 0; i < n; ++i) {
        const std::int64_t b =
            i * step + (std::uniform_int_distribution<std::int64_t>(0, step / 2))(rng);
        spans.push_back({b, std::min(b + len(rng), (i + 1) * step - 1)});
    }
    return spans;
}

}  // namespace

TEST_CASE(
    "align: a track equal to a concept gets F1 1 and p at the floor, a shifted copy does "
    "not clear chance",
    "[annotate][align]") {
    std::mt19937 rng(7);
    const std::int64_t L = 60000;
    ConceptSet set;
    set.contigs = {{"chr1", L}};
    const auto spans = random_spans(rng, L, 60);
    set.concepts.push_back(make_concept("X", 0, 1, spans, false));
    std::vector<float> equal(static_cast<std::size_t>(L), 0.0f);
    std::vector<float> shifted(static_cast<std::size_t>(L), 0.0f);
    std::vector<float> noise(static_cast<std::size_t>(L), 0.0f);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (const auto& s : spans) {
        for (std::int64_t p = s.begin; p < s.end; ++p) {
            equal[static_cast<std::size_t>(p)] = 1.0f;
            shifted[static_cast<std::size_t>((p + 7777) % L)] = 1.0f;
        }
    }
    for (auto& x : noise) {
        x = u(rng) < 0.3f ? u(rng) : 0.0f;
    }
    AlignConfig config;
    config.split_block_bp = 5000;
    config.n_shifts = 19;
    config.threads = 2;
    SECTION("equal") {
        std::vector<DenseTrack> tracks;
        tracks.push_back(forward_track("equal", equal));
        tracks.push_back(forward_track("noise", noise));
        const auto source = make_track_source(set.contigs, std::move(tracks));
        const AlignResult r = align(*source, set, config);
        const ConceptResult& cr = r.concepts[0];
        CHECK_FALSE(cr.domain_score);
        CHECK(cr.feature == 0);
        CHECK(cr.test.f1 == Approx(1.0));
        CHECK(cr.test_score == Approx(1.0));
        CHECK(cr.p_value == Approx(1.0 / 20));
        CHECK(cr.clears_chance);
        REQUIRE(cr.null_scores.size() == 19);
        CHECK(*std::max_element(cr.null_scores.begin(), cr.null_scores.end()) < 0.5);
    }
    SECTION("shifted copy") {
        std::vector<DenseTrack> tracks;
        tracks.push_back(forward_track("shifted", shifted));
        const auto source = make_track_source(set.contigs, std::move(tracks));
        const AlignResult r = align(*source, set, config);
        const ConceptResult& cr = r.concepts[0];
        CHECK(cr.test_score < 0.5);
        CHECK(cr.p_value > 0.1);
        CHECK_FALSE(cr.clears_chance);
    }
}

namespace {

/// A random feature store: 2 contigs, some positions uncovered, small chunks so that elements
/// cross blocks.
void write_random_store(const std::filesystem::path& dir,
                        std::mt19937& rng,
                        std::int64_t d_sae,
                        const std::vector<sae::FeatureContig>& contigs) {
    sae::FeatureStoreHeader h;
    h.d_sae = d_sae;
    h.contigs = contigs;
    sae::FeatureStoreWriter writer(dir, h, 64);
    std::uniform_int_distribution<int> n_dist(0, 4);
    std::uniform_int_distribution<std::uint32_t> id_dist(0, static_cast<std::uint32_t>(d_sae - 1));
    std::uniform_real_distribution<float> value_dist(0.01f, 3.0f);
    for (const auto& c : contigs) {
        for (char strand : {'+', '-'}) {
            // covered [0, length) except a gap on '-'
            const std::vector<std::pair<std::int64_t, std::int64_t>> ranges =
                strand == '+' ? std::vector<std::pair<std::int64_t, std::int64_t>>{{0, c.length}}
                              : std::vector<std::pair<std::int64_t, std::int64_t>>{
                                    {0, c.length / 3}, {c.length / 3 + 50, c.length}};
            for (const auto& [b, e] : ranges) {
                std::vector<std::int64_t> row_ptr{0};
                std::vector<std::uint32_t> ids;
                std::vector<float> values;
                for (std::int64_t p = b; p < e; ++p) {
                    std::set<std::uint32_t> chosen;
                    const int n = n_dist(rng);
                    while (static_cast<int>(chosen.size()) < n) {
                        chosen.insert(id_dist(rng));
                    }
                    for (auto id : chosen) {
                        ids.push_back(id);
                        // a few exact ties with thresholds and bin edges
                        values.push_back(id % 7 == 0 ? 1.5f : value_dist(rng));
                    }
                    row_ptr.push_back(static_cast<std::int64_t>(ids.size()));
                }
                writer.append(c.name, b, e, strand, row_ptr, ids, values);
            }
        }
    }
    writer.commit();
}

}  // namespace

TEST_CASE("align: the streaming counts equal a plain dense loop on random stores",
          "[annotate][align]") {
    test::TempDir tmp;
    std::mt19937 rng(11);
    const std::vector<sae::FeatureContig> contigs{{"a", 700}, {"b", 450}};
    write_random_store(tmp / "store", rng, 24, contigs);
    const auto source = open_feature_store_source(tmp / "store");
    ConceptSet set;
    set.contigs = {{"b", 450}, {"a", 700}};  // another order than the store's
    for (int c = 0; c < 5; ++c) {
        const int strand = c % 2;
        const std::int32_t contig = c % 3 == 0 ? 1 : 0;
        const std::int64_t L = contig == 1 ? 700 : 450;
        auto spans = random_spans(rng, L, 4);
        Concept cc = make_concept("c" + std::to_string(c), strand, 2, spans, true, contig);
        // one multi-part element crossing chunks
        ConceptElement e;
        e.contig = contig;
        e.strand = static_cast<std::uint8_t>(strand);
        e.parts = {spans[0], spans[2]};
        cc.elements.push_back(e);
        set.concepts.push_back(cc);
    }
    for (const bool by_block : {true, false}) {
        AlignConfig config;
        config.split_block_bp = 100;
        config.threads = 2;
        config.n_bins = 16;
        config.min_split_fraction = by_block ? 0.45 : 0.1;  // 450 of 1,150 bp: 39 %
        const SplitPlan split = plan_split(*source, set, config);
        CHECK(split.by_contig == !by_block);
        const AlignCounts fast = count_alignment(*source, set, split, config);
        const AlignCounts ref = count_alignment_reference(*source, set, split, config);
        CHECK(fast.rows == ref.rows);
        CHECK(fast.rows[0] + fast.rows[1] == 2 * (700 + 450) - 2 * 50);
        CHECK(fast.positive == ref.positive);
        CHECK(fast.active == ref.active);
        CHECK(fast.tp == ref.tp);
        CHECK(fast.elements == ref.elements);
        CHECK(fast.element_hits == ref.element_hits);
        CHECK(fast.frame_positive == ref.frame_positive);
        CHECK(fast.frame_rows == ref.frame_rows);
    }
}

TEST_CASE("align: splits are disjoint and cover every position", "[annotate][align]") {
    ConceptSet set;
    set.contigs = {{"chr1", 1000}, {"chr2", 900}, {"chr3", 50}};
    std::vector<DenseTrack> tracks;
    DenseTrack t;
    t.name = "t";
    for (auto& per : t.values) {
        per = {std::vector<float>(1000, 1.0f),
               std::vector<float>(900, 1.0f),
               std::vector<float>(50, 1.0f)};
    }
    tracks.push_back(t);
    const auto source = make_track_source(set.contigs, tracks, 64);
    AlignConfig config;
    SECTION("by contig") {
        const SplitPlan s = plan_split(*source, set, config);
        REQUIRE(s.by_contig);
        CHECK(s.split_of(0, 0) != s.split_of(1, 0));
        CHECK(s.split_of(0, 999) == s.split_of(0, 0));
    }
    SECTION("by block") {
        config.min_split_fraction = 0.49;  // 1000 vs 950: contigs cannot balance
        config.split_block_bp = 100;
        const SplitPlan s = plan_split(*source, set, config);
        REQUIRE_FALSE(s.by_contig);
        std::array<std::int64_t, 2> n{0, 0};
        for (std::int32_t k = 0; k < 3; ++k) {
            for (std::int64_t p = 0; p < set.contigs[static_cast<std::size_t>(k)].length; ++p) {
                const int sp = s.split_of(k, p);
                REQUIRE((sp == 0 || sp == 1));
                n[static_cast<std::size_t>(sp)]++;
                if (p % 100 == 0 && p > 0) {
                    CHECK(sp != s.split_of(k, p - 1));  // blocks alternate
                }
            }
        }
        CHECK(n[0] + n[1] == 1950);
        CHECK(std::abs(n[0] - n[1]) <= 100);
    }
}

TEST_CASE("align: a store contig missing from the FASTA is a one-line input error",
          "[annotate][align]") {
    test::TempDir tmp;
    std::mt19937 rng(3);
    write_random_store(tmp / "store", rng, 4, {{"chrZ", 200}});
    const auto source = open_feature_store_source(tmp / "store");
    ConceptSet set;
    set.contigs = {{"chr1", 200}};
    set.concepts.push_back(make_concept("X", 0, 1, {{2, 6}}));
    AlignConfig config;
    config.n_shifts = 0;
    try {
        align(*source, set, config);
        FAIL("no error");
    } catch (const InputError& e) {
        const std::string what = e.what();
        CHECK(what.find("chrZ") != std::string::npos);
        CHECK(what.find("not in the FASTA") != std::string::npos);
        CHECK(what.find('\n') == std::string::npos);
    }
    set.contigs = {{"chrZ", 100}};
    CHECK_THROWS_WITH(align(*source, set, config),
                      Catch::Contains("length 200 but the FASTA's is 100"));
}

TEST_CASE("align: raw neurons from an activation store are features of both signs",
          "[annotate][align]") {
    test::TempDir tmp;
    const std::int64_t L = 400;
    const std::vector<Span> spans{{20, 60}, {120, 150}, {220, 260}, {320, 350}};
    {
        sae::StoreManifest h;
        h.site = "blocks.0";
        h.d_model = 2;
        sae::ActivationStoreWriter writer(tmp / "acts", h);
        for (char strand : {'+', '-'}) {
            std::vector<float> rows(static_cast<std::size_t>(2 * L), 0.25f);
            for (const auto& s : spans) {
                for (std::int64_t p = s.begin; p < s.end; ++p) {
                    // dimension 0 is negative on the concept (+ strand rows only)
                    rows[static_cast<std::size_t>(2 * p)] = strand == '+' ? -3.0f : 0.25f;
                }
            }
            writer.append("chr1", 0, L, strand, rows);
        }
        writer.commit();
    }
    const auto source = open_neuron_source(tmp / "acts", 64);
    REQUIRE(source->n_features() == 4);
    CHECK(source->feature_name(1) == "neuron/0-");
    CHECK(source->feature_max()[1] == 3.0f);
    ConceptSet set;
    set.contigs = {{"chr1", L}};
    set.concepts.push_back(make_concept("X", 0, 1, spans));
    AlignConfig config;
    config.split_block_bp = 100;
    config.n_shifts = 0;
    const AlignResult r = align(*source, set, config);
    CHECK(r.concepts[0].feature == 1);
    CHECK(r.concepts[0].sense == kSame);
    CHECK(r.concepts[0].test.f1 == Approx(1.0));
}
