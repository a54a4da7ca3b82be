#include "store/feature_store.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope;
using evoscope::sae::FeatureChunk;
using evoscope::sae::FeatureContig;
using evoscope::sae::FeatureRows;
using evoscope::sae::FeatureStore;
using evoscope::sae::FeatureStoreHeader;
using evoscope::sae::FeatureStoreWriter;
using evoscope::test::TempDir;

namespace {

using Row = std::vector<std::pair<std::uint32_t, float>>;  // ascending ids
/// Reference data: per contig and strand, one optional row per position (nullopt: not covered).
using Dense = std::map<std::pair<std::string, char>, std::vector<std::optional<Row>>>;

constexpr std::int64_t kDSae = 200;

const std::vector<FeatureContig> kContigs{{"chrA", 3000}, {"chrB", 1200}, {"chrC", 70}};

FeatureStoreHeader make_header(std::vector<FeatureContig> contigs = kContigs) {
    FeatureStoreHeader h;
    h.d_sae = kDSae;
    h.sae_path = "sae.ckpt";
    h.sae_hash = "sha256:sae";
    h.model_path = "model.pt";
    h.model_hash = "sha256:model";
    h.site = "blocks.2.mlp";
    h.window_bp = 512;
    h.stride_bp = 256;
    h.stitching = "+: earliest window, -: latest window";
    h.drop_first = 8;
    h.provenance_json = R"({"command": "encode", "seed": 7})";
    h.contigs = std::move(contigs);
    return h;
}

Row random_row(std::mt19937& rng) {
    std::uniform_int_distribution<int> n_dist(0, 7);
    std::uniform_int_distribution<std::uint32_t> id_dist(0, kDSae - 1);
    std::uniform_real_distribution<float> value_dist(0.01f, 10.0f);
    const int n = n_dist(rng);
    std::vector<std::uint32_t> ids;
    while (static_cast<int>(ids.size()) < n) {
        const auto id = id_dist(rng);
        if (std::find(ids.begin(), ids.end(), id) == ids.end())
            ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    Row row;
    for (const auto id : ids)
        row.emplace_back(id, value_dist(rng));
    return row;
}

/// Covered stretches per contig/strand: [begin, end) with gaps, chosen to cross chunk
/// boundaries (chunk_positions 256 in these tests) and to leave both ends of chrA uncovered.
std::vector<std::pair<std::int64_t, std::int64_t>> spans_for(const std::string& contig,
                                                             char strand) {
    if (contig == "chrA") {
        if (strand == '+')
            return {{5, 700}, {700, 1100}, {1300, 2990}};
        return {{0, 256}, {256, 1500}, {2000, 3000}};
    }
    if (contig == "chrB") {
        if (strand == '+')
            return {{0, 1200}};
        return {};  // no '-' data at all
    }
    return {{10, 60}};
}

Dense make_dense(std::uint32_t seed) {
    std::mt19937 rng(seed);
    Dense dense;
    for (const auto& c : kContigs) {
        for (const char strand : {'+', '-'}) {
            auto& rows = dense[{c.name, strand}];
            rows.assign(static_cast<std::size_t>(c.length), std::nullopt);
            for (const auto& [b, e] : spans_for(c.name, strand)) {
                for (auto p = b; p < e; ++p)
                    rows[static_cast<std::size_t>(p)] = random_row(rng);
            }
        }
    }
    return dense;
}

/// Appends [b, e) of one contig/strand from the reference, in pieces of `piece` positions, with
/// ids of each position given in descending order when `shuffle` (the writer must sort them).
void append_from(FeatureStoreWriter& w,
                 const Dense& dense,
                 const std::string& contig,
                 char strand,
                 std::int64_t b,
                 std::int64_t e,
                 bool shuffle = false) {
    const auto& rows = dense.at({contig, strand});
    std::vector<std::int64_t> row_ptr{0};
    std::vector<std::uint32_t> ids;
    std::vector<float> values;
    for (auto p = b; p < e; ++p) {
        Row row = *rows[static_cast<std::size_t>(p)];
        if (shuffle)
            std::reverse(row.begin(), row.end());
        for (const auto& [id, v] : row) {
            ids.push_back(id);
            values.push_back(v);
        }
        row_ptr.push_back(static_cast<std::int64_t>(ids.size()));
    }
    w.append(contig, b, e, strand, row_ptr, ids, values);
}

/// Writes the reference with the two strands and contigs interleaved and each stretch split
/// into pieces of `piece` positions.
void write_store(const std::filesystem::path& dir,
                 const Dense& dense,
                 std::int64_t piece,
                 bool fixed_contigs = true) {
    FeatureStoreWriter w(
        dir, make_header(fixed_contigs ? kContigs : std::vector<FeatureContig>{}), 256);
    // Reverse contig order on purpose: the scan order must follow the contig table, not the writes.
    for (auto c = kContigs.rbegin(); c != kContigs.rend(); ++c) {
        const auto plus = spans_for(c->name, '+');
        const auto minus = spans_for(c->name, '-');
        for (std::size_t i = 0; i < std::max(plus.size(), minus.size()); ++i) {
            for (const auto& [strand, spans] : {std::pair{'-', minus}, std::pair{'+', plus}}) {
                if (i >= spans.size())
                    continue;
                for (auto b = spans[i].first; b < spans[i].second; b += piece) {
                    append_from(w,
                                dense,
                                c->name,
                                strand,
                                b,
                                std::min(spans[i].second, b + piece),
                                (b / piece) % 2 == 1);
                }
            }
        }
    }
    w.commit();
}

/// Checks rows read for [begin, end) against the reference.
void check_rows(const FeatureRows& rows,
                const Dense& dense,
                const std::string& contig,
                char strand) {
    const auto& ref = dense.at({contig, strand});
    REQUIRE(rows.row_ptr.size() == static_cast<std::size_t>(rows.end - rows.begin + 1));
    REQUIRE(rows.covered.size() == static_cast<std::size_t>(rows.end - rows.begin));
    REQUIRE(rows.row_ptr.front() == 0);
    REQUIRE(rows.row_ptr.back() == static_cast<std::int64_t>(rows.ids.size()));
    REQUIRE(rows.ids.size() == rows.values.size());
    // One assertion per call (the first differing position), not one per position: fast.
    std::int64_t first_bad = -1;
    for (auto p = rows.begin; p < rows.end && first_bad < 0; ++p) {
        const auto i = static_cast<std::size_t>(p - rows.begin);
        const auto& expected = ref[static_cast<std::size_t>(p)];
        Row got;
        for (auto k = rows.row_ptr[i]; k < rows.row_ptr[i + 1]; ++k) {
            got.emplace_back(rows.ids[static_cast<std::size_t>(k)],
                             rows.values[static_cast<std::size_t>(k)]);
        }
        if (rows.covered[i] != (expected.has_value() ? 1 : 0) || got != expected.value_or(Row{})) {
            first_bad = p;
        }
    }
    INFO(contig << ":" << rows.begin << "-" << rows.end << " " << strand << ": first mismatch at "
                << first_bad);
    REQUIRE(first_bad == -1);
}

/// Index of the first element where two tracks differ (NaN equals NaN), or -1.
std::int64_t first_difference(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size())
        return 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::isnan(a[i]) != std::isnan(b[i]) || (!std::isnan(a[i]) && a[i] != b[i]))
            return static_cast<std::int64_t>(i);
    }
    return -1;
}

