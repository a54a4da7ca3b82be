#include "model/torch_checkpoint.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "core/error.hpp"
#include "model/zip_reader.hpp"
#include "tests/support/test_support.hpp"
#include "tests/unit/model/checkpoint_fixtures.hpp"
#include "tests/support/catch_torch.hpp"  // after libtorch: Catch2's CHECK, not glog's

using Catch::Matchers::Contains;
using evoscope::FormatError;
using evoscope::InputError;
using evoscope::IoError;
using evoscope::model::checkpoint_parts;
using evoscope::model::TorchCheckpoint;
using evoscope::model::ZipReader;
using evoscope::test::fixture_path;
using evoscope::test::NamedTensors;
using evoscope::test::same_bits;
using evoscope::test::TempDir;

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

/// Writes `bytes` split at `cuts` into name.part0, name.part1, ... and returns the paths.
std::vector<std::filesystem::path> write_parts(const TempDir& dir,
                                               const std::string& bytes,
                                               const std::vector<std::size_t>& cuts) {
    std::vector<std::filesystem::path> parts;
    std::size_t begin = 0;
    for (std::size_t i = 0; i <= cuts.size(); ++i) {
        const std::size_t end = i < cuts.size() ? cuts[i] : bytes.size();
        parts.push_back(dir / ("ckpt.pt.part" + std::to_string(i)));
        evoscope::test::write_file(parts.back(), bytes.substr(begin, end - begin));
        begin = end;
    }
    return parts;
}

}  // namespace

TEST_CASE("TorchCheckpoint: torch.save state dict read exactly", "[model][torch_checkpoint]") {
    const TorchCheckpoint ckpt(fixture("basic.pt"));
    require_tensors(ckpt, evoscope::test::expected_basic());
    REQUIRE(ckpt.skipped().empty());
    REQUIRE(ckpt.archive_name() == "basic");

    SECTION("a transposed view keeps its strides") {
        const auto& t = *ckpt.find("blocks.0.proj.weight_t");
        REQUIRE(t.shape == std::vector<std::int64_t>{4, 3});
        REQUIRE(t.stride == std::vector<std::int64_t>{1, 4});
        REQUIRE_FALSE(t.is_contiguous());
        REQUIRE(ckpt.tensor(t).strides() == at::IntArrayRef{1, 4});
    }
    SECTION("two tensors share one storage at different offsets") {
        const auto& a = *ckpt.find("shared.a");
        const auto& b = *ckpt.find("shared.b");
        REQUIRE(a.storage_key == b.storage_key);
        REQUIRE(a.storage_offset == 0);
        REQUIRE(b.storage_offset == 8);
        REQUIRE(b.storage_numel == 20);
        REQUIRE(b.is_contiguous());
    }
    SECTION("aligned storages are zero-copy views of the mapping") {
        const auto& a = *ckpt.find("shared.a");
        const auto x = ckpt.tensor(a);
        const auto y = ckpt.tensor(*ckpt.find("shared.b"));
        REQUIRE(y.data_ptr<float>() == x.data_ptr<float>() + 8);
    }
    SECTION("0-dim and empty tensors") {
        REQUIRE(ckpt.find("scalar")->shape.empty());
        REQUIRE(ckpt.find("empty")->numel() == 0);
        REQUIRE(ckpt.find("empty")->nbytes() == 0);
    }
}

TEST_CASE("TorchCheckpoint: BytesIO _extra_state and other non-tensors are skipped and listed",
          "[model][torch_checkpoint]") {
    // A real Module.state_dict() with a TE-style io.BytesIO extra state (NEWOBJ + _codecs.encode
    // + BUILD), the OrderedDict's _metadata (BUILD on the dict), a str and an int entry.
    const TorchCheckpoint ckpt(fixture("extra_state.pt"));
    require_tensors(ckpt, evoscope::test::expected_extra_state());
    REQUIRE(ckpt.skipped() ==
            std::vector<std::string>{"blocks.0.projections._extra_state", "note", "step"});
}

