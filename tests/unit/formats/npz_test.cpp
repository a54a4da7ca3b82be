#include "formats/npz.hpp"

#include <cstring>
#include <fstream>

#include <catch2/catch.hpp>

#include <sys/mman.h>

#include "core/error.hpp"
#include "core/output_file.hpp"
#include "formats/npy.hpp"
#include "formats/zip.hpp"
#include "tests/support/test_support.hpp"

using namespace evoscope;
using evoscope::test::TempDir;

namespace {

template <typename T>
std::vector<T> values_of(const NpzArray& a) {
    std::vector<T> out(a.data.size() / sizeof(T));
    std::memcpy(out.data(), a.data.data(), a.data.size());
    return out;
}

struct Sample {
    std::vector<float> f4{1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, 7.0f};  // [2, 3]
    std::vector<std::int32_t> i4{1, -2, 40000};
    std::vector<std::int64_t> i8{-1234567890123};             // scalar
    std::vector<double> f8{0.5, 0.25, 0.125, 1, 2, 3, 4, 5};  // [2, 2, 2]
    std::vector<std::uint8_t> u1;                             // shape [0]

    std::vector<NpzEntry> entries() const {
        return {npz_entry("weights", "<f4", {2, 3}, std::span<const float>(f4)),
                npz_entry("index", "<i4", {3}, std::span<const std::int32_t>(i4)),
                npz_entry("offset", "<i8", {}, std::span<const std::int64_t>(i8)),
                npz_entry("cube", "<f8", {2, 2, 2}, std::span<const double>(f8)),
                npz_entry("nothing", "|u1", {0}, std::span<const std::uint8_t>(u1))};
    }
};

}  // namespace

TEST_CASE("npz: arrays of several dtypes and ranks round-trip through read_npz", "[core][npz]") {
    TempDir tmp;
    const Sample s;
    const auto entries = s.entries();
    write_npz(tmp / "a.npz", entries);
    CHECK(evoscope::test::list_dir(tmp.path()) == std::vector<std::string>{"a.npz"});

    const auto arrays = read_npz(tmp / "a.npz");
    REQUIRE(arrays.size() == 5);
    CHECK(arrays[0].name == "weights");
    CHECK(arrays[0].descr == "<f4");
    CHECK(arrays[0].shape == std::vector<std::int64_t>{2, 3});
    CHECK(values_of<float>(arrays[0]) == s.f4);
    CHECK(arrays[1].shape == std::vector<std::int64_t>{3});
    CHECK(values_of<std::int32_t>(arrays[1]) == s.i4);
    CHECK(arrays[2].shape.empty());
    CHECK(arrays[2].n_elements() == 1);
    CHECK(values_of<std::int64_t>(arrays[2]) == s.i8);
    CHECK(arrays[3].itemsize() == 8);
    CHECK(values_of<double>(arrays[3]) == s.f8);
    CHECK(arrays[4].descr == "|u1");
    CHECK(arrays[4].shape == std::vector<std::int64_t>{0});
    CHECK(arrays[4].data.empty());

    // Deterministic: the same arrays give the same bytes.
    write_npz(tmp / "b.npz", entries);
    CHECK(evoscope::test::read_file(tmp / "a.npz") == evoscope::test::read_file(tmp / "b.npz"));
}