std::string read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("FeatureStore: sparse rows round-trip by region across chunks, contigs, strands and gaps",
          "[sae][feature_store]") {
    TempDir tmp;
    const Dense dense = make_dense(42);
    const auto dir = tmp / "features";
    write_store(dir, dense, /*piece=*/100);
    const FeatureStore store(dir);

    CHECK(store.d_sae() == kDSae);
    CHECK(store.header().site == "blocks.2.mlp");
    CHECK(store.header().sae_hash == "sha256:sae");
    CHECK(store.header().model_hash == "sha256:model");
    CHECK(store.header().drop_first == 8);
    CHECK(store.header().window_bp == 512);
    CHECK(store.header().stitching == "+: earliest window, -: latest window");
    CHECK(store.header().chunk_positions == 256);
    CHECK(store.header().provenance_json == R"({"command":"encode","seed":7})");
    REQUIRE(store.contigs().size() == 3);
    CHECK(store.contigs()[1].name == "chrB");
    CHECK(store.contigs()[1].length == 1200);

    std::int64_t covered = 0;
    std::int64_t nonzero = 0;
    for (const auto& [key, rows] : dense) {
        for (const auto& r : rows) {
            covered += r.has_value() ? 1 : 0;
            nonzero += r.has_value() ? static_cast<std::int64_t>(r->size()) : 0;
        }
    }
    CHECK(store.n_positions() == covered);
    CHECK(store.n_nonzero() == nonzero);

    SECTION("whole contigs and fixed regions, including chunk boundaries, gaps and both ends") {
        for (const auto& c : kContigs) {
            for (const char strand : {'+', '-'}) {
                check_rows(store.read_region(c.name, 0, c.length, strand), dense, c.name, strand);
            }
        }
        check_rows(store.read_region("chrA", 255, 257, '-'), dense, "chrA", '-');    // chunk edge
        check_rows(store.read_region("chrA", 1090, 1310, '+'), dense, "chrA", '+');  // across a gap
        check_rows(
            store.read_region("chrA", 2980, 3000, '+'), dense, "chrA", '+');    // uncovered end
        check_rows(store.read_region("chrA", 0, 10, '+'), dense, "chrA", '+');  // uncovered start
        check_rows(
            store.read_region("chrA", 1100, 1300, '+'), dense, "chrA", '+');       // all in the gap
        check_rows(store.read_region("chrA", 512, 512, '+'), dense, "chrA", '+');  // empty
        const auto empty = store.read_region("chrB", 100, 200, '-');
        CHECK(std::count(empty.covered.begin(), empty.covered.end(), 1) == 0);
    }
    SECTION("random regions") {
        std::mt19937 rng(7);
        for (int i = 0; i < 200; ++i) {
            const auto& c = kContigs[static_cast<std::size_t>(i) % kContigs.size()];
            std::uniform_int_distribution<std::int64_t> pos(0, c.length);
            auto b = pos(rng);
            auto e = pos(rng);
            if (b > e)
                std::swap(b, e);
            const char strand = i % 2 == 0 ? '+' : '-';
            check_rows(store.read_region(c.name, b, e, strand), dense, c.name, strand);
        }
    }
    SECTION("region reads from several threads at once agree with the source") {
        // Catch2 assertions are not thread-safe: each thread counts its mismatches.
        std::vector<int> bad(4, 0);
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < bad.size(); ++t) {
            threads.emplace_back([&, t] {
                std::mt19937 rng(static_cast<std::uint32_t>(100 + t));
                for (int i = 0; i < 60; ++i) {
                    const auto& c = kContigs[static_cast<std::size_t>(i) % kContigs.size()];
                    std::uniform_int_distribution<std::int64_t> pos(0, c.length);
                    auto b = pos(rng);
                    auto e = pos(rng);
                    if (b > e)
                        std::swap(b, e);
                    const char strand = (i + static_cast<int>(t)) % 2 == 0 ? '+' : '-';
                    const auto rows = store.read_region(c.name, b, e, strand);
                    const auto& ref = dense.at({c.name, strand});
                    for (auto p = b; p < e; ++p) {
                        const auto j = static_cast<std::size_t>(p - b);
                        const auto& expected = ref[static_cast<std::size_t>(p)];
                        const auto n_pairs = rows.row_ptr[j + 1] - rows.row_ptr[j];
                        if (rows.covered[j] != (expected ? 1 : 0) ||
                            n_pairs != static_cast<std::int64_t>(expected ? expected->size() : 0) ||
                            (n_pairs > 0 && rows.ids[static_cast<std::size_t>(rows.row_ptr[j])] !=
                                                expected->front().first)) {
                            ++bad[t];
                        }
                    }
                }
            });
        }
        for (auto& th : threads)
            th.join();
        CHECK(bad == std::vector<int>(4, 0));
    }
    SECTION("feature tracks equal the dense source: NaN uncovered, 0 inactive") {
        const std::vector<std::uint32_t> features{0, 17, 199, 5};
        for (const auto& c : kContigs) {
            for (const char strand : {'+', '-'}) {
                const auto& ref = dense.at({c.name, strand});
                const std::int64_t b = c.length / 7;
                const std::int64_t e = c.length - 3;
                const auto tracks = store.feature_tracks(features, c.name, b, e, strand);
                const auto n = static_cast<std::size_t>(e - b);
                REQUIRE(tracks.size() == features.size() * n);
                for (std::size_t f = 0; f < features.size(); ++f) {
                    std::vector<float> expected(n, std::numeric_limits<float>::quiet_NaN());
                    for (std::size_t i = 0; i < n; ++i) {
                        const auto& row = ref[static_cast<std::size_t>(b) + i];
                        if (!row.has_value())
                            continue;
                        expected[i] = 0.0f;
                        for (const auto& [id, v] : *row) {
                            if (id == features[f])
                                expected[i] = v;
                        }
                    }
                    const auto single = store.feature_track(features[f], c.name, b, e, strand);
                    const std::vector<float> row(
                        tracks.begin() + static_cast<std::ptrdiff_t>(f * n),
                        tracks.begin() + static_cast<std::ptrdiff_t>((f + 1) * n));
                    INFO(c.name << strand << " feature " << features[f]);
                    CHECK(first_difference(single, expected) == -1);
                    CHECK(first_difference(row, expected) == -1);
                }
            }
        }
        CHECK_THROWS_AS(store.feature_track(kDSae, "chrA", 0, 10, '+'), InputError);
        const std::vector<std::uint32_t> twice{3, 3};
        CHECK_THROWS_AS(store.feature_tracks(twice, "chrA", 0, 10, '+'), InputError);
    }
    SECTION("scan visits every chunk once, in contig-table, strand, position order") {
        std::vector<std::tuple<std::size_t, int, std::int64_t>> order;
        std::map<std::pair<std::string, char>, std::vector<int>> seen;
        for (const auto& [key, rows] : dense)
            seen[key].assign(rows.size(), 0);
        std::int64_t visited = 0;
        std::size_t n_chunks = 0;
        store.scan([&](const FeatureChunk& chunk, const FeatureRows& rows) {
            ++n_chunks;
            const auto ci = static_cast<std::size_t>(
                std::find_if(kContigs.begin(),
                             kContigs.end(),
                             [&](const auto& c) { return c.name == chunk.contig; }) -
                kContigs.begin());
            order.emplace_back(ci, chunk.strand == '+' ? 0 : 1, chunk.begin);
            CHECK(rows.begin == chunk.begin);
            CHECK(rows.end == chunk.end);
            CHECK(chunk.end - chunk.begin <= 256);
            CHECK(static_cast<std::uint64_t>(rows.ids.size()) == chunk.n_nonzero);
            check_rows(rows, dense, chunk.contig, chunk.strand);
            for (auto p = chunk.begin; p < chunk.end; ++p)
                ++seen[{chunk.contig, chunk.strand}][static_cast<std::size_t>(p)];
            visited += chunk.end - chunk.begin;
        });
        CHECK(n_chunks == store.chunks().size());
        CHECK(std::is_sorted(order.begin(), order.end()));
        CHECK(visited == store.n_positions());
        for (const auto& [key, counts] : seen) {
            std::vector<int> expected;
            for (const auto& r : dense.at(key))
                expected.push_back(r.has_value() ? 1 : 0);
            INFO(key.first << key.second);
            CHECK(counts == expected);
        }
        // Chunks break at multiples of chunk_positions and at gaps only.
        for (const auto& c : store.chunks()) {
            CHECK((c.begin % 256 == 0 ||
                   !dense.at({c.contig, c.strand})[static_cast<std::size_t>(c.begin - 1)]));
            CHECK(c.begin / 256 == (c.end - 1) / 256);
        }
    }
    SECTION("per-feature statistics match the source") {
        std::vector<std::int64_t> nnz(kDSae, 0);
        std::vector<float> max(kDSae, 0.0f);
        for (const auto& [key, rows] : dense) {
            for (const auto& r : rows) {
                if (!r)
                    continue;
                for (const auto& [id, v] : *r) {
                    ++nnz[id];
                    max[id] = std::max(max[id], v);
                }
            }
        }
        const auto& stats = store.feature_stats();
        CHECK(stats.n_nonzero == nnz);
        CHECK(stats.max_value == max);
    }
}

