// Activation store manifest.json (JSON from whoever made the store): a small valid store is
// written once per process; each input replaces its manifest.json, then the store is opened and
// its rows and regions are read back.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "store/activation_store.hpp"

namespace {

namespace fs = std::filesystem;
using namespace evoscope::sae;

/// scratch/store: two shards of 3-wide float32 rows on contigs c1 (+ and -) and c2.
fs::path make_store() {
    const fs::path dir = evoscope::fuzz::scratch_dir() / "store";
    StoreManifest header;
    header.site = "blocks.1.mlp";
    header.d_model = 3;
    header.dtype = StoreDtype::Float32;
    header.model_path = "model.pt";
    header.model_hash = "sha256:0";
    header.window_bp = 8;
    header.stride_bp = 4;
    header.stitching = "earliest window";
    ActivationStoreWriter writer(dir, header, /*rows_per_shard=*/4, /*overwrite=*/true);
    std::vector<float> rows(3 * 5);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        rows[i] = static_cast<float>(i) * 0.5f;
    }
    writer.append("c1", 0, 5, '+', rows);
    writer.append("c1", 0, 2, '-', std::span<const float>(rows).first(6));
    writer.append("c2", 10, 12, '+', std::span<const float>(rows).first(6));
    writer.commit();
    // The seed fuzz/corpus/activation_store/manifest.json is this file.
    fs::copy_file(dir / "manifest.json",
                  evoscope::fuzz::scratch_dir() / "activation_store.seed.json",
                  fs::copy_options::overwrite_existing);
    return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fs::path dir = make_store();
    evoscope::fuzz::write_file(dir / "manifest.json", {data, size});
    return evoscope::fuzz::guarded([&] {
        ActivationStore store(dir);
        const std::int64_t n = store.n_rows();
        const std::int64_t d = store.d_model();
        if (n > 0 && d > 0 && n * d <= (1 << 16)) {
            std::vector<float> out(static_cast<std::size_t>(n * d));
            store.read_rows(0, n, out);
        }
        for (const auto& block : store.manifest().blocks) {
            (void)store.blocks_overlapping(block.contig, block.begin, block.end);
            if (block.end - block.begin <= 64 && d > 0 && d <= 1024) {
                (void)store.read_region(block.contig, block.begin, block.end, block.strand);
            }
        }
    });
}