TEST_CASE("TorchCheckpoint: byte-split parts read like the whole file",
          "[model][torch_checkpoint]") {
    const auto parts = checkpoint_parts(fixture_path("model/split.pt"));
    REQUIRE(parts.size() == 3);
    REQUIRE(parts[2].filename() == "split.pt.part2");
    const TorchCheckpoint ckpt(parts);
    require_tensors(ckpt, evoscope::test::expected_extra_state());
    REQUIRE(ckpt.skipped().size() == 3);

    const std::string whole = evoscope::test::read_file(fixture_path("model/basic.pt"));
    TempDir dir;
    SECTION("page-multiple parts share one contiguous mapping") {
        const auto pieces = write_parts(dir, whole, {4096});
        const ZipReader zip(pieces);
        REQUIRE(zip.source().is_contiguous());
        require_tensors(TorchCheckpoint(pieces), evoscope::test::expected_basic());
    }
    SECTION("a storage straddling a part boundary is copied") {
        const ZipReader zip({fixture_path("model/basic.pt")});
        const auto* entry = zip.find("basic/data/4");  // shared storage, 80 bytes
        REQUIRE(entry != nullptr);
        const auto cut = static_cast<std::size_t>(entry->data_offset) + 3;
        const auto pieces = write_parts(dir, whole, {1000, cut, cut + 1});
        const ZipReader split_zip(pieces);
        REQUIRE_FALSE(split_zip.source().is_contiguous());
        REQUIRE(split_zip.data(*split_zip.find("basic/data/4")) == nullptr);
        require_tensors(TorchCheckpoint(pieces), evoscope::test::expected_basic());
    }
}

TEST_CASE("TorchCheckpoint: nested dicts and wrappers", "[model][torch_checkpoint]") {
    // {"model": {"a": ..., "sub": {"c": ...}}, "epoch": 3, "optimizer": "adam"}
    const TorchCheckpoint ckpt(fixture("wrapped.pt"));
    require_tensors(
        ckpt,
        {{"a", torch::arange(3, torch::kFloat)}, {"sub.c", torch::arange(2, torch::kLong) + 10}});
    REQUIRE(ckpt.skipped() == std::vector<std::string>{"epoch", "optimizer"});
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

TEST_CASE("TorchCheckpoint: clear errors for broken inputs", "[model][torch_checkpoint]") {
    TempDir dir;
    SECTION("not a zip file") {
        const auto path = dir / "notes.pt";
        evoscope::test::write_file(path, std::string(100, 'x'));
        REQUIRE_THROWS_WITH(TorchCheckpoint({path}),
                            Contains("notes.pt") && Contains("not a zip archive"));
    }
    SECTION("empty file") {
        const auto path = dir / "empty.pt";
        evoscope::test::write_file(path, "");
        REQUIRE_THROWS_AS(TorchCheckpoint({path}), FormatError);
    }
    SECTION("truncated zip") {
        const auto path = dir / "cut.pt";
        evoscope::test::write_file(
            path, evoscope::test::read_file(fixture_path("model/basic.pt")).substr(0, 3000));
        REQUIRE_THROWS_WITH(TorchCheckpoint({path}), Contains("cut.pt") && Contains("truncated"));
    }
    SECTION("a missing part (parts given out of order or one left out)") {
        const auto whole = evoscope::test::read_file(fixture_path("model/basic.pt"));
        const auto pieces = write_parts(dir, whole, {2000});
        REQUIRE_THROWS_AS(TorchCheckpoint({pieces[1]}), FormatError);
        REQUIRE_THROWS_AS(TorchCheckpoint({pieces[0]}), FormatError);
    }
    SECTION("missing storage entry") {
        REQUIRE_THROWS_WITH(
            TorchCheckpoint(fixture("basic_missing_storage.pt")),
            Contains("basic/data/1") && Contains("missing") && Contains("norm.scale"));
    }
    SECTION("compressed storages") {
        REQUIRE_THROWS_WITH(TorchCheckpoint(fixture("basic_deflated.pt")),
                            Contains("compressed") && Contains("basic_deflated.pt"));
    }
    SECTION("corrupt data.pkl fails its CRC") {
        auto bytes = evoscope::test::read_file(fixture_path("model/basic.pt"));
        const ZipReader zip({fixture_path("model/basic.pt")});
        bytes[static_cast<std::size_t>(zip.find("basic/data.pkl")->data_offset) + 40] ^= 0x20;
        const auto path = dir / "corrupt.pt";
        evoscope::test::write_file(path, bytes);
        REQUIRE_THROWS_WITH(TorchCheckpoint({path}), Contains("corrupt") && Contains("data.pkl"));
    }
    SECTION("protocol 0 text opcodes") {
        REQUIRE_THROWS_WITH(TorchCheckpoint(fixture("bad_opcode.pt")),
                            Contains("bad_opcode.pt") && Contains("unsupported pickle opcode"));
    }
    SECTION("a dict that contains itself") {
        REQUIRE_THROWS_WITH(TorchCheckpoint(fixture("self_ref.pt")), Contains("nested deeper"));
    }
    SECTION("missing file") {
        REQUIRE_THROWS_AS(TorchCheckpoint({dir / "absent.pt"}), IoError);
        REQUIRE_THROWS_AS(checkpoint_parts(dir / "absent.pt"), InputError);
    }
}