TEST_CASE("FeatureStore: the same data gives the same files however appends were split",
          "[sae][feature_store]") {
    TempDir tmp;
    const Dense dense = make_dense(3);
    write_store(tmp / "a", dense, 1000);
    write_store(tmp / "b", dense, 37);
    CHECK(read_bytes(tmp / "a" / "chunks.bin") == read_bytes(tmp / "b" / "chunks.bin"));
    CHECK(read_bytes(tmp / "a" / "manifest.json") == read_bytes(tmp / "b" / "manifest.json"));
    CHECK(read_bytes(tmp / "a" / "feature_nnz.npy") == read_bytes(tmp / "b" / "feature_nnz.npy"));
    CHECK(read_bytes(tmp / "a" / "feature_max.npy") == read_bytes(tmp / "b" / "feature_max.npy"));
}

TEST_CASE("FeatureStore: without a contig table, contigs come in order of first append",
          "[sae][feature_store]") {
    TempDir tmp;
    const Dense dense = make_dense(5);
    write_store(tmp / "f", dense, 300, /*fixed_contigs=*/false);
    const FeatureStore store(tmp / "f");
    REQUIRE(store.contigs().size() == 3);
    CHECK(store.contigs()[0].name == "chrC");  // write_store starts with the last contig
    CHECK(store.contigs()[0].length == 60);    // largest end written
    CHECK(store.contigs()[2].name == "chrA");
    CHECK(store.contigs()[2].length == 3000);
    check_rows(store.read_region("chrA", 0, 3000, '-'), dense, "chrA", '-');
    CHECK_THROWS_AS(store.read_region("chrC", 0, 61, '+'), InputError);  // past the known end
}