TEST_CASE("npz: numpy loads what we write and we read what numpy writes, compressed or not",
          "[core][npz]") {
    TempDir tmp;
    const Sample s;
    write_npz(tmp / "ours.npz", s.entries());
    const auto r = evoscope::test::run_program(
        {"/usr/bin/python3",
         "-c",
         "import numpy as np, sys, zipfile\n"
         "assert zipfile.ZipFile(sys.argv[1]).testzip() is None\n"
         "z = np.load(sys.argv[1])\n"
         "for k in z.files:\n"
         "    a = z[k]\n"
         "    print(k, a.dtype.str, a.shape, a.tolist())\n"
         "np.savez(sys.argv[2], x=np.arange(6, dtype='<i8').reshape(2, 3), y=np.float32(2.5))\n"
         "np.savez_compressed(sys.argv[3], z=np.linspace(0, 1, 1000, dtype='<f4'), "
         "b=np.array([True, False]))\n",
         (tmp / "ours.npz").string(),
         (tmp / "plain.npz").string(),
         (tmp / "packed.npz").string()});
    if (r.exit_code != 0 && r.err.find("No module named 'numpy'") != std::string::npos) {
        WARN("numpy for /usr/bin/python3 not installed: interop check skipped");
        return;
    }
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out ==
          "weights <f4 (2, 3) [[1.5, -2.0, 3.25], [0.0, 0.0010000000474974513, 7.0]]\n"
          "index <i4 (3,) [1, -2, 40000]\n"
          "offset <i8 () -1234567890123\n"
          "cube <f8 (2, 2, 2) [[[0.5, 0.25], [0.125, 1.0]], [[2.0, 3.0], [4.0, 5.0]]]\n"
          "nothing |u1 (0,) []\n");

    const auto plain = read_npz(tmp / "plain.npz");
    REQUIRE(plain.size() == 2);
    CHECK(plain[0].name == "x");
    CHECK(plain[0].shape == std::vector<std::int64_t>{2, 3});
    CHECK(values_of<std::int64_t>(plain[0]) == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5});
    CHECK(plain[1].name == "y");
    CHECK(plain[1].shape.empty());
    CHECK(values_of<float>(plain[1]) == std::vector<float>{2.5f});

    const auto packed = read_npz(tmp / "packed.npz");
    REQUIRE(packed.size() == 2);
    CHECK(packed[0].name == "z");
    const auto z = values_of<float>(packed[0]);
    REQUIRE(z.size() == 1000);
    CHECK(z.front() == 0.0f);
    CHECK(z.back() == 1.0f);
    CHECK(packed[1].descr == "|b1");
    CHECK(packed[1].data == std::vector<std::byte>{std::byte{1}, std::byte{0}});
}

TEST_CASE("npz: malformed entries are refused and nothing is written", "[core][npz]") {
    TempDir tmp;
    const std::vector<float> v{1, 2, 3, 4};
    const auto path = tmp / "x.npz";
    auto check_refused = [&](std::vector<NpzEntry> entries, const std::string& text) {
        REQUIRE_THROWS_AS(write_npz(path, entries), InputError);
        REQUIRE_THROWS_WITH(write_npz(path, entries),
                            Catch::Contains(text) && Catch::Contains("x.npz"));
        CHECK(evoscope::test::list_dir(tmp.path()).empty());
    };
    check_refused({npz_entry("a", "<f4", {3}, std::span<const float>(v))},
                  "needs 12 bytes, got 16");
    check_refused({npz_entry("a", "<f4", {2, 2}, std::span<const float>(v)),
                   npz_entry("a", "<f4", {4}, std::span<const float>(v))},
                  "given twice");
    check_refused({npz_entry("a/b", "<f4", {4}, std::span<const float>(v))}, "invalid array name");
    check_refused({npz_entry("", "<f4", {4}, std::span<const float>(v))}, "invalid array name");
    check_refused({npz_entry("a", "float32", {4}, std::span<const float>(v))}, "unsupported dtype");
    check_refused({npz_entry("a", "<f4", {-4}, std::span<const float>(v))}, "negative dimension");

    write_npz(path, std::vector<NpzEntry>{npz_entry("a", "<f4", {4}, std::span<const float>(v))});
    REQUIRE_THROWS_AS(write_npz(path, std::vector<NpzEntry>{}, /*overwrite=*/false), InputError);
    write_npz(path, std::vector<NpzEntry>{});  // an empty archive is valid
    CHECK(read_npz(path).empty());
}

TEST_CASE("npz: an archive over 4 GiB is refused before anything is written", "[core][npz]") {
    // 5 GiB of address space that is never touched (MAP_NORESERVE): only sizes are looked at.
    constexpr std::size_t kSize = std::size_t{5} << 30;
    void* p = ::mmap(nullptr, kSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        WARN("cannot reserve 5 GiB of address space: ZIP64 limit check skipped");
        return;
    }
    TempDir tmp;
    const std::span<const std::byte> huge(static_cast<const std::byte*>(p), kSize);
    const std::vector<NpzEntry> one{{"big", "|u1", {static_cast<std::int64_t>(kSize)}, huge}};
    CHECK_THROWS_WITH(write_npz(tmp / "big.npz", one),
                      Catch::Contains("4 GiB") && Catch::Contains("big"));
    // Two members of 2.5 GiB each: every member fits, the archive does not.
    const std::vector<NpzEntry> two{
        {"a", "|u1", {static_cast<std::int64_t>(kSize / 2)}, huge.first(kSize / 2)},
        {"b", "|u1", {static_cast<std::int64_t>(kSize / 2)}, huge.first(kSize / 2)}};
    CHECK_THROWS_WITH(write_npz(tmp / "big.npz", two), Catch::Contains("4 GiB"));
    CHECK(evoscope::test::list_dir(tmp.path()).empty());
    ::munmap(p, kSize);
}

