#include "model/torch_checkpoint.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "formats/zip.hpp"
#include "tests/support/catch_torch.hpp"  // after libtorch: Catch2's CHECK, not glog's
#include "tests/support/test_support.hpp"
#include "tests/unit/model/checkpoint_fixtures.hpp"

// The torch-free assertions on the same fixtures (structure, skipped entries, parts, errors) are
// in tests/unit/formats/torch_save_test.cpp.

using evoscope::ZipReader;
using evoscope::model::checkpoint_parts;
using evoscope::model::TorchCheckpoint;
using evoscope::test::fixture_path;
using evoscope::test::NamedTensors;
using evoscope::test::same_bits;
using evoscope::test::TempDir;
using evoscope::test::write_parts;

namespace {

std::vector<std::filesystem::path> fixture(const std::string& name) {
    return {fixture_path("model/" + name)};
}

/// Every tensor of `ckpt` equals `expected`, in order, bit for bit.
void require_tensors(const TorchCheckpoint& ckpt, const NamedTensors& expected) {
    REQUIRE(ckpt.tensors().size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& [name, want] = expected[i];
        INFO("tensor " << name);
        REQUIRE(ckpt.tensors()[i].name == name);
        const auto got = ckpt.tensor(ckpt.tensors()[i]);
        REQUIRE(got.scalar_type() == want.scalar_type());
        REQUIRE(got.sizes() == want.sizes());
        REQUIRE(same_bits(got, want));
    }
}

}  // namespace

TEST_CASE("TorchCheckpoint: torch.save state dict read exactly", "[model][torch_checkpoint]") {
    const TorchCheckpoint ckpt(fixture("basic.pt"));
    require_tensors(ckpt, evoscope::test::expected_basic());

    SECTION("a transposed view keeps its strides") {
        const auto& t = *ckpt.find("blocks.0.proj.weight_t");
        REQUIRE(ckpt.tensor(t).strides() == at::IntArrayRef{1, 4});
    }
    SECTION("aligned storages are zero-copy views of the mapping") {
        const auto& a = *ckpt.find("shared.a");
        const auto x = ckpt.tensor(a);
        const auto y = ckpt.tensor(*ckpt.find("shared.b"));
        REQUIRE(y.data_ptr<float>() == x.data_ptr<float>() + 8);
    }
}

TEST_CASE("TorchCheckpoint: BytesIO _extra_state and other non-tensors are skipped and listed",
          "[model][torch_checkpoint]") {
    const TorchCheckpoint ckpt(fixture("extra_state.pt"));
    require_tensors(ckpt, evoscope::test::expected_extra_state());
}

TEST_CASE("TorchCheckpoint: byte-split parts read like the whole file",
          "[model][torch_checkpoint]") {
    const auto parts = checkpoint_parts(fixture_path("model/split.pt"));
    const TorchCheckpoint ckpt(parts);
    require_tensors(ckpt, evoscope::test::expected_extra_state());

    const std::string whole = evoscope::test::read_file(fixture_path("model/basic.pt"));
    TempDir dir;
    SECTION("page-multiple parts share one contiguous mapping") {
        const auto pieces = write_parts(dir, whole, {4096});
        require_tensors(TorchCheckpoint(pieces), evoscope::test::expected_basic());
    }
    SECTION("a storage straddling a part boundary is copied") {
        const ZipReader zip({fixture_path("model/basic.pt")});
        const auto* entry = zip.find("basic/data/4");  // shared storage, 80 bytes
        const auto cut = static_cast<std::size_t>(entry->data_offset) + 3;
        const auto pieces = write_parts(dir, whole, {1000, cut, cut + 1});
        require_tensors(TorchCheckpoint(pieces), evoscope::test::expected_basic());
    }
}

TEST_CASE("TorchCheckpoint: nested dicts and wrappers", "[model][torch_checkpoint]") {
    // {"model": {"a": ..., "sub": {"c": ...}}, "epoch": 3, "optimizer": "adam"}
    const TorchCheckpoint ckpt(fixture("wrapped.pt"));
    require_tensors(
        ckpt,
        {{"a", torch::arange(3, torch::kFloat)}, {"sub.c", torch::arange(2, torch::kLong) + 10}});
}

TEST_CASE("TorchCheckpoint: pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL)",
          "[model][torch_checkpoint]") {
    const TorchCheckpoint ckpt(fixture("basic_proto4.pt"));
    require_tensors(ckpt, evoscope::test::expected_basic());
}

TEST_CASE("TorchCheckpoint: ZIP64 archives", "[model][torch_checkpoint]") {
    // Python's zipfile with its ZIP64 limit lowered: every size/offset in ZIP64 extra fields and
    // a ZIP64 end record, as in multi-GiB checkpoints; entries are not 64-byte aligned either.
    const TorchCheckpoint ckpt(fixture("basic_zip64.pt"));
    require_tensors(ckpt, evoscope::test::expected_basic());
}