TEST_CASE("FeatureStore: a corrupted chunk fails its CRC with the store, contig and position named",
          "[sae][feature_store]") {
    TempDir tmp;
    const Dense dense = make_dense(11);
    const auto dir = tmp / "features";
    write_store(dir, dense, 500);
    FeatureChunk target;
    {
        const FeatureStore store(dir);
        // Second '+' chunk of chrB: positions 256-512.
        const auto it =
            std::find_if(store.chunks().begin(), store.chunks().end(), [](const FeatureChunk& c) {
                return c.contig == "chrB" && c.strand == '+' && c.begin == 256;
            });
        REQUIRE(it != store.chunks().end());
        target = *it;
    }
    {
        std::fstream f(dir / "chunks.bin", std::ios::in | std::ios::out | std::ios::binary);
        const auto at = static_cast<std::streamoff>(target.offset + target.size_bytes / 2);
        f.seekg(at);
        char byte = 0;
        f.read(&byte, 1);
        byte = static_cast<char>(byte ^ 0x20);
        f.seekp(at);
        f.write(&byte, 1);
    }
    const FeatureStore store(dir);
    REQUIRE_THROWS_AS(store.read_region("chrB", 300, 301, '+'), FormatError);
    REQUIRE_THROWS_WITH(store.read_region("chrB", 0, 1200, '+'),
                        Catch::Contains("CRC32") && Catch::Contains("chrB:256-512") &&
                            Catch::Contains(dir.string()));
    CHECK_THROWS_AS(store.feature_track(1, "chrB", 500, 600, '+'), FormatError);
    CHECK_THROWS_AS(store.scan([](const FeatureChunk&, const FeatureRows&) {}), FormatError);
    // Chunks around it are intact.
    check_rows(store.read_region("chrB", 0, 256, '+'), dense, "chrB", '+');
    check_rows(store.read_region("chrB", 512, 1200, '+'), dense, "chrB", '+');
}

