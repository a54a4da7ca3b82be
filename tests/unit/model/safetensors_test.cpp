#include "model/safetensors.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "core/error.hpp"
#include "tests/support/catch_torch.hpp"  // after libtorch: Catch2's CHECK, not glog's
#include "tests/support/test_support.hpp"
#include "tests/unit/model/checkpoint_fixtures.hpp"

using Catch::Matchers::Contains;
using evoscope::FormatError;
using evoscope::InputError;
using evoscope::model::SafetensorsFile;
using evoscope::model::TensorSpec;
using evoscope::model::write_safetensors;
using evoscope::test::fixture_path;
using evoscope::test::same_bits;
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

std::vector<std::pair<std::string, torch::Tensor>> every_dtype() {
    torch::manual_seed(7);
    auto f32 = torch::randn({3, 5});
    f32[0][0] = std::numeric_limits<float>::quiet_NaN();
    f32[0][1] = -std::numeric_limits<float>::infinity();
    f32[0][2] = -0.0F;
    return {
        {"f64", torch::randn({2, 3}, torch::kDouble)},
        {"f32", f32},
        {"f16", torch::randn({4}).to(torch::kHalf)},
        {"bf16", torch::randn({2, 2, 2}).to(torch::kBFloat16)},
        {"i64", torch::randint(-1'000'000'000'000LL, 1'000'000'000'000LL, {6}, torch::kLong)},
        {"i32", torch::randint(-100000, 100000, {3}, torch::kInt)},
        {"i16", torch::randint(-30000, 30000, {3}, torch::kShort)},
        {"i8", torch::randint(-128, 128, {5}, torch::kChar)},
        {"u8", torch::randint(0, 256, {5}, torch::kByte)},
        {"bool", torch::randint(0, 2, {7}).to(torch::kBool)},
        {"transposed", torch::randn({3, 4}).t()},  // written contiguous
        {"scalar", torch::scalar_tensor(2.5, torch::kFloat)},
        {"empty", torch::zeros({0, 4}, torch::kBFloat16)},
    };
}

}  // namespace

TEST_CASE("safetensors: round trip is bit-exact for every dtype", "[model][safetensors]") {
    TempDir dir;
    const auto path = dir / "all.safetensors";
    const auto tensors = every_dtype();
    const std::map<std::string, std::string> metadata{{"evoscope.config", "a: 1\nb: [2, 3]\n"},
                                                      {"format", "pt"}};
    write_safetensors(path, tensors, metadata);

    const SafetensorsFile file(path);
    REQUIRE(file.metadata() == metadata);
    REQUIRE(file.entries().size() == tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const auto& [name, want] = tensors[i];
        INFO("tensor " << name);
        REQUIRE(file.entries()[i].name == name);  // file order = write order
        const auto got = file.tensor(name);
        REQUIRE(same_bits(got, want));
        REQUIRE(got.is_contiguous());
    }
    REQUIRE(file.find("bf16")->dtype == "BF16");
    REQUIRE(file.find("absent") == nullptr);
    REQUIRE_THROWS_AS(file.tensor("absent"), InputError);

    SECTION("the data section is 8-byte aligned, so reads are zero-copy") {
        const auto bytes = evoscope::test::read_file(path);
        std::uint64_t n = 0;
        std::memcpy(&n, bytes.data(), sizeof(n));
        REQUIRE(n % 8 == 0);
        const auto view = file.tensor("f64");
        REQUIRE(view.data_ptr() == static_cast<const void*>(file.bytes(*file.find("f64")).data()));
    }
}

TEST_CASE("safetensors: reads a file written by Python (struct + json)", "[model][safetensors]") {
    // No header padding in this file: tensors sit at odd addresses and are copied on read.
    const SafetensorsFile file(fixture_path("model/reference.safetensors"));
    REQUIRE(file.metadata().at("evoscope.config") == "model_name: tiny\nhidden_size: 6\n");
    REQUIRE(file.metadata().at("format") == "pt");
    std::size_t n = 0;
    for (const auto& [name, want] : evoscope::test::expected_basic()) {
        if (name == "shared.a" || name == "shared.b") {
            continue;
        }
        INFO("tensor " << name);
        REQUIRE(same_bits(file.tensor(name), want));
        ++n;
    }
    REQUIRE(file.entries().size() == n);
}

TEST_CASE("safetensors: malformed files are FormatErrors naming file and key",
          "[model][safetensors]") {
    // The torch-free cases are in tests/unit/formats/safetensors_test.cpp.
    TempDir dir;
    const auto path = dir / "bad.safetensors";
    const std::string f32x2(8, '\0');
    SECTION("a dtype libtorch lacks parses, but cannot become a tensor") {
        write_raw(path, R"({"u":{"dtype":"U16","shape":[4],"data_offsets":[0,8]}})", f32x2);
        const SafetensorsFile file(path);
        REQUIRE_THROWS_AS(file.tensor("u"), FormatError);
    }
}

TEST_CASE("safetensors: writes are atomic", "[model][safetensors]") {
    TempDir dir;
    const auto path = dir / "out.safetensors";
    const auto tensors = every_dtype();
    SECTION("a failure while streaming leaves nothing behind") {
        std::vector<TensorSpec> specs;
        for (const auto& [name, t] : tensors) {
            specs.push_back(
                TensorSpec{.name = name, .dtype = t.scalar_type(), .shape = t.sizes().vec()});
        }
        auto failing = [&](std::size_t i) -> at::Tensor {
            if (i == 3) {
                throw evoscope::IoError("disk on fire");
            }
            return tensors[i].second;
        };
        REQUIRE_THROWS_WITH(write_safetensors(path, specs, failing), Contains("disk on fire"));
        REQUIRE(evoscope::test::list_dir(dir.path()).empty());
    }
    SECTION("a failed rewrite keeps the old file") {
        write_safetensors(path, {tensors[0]});
        const auto before = evoscope::test::read_file(path);
        REQUIRE_THROWS_AS(
            write_safetensors(path, {tensors[0], {"c", torch::zeros({2}, torch::kComplexFloat)}}),
            InputError);
        REQUIRE_THROWS_AS(write_safetensors(path, {tensors[0], tensors[0]}), InputError);
        REQUIRE(evoscope::test::read_file(path) == before);
        REQUIRE(evoscope::test::list_dir(dir.path()) ==
                std::vector<std::string>{"out.safetensors"});
    }
    SECTION("a tensor not matching its spec is refused") {
        const std::vector<TensorSpec> specs{{.name = "a", .dtype = torch::kFloat, .shape = {2}}};
        auto wrong = [](std::size_t) {
            return torch::zeros({3});
        };
        REQUIRE_THROWS_AS(write_safetensors(path, specs, wrong), InputError);
        REQUIRE_FALSE(std::filesystem::exists(path));
    }
    SECTION("a missing directory is an IoError") {
        REQUIRE_THROWS_AS(write_safetensors(dir / "no" / "x.safetensors", tensors),
                          evoscope::IoError);
    }
}