TEST_CASE("npz: corrupt or foreign files are refused with the file and member named",
          "[core][npz]") {
    TempDir tmp;
    const std::vector<std::int32_t> v{1, 2, 3, 4, 5, 6, 7, 8};
    const auto path = tmp / "c.npz";
    write_npz(
        path,
        std::vector<NpzEntry>{npz_entry("vals", "<i4", {8}, std::span<const std::int32_t>(v))});
    std::string bytes = evoscope::test::read_file(path);

    SECTION("a flipped data byte fails the CRC") {
        // The data sit right before the central directory: flip the last element's first byte.
        const auto central = bytes.find("PK\x01\x02");
        REQUIRE(central != std::string::npos);
        bytes[central - 4] = static_cast<char>(bytes[central - 4] ^ 0x01);
        evoscope::test::write_file(path, bytes);
        REQUIRE_THROWS_AS(read_npz(path), FormatError);
        REQUIRE_THROWS_WITH(
            read_npz(path),
            Catch::Contains("CRC32") && Catch::Contains("vals.npy") && Catch::Contains("c.npz"));
    }
    SECTION("not a ZIP file") {
        evoscope::test::write_file(path, "hello, I am not an archive at all");
        REQUIRE_THROWS_WITH(read_npz(path), Catch::Contains("not an .npz"));
    }
    SECTION("truncated archive") {
        evoscope::test::write_file(path, bytes.substr(0, bytes.size() / 2));
        REQUIRE_THROWS_AS(read_npz(path), FormatError);
    }
    SECTION("missing file") {
        REQUIRE_THROWS_AS(read_npz(tmp / "missing.npz"), IoError);
    }
}

// Found while fuzzing .npz (by reading the reader): a member whose shape x itemsize wraps to the
// data size (here 0) was accepted with a wrong element count.
TEST_CASE("npz: a member whose byte count overflows is refused", "[core][npz]") {
    TempDir tmp;
    const auto path = tmp / "huge.npz";
    {
        const std::string header = make_npy_header("<f8", {std::int64_t{1} << 61});
        OutputFile out(path.string(), true);
        ZipWriter zip(out);
        zip.add("huge.npy", {std::as_bytes(std::span(header))});
        zip.finish();
        out.commit();
    }
    REQUIRE_THROWS_AS(read_npz(path), FormatError);
    REQUIRE_THROWS_WITH(read_npz(path), Catch::Contains("huge.npy"));
}

// Found by fuzz/fuzz_npz: a deflated member declaring a 4 GB inflated size made ZipReader::read
// allocate the 4 GB before inflating a few bytes (out of memory). Deflate expands at most 1032:1,
// so the archive is refused when it is opened.
TEST_CASE("npz: a deflated member declaring more than deflate can produce is refused",
          "[core][npz]") {
    TempDir tmp;
    const std::vector<std::int32_t> v{1, 2, 3, 4};
    const auto path = tmp / "bomb.npz";
    write_npz(path,
              std::vector<NpzEntry>{npz_entry("v", "<i4", {4}, std::span<const std::int32_t>(v))});
    std::string bytes = evoscope::test::read_file(path);
    const auto central = bytes.find("PK\x01\x02");
    REQUIRE(central != std::string::npos);
    bytes[central + 10] = 8;  // method: deflate
    for (const std::size_t i : {24, 25, 26, 27}) {
        bytes[central + i] = static_cast<char>(i == 24 ? 0xf0 : 0xff);  // size 0xfffffff0
    }
    evoscope::test::write_file(path, bytes);
    REQUIRE_THROWS_AS(ZipReader({path}), FormatError);
    REQUIRE_THROWS_WITH(ZipReader({path}),
                        Catch::Contains("v.npy") && Catch::Contains("more than deflate"));
    REQUIRE_THROWS_AS(read_npz(path), FormatError);
}