TEST_CASE("FeatureStoreWriter: bad input is rejected and leaves the store unchanged",
          "[sae][feature_store]") {
    TempDir tmp;
    const auto dir = tmp / "features";
    FeatureStoreWriter w(dir, make_header(), 256);
    const std::vector<std::int64_t> row_ptr{0, 2, 3};
    const std::vector<std::uint32_t> ids{4, 9, 1};
    const std::vector<float> values{1.0f, 2.0f, 3.0f};
    w.append("chrA", 100, 102, '+', row_ptr, ids, values);

    const std::vector<std::uint32_t> big_id{4, 200, 1};
    REQUIRE_THROWS_WITH(w.append("chrA", 102, 104, '+', row_ptr, big_id, values),
                        Catch::Contains("feature id 200") && Catch::Contains("chrA:102"));
    const std::vector<float> nan{1.0f, std::nanf(""), 3.0f};
    REQUIRE_THROWS_WITH(w.append("chrA", 102, 104, '+', row_ptr, ids, nan),
                        Catch::Contains("non-finite") && Catch::Contains("chrA:102"));
    const std::vector<float> inf{1.0f, 2.0f, std::numeric_limits<float>::infinity()};
    CHECK_THROWS_AS(w.append("chrA", 102, 104, '+', row_ptr, ids, inf), InputError);
    const std::vector<std::uint32_t> dup{4, 4, 1};
    REQUIRE_THROWS_WITH(w.append("chrA", 102, 104, '+', row_ptr, dup, values),
                        Catch::Contains("twice"));
    REQUIRE_THROWS_WITH(w.append("chrA", 50, 52, '+', row_ptr, ids, values),
                        Catch::Contains("ascend"));  // descending
    CHECK_THROWS_AS(w.append("chrA", 101, 103, '+', row_ptr, ids, values), InputError);  // overlap
    CHECK_THROWS_AS(w.append("chrA", 102, 103, '+', row_ptr, ids, values),
                    InputError);  // row_ptr size
    const std::vector<std::int64_t> bad_start{1, 2, 3};
    CHECK_THROWS_AS(w.append("chrA", 102, 104, '+', bad_start, ids, values), InputError);
    const std::vector<std::int64_t> decreasing{0, 3, 2};
    CHECK_THROWS_AS(w.append("chrA", 102, 104, '+', decreasing, ids, values), InputError);
    const std::vector<std::int64_t> overshoot{0, 5, 3};  // row 0 would run past ids
    CHECK_THROWS_AS(w.append("chrA", 102, 104, '+', overshoot, ids, values), InputError);
    const std::vector<std::int64_t> short_end{0, 1, 2};
    CHECK_THROWS_AS(w.append("chrA", 102, 104, '+', short_end, ids, values), InputError);
    CHECK_THROWS_AS(w.append("chrA", 102, 104, '*', row_ptr, ids, values), InputError);
    REQUIRE_THROWS_WITH(w.append("chrAA", 0, 2, '+', row_ptr, ids, values),
                        Catch::Contains("unknown contig 'chrAA'") && Catch::Contains("chrA"));
    REQUIRE_THROWS_WITH(w.append("chrC", 69, 71, '+', row_ptr, ids, values),
                        Catch::Contains("past the contig end"));
    // The other strand and other contigs are separate runs: earlier positions are fine there.
    w.append("chrA", 0, 2, '-', row_ptr, ids, values);
    w.append("chrA", 102, 104, '+', row_ptr, ids, values);
    CHECK(w.positions_written() == 6);
    w.commit();

    const FeatureStore store(dir);
    CHECK(store.n_positions() == 6);
    const auto rows = store.read_region("chrA", 98, 106, '+');
    CHECK(rows.covered == std::vector<std::uint8_t>{0, 0, 1, 1, 1, 1, 0, 0});
    CHECK(rows.row_ptr == std::vector<std::int64_t>{0, 0, 0, 2, 3, 5, 6, 6, 6});
    CHECK(rows.ids == std::vector<std::uint32_t>{4, 9, 1, 4, 9, 1});
    CHECK(store.feature_stats().n_nonzero[4] == 3);
    CHECK(store.feature_stats().max_value[9] == 2.0f);
    CHECK(store.feature_stats().max_value[0] == 0.0f);
}

