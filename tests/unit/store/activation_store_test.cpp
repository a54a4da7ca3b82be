#include "store/activation_store.hpp"

#include <cmath>
#include <functional>
#include <limits>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "formats/npy.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope;
using evoscope::sae::ActivationStore;
using evoscope::sae::ActivationStoreWriter;
using evoscope::sae::StoreDtype;
using evoscope::sae::StoreManifest;
using evoscope::test::TempDir;

namespace {

/// Deterministic activations: value = position * 10 + feature (+0.25 on the minus strand).
std::vector<float> rows_for(std::int64_t begin, std::int64_t end, std::int64_t d, char strand) {
    std::vector<float> v;
    for (std::int64_t p = begin; p < end; ++p)
        for (std::int64_t f = 0; f < d; ++f)
            v.push_back(static_cast<float>(p * 10 + f) + (strand == '-' ? 0.25f : 0.0f));
    return v;
}

StoreManifest header(std::int64_t d, StoreDtype dtype) {
    StoreManifest m;
    m.site = "blocks.1";
    m.d_model = d;
    m.dtype = dtype;
    m.model_hash = "abc";
    m.window_bp = 16;
    m.stride_bp = 8;
    m.stitching = "test";
    return m;
}

}  // namespace

TEST_CASE("ActivationStore: blocks spill across shards and read back by row and by region",
          "[sae][store]") {
    TempDir tmp;
    const auto dir = tmp / "acts";
    {
        ActivationStoreWriter w(dir, header(3, StoreDtype::Float32), /*rows_per_shard=*/7);
        w.append("ctgA", 100, 110, '+', rows_for(100, 110, 3, '+'));
        w.append("ctgA", 100, 110, '-', rows_for(100, 110, 3, '-'));
        w.append("ctgB", 0, 5, '+', rows_for(0, 5, 3, '+'));
        CHECK_FALSE(std::filesystem::exists(dir));  // nothing visible before commit
        w.commit();
    }
    const ActivationStore store(dir);
    CHECK(store.n_rows() == 25);
    CHECK(store.d_model() == 3);
    CHECK(store.manifest().shards.size() == 4);  // 25 rows, 7 per shard
    CHECK(store.manifest().site == "blocks.1");

    std::vector<float> all(25 * 3);
    store.read_rows(0, 25, all);
    CHECK(all[0] == 1000.0f);
    CHECK(all[(10 + 2) * 3 + 1] == 1021.25f);  // row 12: ctgA pos 102 on '-', feature 1

    const auto region = store.read_region("ctgA", 98, 104, '+');
    REQUIRE(region.size() == 6 * 3);
    CHECK(std::isnan(region[0]));  // position 98 is not in the store
    CHECK(region[2 * 3 + 0] == 1000.0f);
    CHECK(region[5 * 3 + 2] == 1032.0f);
    const auto minus = store.read_region("ctgA", 108, 110, '-');
    CHECK(minus[0] == 1080.25f);
    CHECK(store.blocks_overlapping("ctgA", 0, 1000).size() >= 2);
    CHECK(store.blocks_overlapping("ctgC", 0, 1000).empty());

    // Shards are plain .npy files.
    NpyInfo info = read_npy_header(dir / "shard-00000.npy");
    CHECK((info.shape == std::vector<std::int64_t>{7, 3}));
}

TEST_CASE("ActivationStore: bfloat16 storage widens on read", "[sae][store]") {
    TempDir tmp;
    {
        ActivationStoreWriter w(tmp / "bf", header(2, StoreDtype::BFloat16));
        const std::vector<float> rows{1.0f, -2.5f, 3.140625f, 1000.0f};
        w.append("c", 0, 2, '+', rows);
        w.commit();
    }
    const ActivationStore store(tmp / "bf");
    std::vector<float> out(4);
    store.read_rows(0, 2, out);
    CHECK((out == std::vector<float>{1.0f, -2.5f, 3.140625f, 1000.0f}));
}

