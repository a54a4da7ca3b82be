#include "formats/torch_save.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "formats/zip.hpp"
#include "tests/support/test_support.hpp"

using Catch::Matchers::Contains;
using evoscope::checkpoint_parts;
using evoscope::FormatError;
using evoscope::InputError;
using evoscope::IoError;
using evoscope::TorchSaveFile;
using evoscope::ZipReader;
using evoscope::test::fixture_path;
using evoscope::test::TempDir;
using evoscope::test::write_parts;

namespace {

std::vector<std::filesystem::path> fixture(const std::string& name) {
    return {fixture_path("model/" + name)};
}

}  // namespace

TEST_CASE("TorchSaveFile: torch.save state dict structure", "[formats][torch_checkpoint]") {
    const TorchSaveFile ckpt(fixture("basic.pt"));
    REQUIRE(ckpt.skipped().empty());
    REQUIRE(ckpt.archive_name() == "basic");

    SECTION("a transposed view keeps its strides") {
        const auto& t = *ckpt.find("blocks.0.proj.weight_t");
        REQUIRE(t.shape == std::vector<std::int64_t>{4, 3});
        REQUIRE(t.stride == std::vector<std::int64_t>{1, 4});
        REQUIRE_FALSE(t.is_contiguous());
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
    SECTION("0-dim and empty tensors") {
        REQUIRE(ckpt.find("scalar")->shape.empty());
        REQUIRE(ckpt.find("empty")->numel() == 0);
        REQUIRE(ckpt.find("empty")->nbytes() == 0);
    }
}

TEST_CASE("TorchSaveFile: BytesIO _extra_state and other non-tensors are skipped and listed",
          "[formats][torch_checkpoint]") {
    // A real Module.state_dict() with a TE-style io.BytesIO extra state (NEWOBJ + _codecs.encode
    // + BUILD), the OrderedDict's _metadata (BUILD on the dict), a str and an int entry.
    const TorchSaveFile ckpt(fixture("extra_state.pt"));
    REQUIRE(ckpt.skipped() ==
            std::vector<std::string>{"blocks.0.projections._extra_state", "note", "step"});
}

TEST_CASE("TorchSaveFile: byte-split parts read like the whole file",
          "[formats][torch_checkpoint]") {
    const auto parts = checkpoint_parts(fixture_path("model/split.pt"));
    REQUIRE(parts.size() == 3);
    REQUIRE(parts[2].filename() == "split.pt.part2");
    const TorchSaveFile ckpt(parts);
    REQUIRE(ckpt.skipped().size() == 3);

    const std::string whole = evoscope::test::read_file(fixture_path("model/basic.pt"));
    TempDir dir;
    SECTION("page-multiple parts share one contiguous mapping") {
        const auto pieces = write_parts(dir, whole, {4096});
        const ZipReader zip(pieces);
        REQUIRE(zip.source().is_contiguous());
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
    }
}

TEST_CASE("TorchSaveFile: nested dicts and wrappers", "[formats][torch_checkpoint]") {
    // {"model": {"a": ..., "sub": {"c": ...}}, "epoch": 3, "optimizer": "adam"}
    const TorchSaveFile ckpt(fixture("wrapped.pt"));
    REQUIRE(ckpt.skipped() == std::vector<std::string>{"epoch", "optimizer"});
}

TEST_CASE("TorchSaveFile: clear errors for broken inputs", "[formats][torch_checkpoint]") {
    TempDir dir;
    SECTION("not a zip file") {
        const auto path = dir / "notes.pt";
        evoscope::test::write_file(path, std::string(100, 'x'));
        REQUIRE_THROWS_WITH(TorchSaveFile({path}),
                            Contains("notes.pt") && Contains("not a zip archive"));
    }
    SECTION("empty file") {
        const auto path = dir / "empty.pt";
        evoscope::test::write_file(path, "");
        REQUIRE_THROWS_AS(TorchSaveFile({path}), FormatError);
    }
    SECTION("truncated zip") {
        const auto path = dir / "cut.pt";
        evoscope::test::write_file(
            path, evoscope::test::read_file(fixture_path("model/basic.pt")).substr(0, 3000));
        REQUIRE_THROWS_WITH(TorchSaveFile({path}), Contains("cut.pt") && Contains("truncated"));
    }
    SECTION("a missing part (parts given out of order or one left out)") {
        const auto whole = evoscope::test::read_file(fixture_path("model/basic.pt"));
        const auto pieces = write_parts(dir, whole, {2000});
        REQUIRE_THROWS_AS(TorchSaveFile({pieces[1]}), FormatError);
        REQUIRE_THROWS_AS(TorchSaveFile({pieces[0]}), FormatError);
    }
    SECTION("missing storage entry") {
        REQUIRE_THROWS_WITH(
            TorchSaveFile(fixture("basic_missing_storage.pt")),
            Contains("basic/data/1") && Contains("missing") && Contains("norm.scale"));
    }
    SECTION("compressed storages") {
        REQUIRE_THROWS_WITH(TorchSaveFile(fixture("basic_deflated.pt")),
                            Contains("compressed") && Contains("basic_deflated.pt"));
    }
    SECTION("corrupt data.pkl fails its CRC") {
        auto bytes = evoscope::test::read_file(fixture_path("model/basic.pt"));
        const ZipReader zip({fixture_path("model/basic.pt")});
        bytes[static_cast<std::size_t>(zip.find("basic/data.pkl")->data_offset) + 40] ^= 0x20;
        const auto path = dir / "corrupt.pt";
        evoscope::test::write_file(path, bytes);
        REQUIRE_THROWS_WITH(TorchSaveFile({path}), Contains("corrupt") && Contains("data.pkl"));
    }
    SECTION("protocol 0 text opcodes") {
        REQUIRE_THROWS_WITH(TorchSaveFile(fixture("bad_opcode.pt")),
                            Contains("bad_opcode.pt") && Contains("unsupported pickle opcode"));
    }
    SECTION("a dict that contains itself") {
        REQUIRE_THROWS_WITH(TorchSaveFile(fixture("self_ref.pt")), Contains("nested deeper"));
    }
    SECTION("missing file") {
        REQUIRE_THROWS_AS(TorchSaveFile({dir / "absent.pt"}), IoError);
        REQUIRE_THROWS_AS(checkpoint_parts(dir / "absent.pt"), InputError);
    }
}