TEST_CASE(
    "FeatureStoreWriter: nothing is left behind without commit, existing output needs overwrite",
    "[sae][feature_store]") {
    TempDir tmp;
    const auto dir = tmp / "features";
    const std::vector<std::int64_t> row_ptr{0, 1};
    const std::vector<std::uint32_t> ids{3};
    const std::vector<float> values{0.5f};
    {
        FeatureStoreWriter w(dir, make_header(), 4);
        for (std::int64_t p = 0; p < 40; ++p)
            w.append("chrB", p, p + 1, '+', row_ptr, ids, values);  // 10 chunks
        CHECK(evoscope::test::list_dir(tmp.path()).size() == 1);    // the temporary folder
        CHECK_FALSE(std::filesystem::exists(dir));
    }
    CHECK(evoscope::test::list_dir(tmp.path()).empty());
    try {
        FeatureStoreWriter w(dir, make_header(), 4);
        w.append("chrB", 0, 1, '+', row_ptr, ids, values);
        w.append("chrB", 0, 1, '+', row_ptr, ids, values);  // throws: overlap
        w.commit();
    } catch (const InputError&) {
    }
    CHECK(evoscope::test::list_dir(tmp.path()).empty());

    {
        FeatureStoreWriter w(dir, make_header(), 4);
        w.append("chrB", 0, 1, '+', row_ptr, ids, values);
        w.commit();
    }
    CHECK(evoscope::test::list_dir(tmp.path()) == std::vector<std::string>{"features"});
    CHECK_THROWS_AS(FeatureStoreWriter(dir, make_header(), 4), InputError);
    {
        FeatureStoreWriter w(dir, make_header(), 4, /*overwrite=*/true);
        w.append("chrB", 5, 7, '-', std::vector<std::int64_t>{0, 0, 1}, ids, values);
        w.commit();
    }
    const FeatureStore store(dir);
    CHECK(store.n_positions() == 2);
    CHECK(store.chunks().front().strand == '-');
    CHECK(evoscope::test::list_dir(tmp.path()) == std::vector<std::string>{"features"});

    FeatureStoreHeader bad = make_header();
    bad.provenance_json = "[1, 2]";
    CHECK_THROWS_AS(FeatureStoreWriter(tmp / "x", bad), InputError);
    bad.provenance_json = "{";
    CHECK_THROWS_AS(FeatureStoreWriter(tmp / "x", bad), InputError);
    bad = make_header({{"chrA", 10}, {"chrA", 20}});
    CHECK_THROWS_AS(FeatureStoreWriter(tmp / "x", bad), InputError);
    CHECK_THROWS_AS(FeatureStoreWriter(tmp / "x", make_header(), 0), InputError);
    CHECK(evoscope::test::list_dir(tmp.path()) == std::vector<std::string>{"features"});
}

TEST_CASE("FeatureStore: missing or malformed stores are refused with the path",
          "[sae][feature_store]") {
    TempDir tmp;
    REQUIRE_THROWS_AS(FeatureStore(tmp / "nope"), IoError);
    REQUIRE_THROWS_WITH(FeatureStore(tmp / "nope"), Catch::Contains("nope"));
    std::filesystem::create_directories(tmp / "empty");
    REQUIRE_THROWS_AS(FeatureStore(tmp / "empty"), IoError);
    REQUIRE_THROWS_WITH(FeatureStore(tmp / "empty"), Catch::Contains("manifest.json"));

    const Dense dense = make_dense(1);
    const auto dir = tmp / "features";
    write_store(dir, dense, 400);
    const std::string manifest = read_bytes(dir / "manifest.json");

    SECTION("unknown contig names the close ones") {
        const FeatureStore store(dir);
        REQUIRE_THROWS_AS(store.read_region("chrb", 0, 10, '+'), InputError);
        REQUIRE_THROWS_WITH(store.read_region("chrb", 0, 10, '+'),
                            Catch::Contains("unknown contig 'chrb'") && Catch::Contains("chrB"));
        CHECK_THROWS_AS(store.read_region("chrB", -1, 10, '+'), InputError);
        CHECK_THROWS_AS(store.read_region("chrB", 10, 5, '+'), InputError);
        CHECK_THROWS_AS(store.read_region("chrB", 0, 1201, '+'), InputError);
        CHECK_THROWS_AS(store.read_region("chrB", 0, 10, '.'), InputError);
    }
    SECTION("bad JSON") {
        evoscope::test::write_file(dir / "manifest.json", manifest.substr(0, manifest.size() / 2));
        REQUIRE_THROWS_AS(FeatureStore(dir), FormatError);
        REQUIRE_THROWS_WITH(FeatureStore(dir), Catch::Contains("manifest.json"));
    }
    SECTION("wrong version or format") {
        auto text = manifest;
        text.replace(text.find("\"version\": 1"), 12, "\"version\": 9");
        evoscope::test::write_file(dir / "manifest.json", text);
        REQUIRE_THROWS_WITH(FeatureStore(dir), Catch::Contains("version 9"));
        text = manifest;
        text.replace(text.find("evoscope-features"), 17, "evoscope-activati");
        evoscope::test::write_file(dir / "manifest.json", text);
        REQUIRE_THROWS_AS(FeatureStore(dir), FormatError);
    }
    SECTION("missing chunks.bin or statistics") {
        std::filesystem::remove(dir / "chunks.bin");
        REQUIRE_THROWS_AS(FeatureStore(dir), IoError);
        REQUIRE_THROWS_WITH(FeatureStore(dir), Catch::Contains("chunks.bin"));
    }
    SECTION("missing statistics") {
        std::filesystem::remove(dir / "feature_max.npy");
        REQUIRE_THROWS_WITH(FeatureStore(dir), Catch::Contains("feature_max.npy"));
    }
    SECTION("truncated chunks.bin") {
        std::filesystem::resize_file(dir / "chunks.bin",
                                     std::filesystem::file_size(dir / "chunks.bin") - 1);
        REQUIRE_THROWS_AS(FeatureStore(dir), FormatError);
    }
}

