#include "formats/npy.hpp"

#include <cmath>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope;
using evoscope::test::TempDir;

TEST_CASE("npy: a streamed float32 array round-trips, row count patched at commit", "[core][npy]") {
    TempDir tmp;
    const auto path = tmp / "a.npy";
    {
        NpyWriter w(path, NpyDtype::Float32, {-1, 3});
        for (int r = 0; r < 5; ++r) {
            const std::vector<float> row{static_cast<float>(r), r + 0.5f, -static_cast<float>(r)};
            w.write_values(std::span<const float>(row));
        }
        CHECK(w.rows_written() == 5);
        w.commit();
    }
    NpyInfo info;
    const auto values = read_npy_float32(path, &info);
    CHECK((info.shape == std::vector<std::int64_t>{5, 3}));
    CHECK(info.data_offset % 64 == 0);
    REQUIRE(values.size() == 15);
    CHECK(values[3 * 4 + 1] == 4.5f);
    std::vector<float> two(6);
    read_npy_rows(path, info, 3, 2, std::as_writable_bytes(std::span(two)));
    CHECK(two[0] == 3.0f);
    CHECK(two[5] == -4.0f);
}

TEST_CASE("npy: numpy reads what we write and we read what numpy writes", "[core][npy]") {
    const auto probe = evoscope::test::run_program({"/usr/bin/python3", "-c", "import numpy"});
    if (probe.exit_code != 0) {
        WARN("numpy for /usr/bin/python3 not installed: interop check skipped");
        return;
    }
    TempDir tmp;
    {
        NpyWriter w(tmp / "ours.npy", NpyDtype::Int32, {2, 2});
        const std::vector<std::int32_t> v{1, -2, 3, 40000};
        w.write_values(std::span<const std::int32_t>(v));
        w.commit();
    }
    const auto r = evoscope::test::run_program(
        {"/usr/bin/python3",
         "-c",
         "import numpy as np, sys; a = np.load(sys.argv[1]); print(a.dtype, a.shape, a.sum());"
         "np.save(sys.argv[2], np.arange(12, dtype='<f8').reshape(3, 4) / 4)",
         (tmp / "ours.npy").string(),
         (tmp / "theirs.npy").string()});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == "int32 (2, 2) 40002\n");
    NpyInfo info;
    const auto theirs = read_npy_float32(tmp / "theirs.npy", &info);
    CHECK(info.dtype == NpyDtype::Float64);
    CHECK((info.shape == std::vector<std::int64_t>{3, 4}));
    CHECK(theirs[11] == 2.75f);
}

TEST_CASE("npy: bad files are refused with the file name", "[core][npy]") {
    TempDir tmp;
    evoscope::test::write_file(tmp / "x.npy", "not numpy at all");
    REQUIRE_THROWS_AS(read_npy_header(tmp / "x.npy"), FormatError);
    REQUIRE_THROWS_WITH(read_npy_header(tmp / "x.npy"), Catch::Contains("x.npy"));
    REQUIRE_THROWS_AS(read_npy_header(tmp / "missing.npy"), IoError);
    {
        NpyWriter w(tmp / "t.npy", NpyDtype::Float32, {4, 2});
        const std::vector<float> v(8, 1.0f);
        w.write_values(std::span<const float>(v));
        w.commit();
    }
    // Truncate the data: the header promises more than the file holds.
    std::filesystem::resize_file(tmp / "t.npy", std::filesystem::file_size(tmp / "t.npy") - 4);
    REQUIRE_THROWS_WITH(read_npy_header(tmp / "t.npy"), Catch::Contains("truncated"));
    SECTION("declared rows must match") {
        NpyWriter w(tmp / "u.npy", NpyDtype::Float32, {3, 2});
        const std::vector<float> v(2, 1.0f);
        w.write_values(std::span<const float>(v));
        REQUIRE_THROWS_AS(w.commit(), InputError);
    }
}

TEST_CASE("bf16 conversion rounds to nearest even and keeps NaN", "[core][npy]") {
    CHECK(bf16_to_float(float_to_bf16(1.0f)) == 1.0f);
    CHECK(bf16_to_float(float_to_bf16(-2.5f)) == -2.5f);
    // 1 + 2^-8 is exactly halfway between two bf16 values: ties to even (1.0).
    CHECK(bf16_to_float(float_to_bf16(1.0f + 1.0f / 256.0f)) == 1.0f);
    CHECK(bf16_to_float(float_to_bf16(1.0f + 3.0f / 256.0f)) == 1.0f + 4.0f / 256.0f);
    CHECK(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
}

// Found while fuzzing .npy (by reading the reader; reproduced with fuzz/fuzz_npy): the element
// count of a huge shape overflowed (UBSan in read_npy_float32; the byte count wrapped to 0 and
// passed the size check).
TEST_CASE("npy: a shape whose size overflows is refused", "[core][npy]") {
    TempDir tmp;
    for (const auto& shape :
         {std::vector<std::int64_t>{std::int64_t{1} << 62, 4},
          std::vector<std::int64_t>{std::int64_t{1} << 32, std::int64_t{1} << 32},
          std::vector<std::int64_t>{std::int64_t{1} << 61}}) {
        const std::string header = make_npy_header("<f4", shape);
        evoscope::test::write_file(tmp / "huge.npy", header);
        REQUIRE_THROWS_AS(read_npy_header(tmp / "huge.npy"), FormatError);
        REQUIRE_THROWS_AS(read_npy_float32(tmp / "huge.npy"), FormatError);
    }
    const std::string header = make_npy_header("<f4", {std::int64_t{1} << 62, 4});
    REQUIRE_THROWS_WITH(parse_npy_header(std::as_bytes(std::span(header)), "h.npy"),
                        Catch::Contains("h.npy") && Catch::Contains("too large"));
}
