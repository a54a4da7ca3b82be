#include "formats/safetensors.hpp"

#include <cstdint>
#include <cstring>
#include <string>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "tests/support/test_support.hpp"

using Catch::Matchers::Contains;
using evoscope::FormatError;
using evoscope::SafetensorsReader;
using evoscope::test::TempDir;

namespace {

/// A safetensors file from a header text and a data section, written byte by byte.
void write_raw(const std::filesystem::path& path,
               const std::string& header,
               const std::string& data) {
    std::string bytes(8, '\0');
    std::uint64_t n = header.size();
    std::memcpy(bytes.data(), &n, sizeof(n));
    evoscope::test::write_file(path, bytes + header + data);
}

}  // namespace

TEST_CASE("SafetensorsReader: malformed files are FormatErrors naming file and key",
          "[formats][safetensors]") {
    TempDir dir;
    const auto path = dir / "bad.safetensors";
    const std::string f32x2(8, '\0');
    auto require_error = [&](const std::string& what) {
        REQUIRE_THROWS_AS(SafetensorsReader(path), FormatError);
        REQUIRE_THROWS_WITH(SafetensorsReader(path), Contains("bad.safetensors") && Contains(what));
    };
    SECTION("shorter than the length field") {
        evoscope::test::write_file(path, "abc");
        require_error("8-byte");
    }
    SECTION("header length beyond the file") {
        write_raw(path, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", f32x2);
        auto bytes = evoscope::test::read_file(path);
        bytes[1] = '\x7f';
        evoscope::test::write_file(path, bytes);
        require_error("beyond the end");
    }
    SECTION("truncated data section") {
        write_raw(path, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", f32x2);
        require_error("'w'");
    }
    SECTION("invalid JSON") {
        write_raw(path, R"({"a":{"dtype":"F32",)", f32x2);
        require_error("JSON");
    }
    SECTION("header not an object") {
        write_raw(path, "[1, 2]", f32x2);
        require_error("object");
    }
    SECTION("offsets reversed") {
        write_raw(path, R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", f32x2);
        require_error("'a'");
    }
    SECTION("overlapping tensors") {
        write_raw(path,
                  R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                  std::string(12, '\0'));
        REQUIRE_THROWS_WITH(SafetensorsReader(path),
                            Contains("'a'") && Contains("'b'") && Contains("overlap"));
    }
    SECTION("size not matching dtype x shape") {
        write_raw(path, R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32x2);
        require_error("'a'");
    }
    SECTION("unknown dtype") {
        write_raw(path, R"({"a":{"dtype":"F9","shape":[2],"data_offsets":[0,8]}})", f32x2);
        require_error("'F9'");
    }
    SECTION("negative dimension") {
        write_raw(path, R"({"a":{"dtype":"U8","shape":[-8],"data_offsets":[0,8]}})", f32x2);
        require_error("'a'");
    }
    SECTION("non-string metadata") {
        write_raw(path, R"({"__metadata__":{"k":1}})", "");
        require_error("'k'");
    }
    SECTION("missing data_offsets") {
        write_raw(path, R"({"a":{"dtype":"F32","shape":[2]}})", f32x2);
        require_error("'a'");
    }
    SECTION("a dtype libtorch lacks parses") {
        write_raw(path, R"({"u":{"dtype":"U16","shape":[4],"data_offsets":[0,8]}})", f32x2);
        const SafetensorsReader file(path);
        REQUIRE(file.bytes(*file.find("u")).size() == 8);
    }
}