TEST_CASE("FeatureStore: Python reads a chunk with zlib and numpy as documented",
          "[sae][feature_store]") {
    TempDir tmp;
    const Dense dense = make_dense(9);
    write_store(tmp / "f", dense, 256);
    const FeatureStore store(tmp / "f");
    const auto rows = store.read_chunk(2);
    const auto& c = store.chunks()[2];
    const auto r = evoscope::test::run_program(
        {"/usr/bin/python3",
         "-c",
         "import json, sys, zlib, numpy as np\n"
         "d = sys.argv[1]\n"
         "m = json.load(open(d + '/manifest.json'))\n"
         "cols = m['chunks_columns']\n"
         "c = dict(zip(cols, m['chunks'][2]))\n"
         "raw = open(d + '/chunks.bin', 'rb').read()[c['offset']:c['offset'] + c['size']]\n"
         "assert zlib.crc32(raw) == c['crc32']\n"
         "b = zlib.decompress(raw)\n"
         "n = c['end'] - c['begin']\n"
         "counts = np.frombuffer(b, '<u4', n)\n"
         "ids = np.frombuffer(b, '<u4', c['n_nonzero'], 4 * n)\n"
         "vals = np.frombuffer(b, '<f4', c['n_nonzero'], 4 * (n + c['n_nonzero']))\n"
         "print(c['contig'], c['strand'], c['begin'], n, int(counts.sum()), int(ids.sum()), "
         "repr(float(vals.sum())))\n"
         "print(int(np.load(d + '/feature_nnz.npy').sum()), m['n_nonzero'])\n",
         (tmp / "f").string()});
    if (r.exit_code != 0 && r.err.find("No module named 'numpy'") != std::string::npos) {
        WARN("numpy for /usr/bin/python3 not installed: interop check skipped");
        return;
    }
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::uint64_t id_sum = 0;
    for (const auto id : rows.ids)
        id_sum += id;
    float value_sum = 0.0f;  // numpy sums float32 pairwise: compare loosely below
    for (const auto v : rows.values)
        value_sum += v;
    const auto lines = evoscope::test::tsv_rows(r.out);
    REQUIRE(lines.size() == 2);
    std::istringstream first(lines[0][0]);
    std::string contig;
    char strand = 0;
    std::int64_t begin = 0;
    std::int64_t n = 0;
    std::uint64_t count_sum = 0;
    std::uint64_t py_id_sum = 0;
    double py_value_sum = 0;
    first >> contig >> strand >> begin >> n >> count_sum >> py_id_sum >> py_value_sum;
    CHECK(contig == c.contig);
    CHECK(strand == c.strand);
    CHECK(begin == c.begin);
    CHECK(n == c.end - c.begin);
    CHECK(count_sum == rows.ids.size());
    CHECK(py_id_sum == id_sum);
    CHECK(py_value_sum == Approx(value_sum).epsilon(1e-5));
    std::int64_t stats_total = 0;
    for (const auto v : store.feature_stats().n_nonzero)
        stats_total += v;
    CHECK(lines[1][0] == fmt::format("{} {}", stats_total, store.n_nonzero()));
}

