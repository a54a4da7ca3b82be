// Feature store manifest.json (JSON from whoever made the store): a small valid store is written
// once per process; each input replaces its manifest.json, then the store is opened, every
// chunk decoded and a region read.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "store/feature_store.hpp"

namespace {

namespace fs = std::filesystem;
using namespace evoscope::sae;

/// scratch/features: d_sae 8, contigs c1 (20 bp) and c2 (6 bp), chunks of 4 positions.
fs::path make_store() {
    const fs::path dir = evoscope::fuzz::scratch_dir() / "features";
    FeatureStoreHeader header;
    header.d_sae = 8;
    header.sae_path = "sae.pt";
    header.sae_hash = "sha256:1";
    header.model_path = "model.pt";
    header.model_hash = "sha256:0";
    header.site = "blocks.1.mlp";
    header.window_bp = 8;
    header.stride_bp = 4;
    header.stitching = "earliest window";
    header.contigs = {{"c1", 20}, {"c2", 6}};
    FeatureStoreWriter writer(dir, header, /*chunk_positions=*/4, /*overwrite=*/true);
    const std::vector<std::int64_t> row_ptr{0, 1, 1, 3, 4, 6};
    const std::vector<std::uint32_t> ids{2, 0, 7, 5, 1, 3};
    const std::vector<float> values{0.5f, 1.0f, 2.0f, 0.25f, 3.0f, 4.0f};
    writer.append("c1", 2, 7, '+', row_ptr, ids, values);
    writer.append("c1", 0, 5, '-', row_ptr, ids, values);
    writer.append("c2", 1, 6, '+', row_ptr, ids, values);
    writer.commit();
    // The seed fuzz/corpus/feature_store/manifest.json is this file.
    fs::copy_file(dir / "manifest.json",
                  evoscope::fuzz::scratch_dir() / "feature_store.seed.json",
                  fs::copy_options::overwrite_existing);
    return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fs::path dir = make_store();
    evoscope::fuzz::write_file(dir / "manifest.json", {data, size});
    return evoscope::fuzz::guarded([&] {
        FeatureStore store(dir);
        for (std::size_t i = 0; i < store.chunks().size(); ++i) {
            evoscope::fuzz::guarded([&] { (void)store.read_chunk(i); });
        }
        (void)store.feature_stats();
        for (const auto& contig : store.contigs()) {
            const std::int64_t end = contig.length < 64 ? contig.length : 64;
            evoscope::fuzz::guarded([&] { (void)store.read_region(contig.name, 0, end, '+'); });
            if (store.d_sae() > 0) {
                evoscope::fuzz::guarded(
                    [&] { (void)store.feature_track(0, contig.name, 0, end, '-'); });
            }
        }
    });
}