TEST_CASE("ActivationStore: bad input and damaged stores are refused", "[sae][store]") {
    TempDir tmp;
    SECTION("NaN activations name the position") {
        ActivationStoreWriter w(tmp / "n", header(2, StoreDtype::Float32));
        const std::vector<float> rows{1.0f, std::nanf(""), 0.0f, 0.0f};
        REQUIRE_THROWS_WITH(w.append("chr1", 10, 12, '+', rows), Catch::Contains("chr1:11"));
    }
    SECTION("size mismatch") {
        ActivationStoreWriter w(tmp / "m", header(2, StoreDtype::Float32));
        const std::vector<float> rows{1.0f};
        REQUIRE_THROWS_AS(w.append("chr1", 0, 1, '+', rows), InputError);
    }
    SECTION("abandoned writer leaves nothing") {
        {
            ActivationStoreWriter w(tmp / "gone", header(2, StoreDtype::Float32));
            w.append("c", 0, 1, '+', std::vector<float>{1.0f, 2.0f});
        }
        CHECK(evoscope::test::list_dir(tmp.path()).empty());
    }
    SECTION("missing shard and missing store") {
        {
            ActivationStoreWriter w(tmp / "s", header(2, StoreDtype::Float32));
            w.append("c", 0, 1, '+', std::vector<float>{1.0f, 2.0f});
            w.commit();
        }
        std::filesystem::remove(tmp / "s" / "shard-00000.npy");
        REQUIRE_THROWS_WITH(ActivationStore(tmp / "s"), Catch::Contains("shard-00000.npy"));
        REQUIRE_THROWS_AS(ActivationStore(tmp / "none"), IoError);
    }
    SECTION("existing output needs overwrite") {
        std::filesystem::create_directories(tmp / "exists");
        REQUIRE_THROWS_WITH(ActivationStoreWriter(tmp / "exists", header(2, StoreDtype::Float32)),
                            Catch::Contains("--force"));
    }
}

// Found while fuzzing the manifest (fuzz/fuzz_activation_store, by review of the reader): an
// empty strand escaped as std::out_of_range, and negative rows, row counts or positions passed
// the bounds check (the arithmetic could overflow).
TEST_CASE("ActivationStore: a manifest with bad blocks or row counts is a FormatError",
          "[sae][store]") {
    TempDir tmp;
    const auto dir = tmp / "s";
    {
        ActivationStoreWriter w(dir, header(2, StoreDtype::Float32));
        w.append("c", 0, 2, '+', std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f});
        w.commit();
    }
    const auto original = nlohmann::json::parse(evoscope::test::read_file(dir / "manifest.json"));
    const auto refused = [&](const std::function<void(nlohmann::json&)>& edit) {
        auto j = original;
        edit(j);
        evoscope::test::write_file(dir / "manifest.json", j.dump());
        REQUIRE_THROWS_AS(ActivationStore(dir), FormatError);
    };
    refused([](nlohmann::json& j) { j["blocks"][0][3] = ""; });
    refused([](nlohmann::json& j) { j["blocks"][0][3] = "x"; });
    refused([](nlohmann::json& j) { j["blocks"][0][5] = -1; });
    refused([](nlohmann::json& j) {
        j["blocks"][0][1] = std::numeric_limits<std::int64_t>::min();
        j["blocks"][0][2] = std::numeric_limits<std::int64_t>::max();
    });
    refused([](nlohmann::json& j) { j["shards"][0]["n_rows"] = -2; });
    refused([](nlohmann::json& j) { j["d_model"] = 0; });
    evoscope::test::write_file(dir / "manifest.json", original.dump());
    CHECK(ActivationStore(dir).n_rows() == 2);
}

TEST_CASE("ActivationStore: the reference's contig table round-trips (regions keep lengths)",
          "[sae][store]") {
    TempDir tmp;
    const auto dir = tmp / "acts";
    auto h = header(2, StoreDtype::Float32);
    h.contigs = {{"ctgA", 5000}, {"ctgB", 70}};
    {
        ActivationStoreWriter w(dir, h);
        w.append("ctgA", 100, 110, '+', rows_for(100, 110, 2, '+'));
        w.commit();
    }
    const ActivationStore store(dir);
    REQUIRE(store.manifest().contigs.size() == 2);
    CHECK(store.manifest().contigs[0] == std::pair<std::string, std::int64_t>{"ctgA", 5000});
    CHECK(store.manifest().contigs[1] == std::pair<std::string, std::int64_t>{"ctgB", 70});
    // A store without the table (written before it existed) reads with an empty one.
    const auto plain = tmp / "plain";
    {
        ActivationStoreWriter w(plain, header(2, StoreDtype::Float32));
        w.append("ctgA", 0, 4, '+', rows_for(0, 4, 2, '+'));
        w.commit();
    }
    CHECK(ActivationStore(plain).manifest().contigs.empty());
}