TEST_CASE("FeatureStore: write and read 1 M positions x 32 nonzeros (timing)",
          "[sae][feature_store_bench][.slow]") {
    using Clock = std::chrono::steady_clock;
    constexpr std::int64_t kPositions = 1'000'000;
    constexpr std::int64_t kPerPosition = 32;
    constexpr std::int64_t kD = 32768;
    constexpr std::int64_t kBatch = 10'000;
    TempDir tmp;
    FeatureStoreHeader h;
    h.d_sae = kD;
    std::mt19937 rng(1);
    // TopK-like rows: 32 distinct ids, ReLU-like positive values with a full float mantissa.
    std::uniform_int_distribution<std::uint32_t> id_dist(0, kD - 1);
    std::gamma_distribution<float> value_dist(2.0f, 1.0f);
    std::vector<std::int64_t> row_ptr(kBatch + 1);
    std::vector<std::uint32_t> ids(kBatch * kPerPosition);
    std::vector<float> values(ids.size());
    for (std::int64_t i = 0; i <= kBatch; ++i)
        row_ptr[static_cast<std::size_t>(i)] = i * kPerPosition;
    double generate_s = 0;
    const auto t0 = Clock::now();
    {
        FeatureStoreWriter w(tmp / "f", h);
        for (std::int64_t b = 0; b < kPositions; b += kBatch) {
            const auto g0 = Clock::now();
            for (std::int64_t i = 0; i < kBatch; ++i) {
                auto* row = ids.data() + i * kPerPosition;
                for (std::int64_t k = 0; k < kPerPosition; ++k) {
                    std::uint32_t id = 0;
                    do {
                        id = id_dist(rng);
                    } while (std::find(row, row + k, id) != row + k);
                    row[k] = id;
                    values[static_cast<std::size_t>(i * kPerPosition + k)] = value_dist(rng);
                }
                std::sort(row, row + kPerPosition);
            }
            generate_s += std::chrono::duration<double>(Clock::now() - g0).count();
            w.append("chr1", b, b + kBatch, '+', row_ptr, ids, values);
        }
        w.commit();
    }
    const double write_s = std::chrono::duration<double>(Clock::now() - t0).count() - generate_s;
    const auto bytes = std::filesystem::file_size(tmp / "f" / "chunks.bin");
    const auto manifest_bytes = std::filesystem::file_size(tmp / "f" / "manifest.json");
    const auto t1 = Clock::now();
    const FeatureStore store(tmp / "f");
    std::int64_t scanned = 0;
    store.scan([&](const FeatureChunk&, const FeatureRows& rows) {
        scanned += static_cast<std::int64_t>(rows.ids.size());
    });
    const double scan_s = std::chrono::duration<double>(Clock::now() - t1).count();
    const auto t2 = Clock::now();
    std::mt19937 pick(2);
    std::uniform_int_distribution<std::int64_t> pos(0, kPositions - 1000);
    std::int64_t region_pairs = 0;
    for (int i = 0; i < 1000; ++i) {
        const auto b = pos(pick);
        region_pairs +=
            static_cast<std::int64_t>(store.read_region("chr1", b, b + 1000, '+').ids.size());
    }
    const double region_s = std::chrono::duration<double>(Clock::now() - t2).count();
    const auto t3 = Clock::now();
    const auto track = store.feature_track(123, "chr1", 0, kPositions, '+');
    const double track_s = std::chrono::duration<double>(Clock::now() - t3).count();
    CHECK(scanned == kPositions * kPerPosition);
    CHECK(region_pairs == 1000 * 1000 * kPerPosition);
    CHECK(track.size() == static_cast<std::size_t>(kPositions));
    const double raw_mb = static_cast<double>(kPositions * (4 + 8 * kPerPosition)) / 1e6;
    WARN(fmt::format(
        "1 M positions x 32 nonzeros (d_sae {}): raw {:.1f} MB, chunks.bin {:.1f} MB ({:.1f}%), "
        "manifest "
        "{:.1f} kB; write {:.2f} s ({:.0f} MB/s raw), open+scan {:.2f} s ({:.0f} MB/s raw), 1000 "
        "random 1 kb regions {:.2f} s, one feature track over 1 Mb {:.2f} s",
        kD,
        raw_mb,
        static_cast<double>(bytes) / 1e6,
        100.0 * static_cast<double>(bytes) / 1e6 / raw_mb,
        static_cast<double>(manifest_bytes) / 1e3,
        write_s,
        raw_mb / write_s,
        scan_s,
        raw_mb / scan_s,
        region_s,
        track_s));
}

// Found while fuzzing the manifest (fuzz/fuzz_feature_store, by review of the reader): a chunk
// whose index claims 2^40 positions (contig length raised to match) passed every check, and
// read_chunk allocated 4 TB for it. The claim must fit what its compressed bytes can inflate to.
TEST_CASE("FeatureStore: a chunk claiming more than its compressed bytes can hold is refused",
          "[sae][store]") {
    TempDir tmp;
    const auto dir = tmp / "features";
    {
        FeatureStoreWriter w(dir, make_header({{"c", 20}}), /*chunk_positions=*/4);
        const std::vector<std::int64_t> row_ptr{0, 1, 1};
        const std::vector<std::uint32_t> ids{3};
        const std::vector<float> values{0.5f};
        w.append("c", 2, 4, '+', row_ptr, ids, values);
        w.commit();
    }
    auto j = nlohmann::json::parse(evoscope::test::read_file(dir / "manifest.json"));
    const std::int64_t huge = std::int64_t{1} << 40;
    j["contigs"][0]["length"] = huge;
    j["chunks"][0][3] = huge;
    j["n_positions"] = huge - 2;
    evoscope::test::write_file(dir / "manifest.json", j.dump());
    REQUIRE_THROWS_AS(FeatureStore(dir), FormatError);
    REQUIRE_THROWS_WITH(FeatureStore(dir), Catch::Contains("compressed bytes"));
}
