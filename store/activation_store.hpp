/// @file
/// The activation store written by `evoscope embed` and read by SAE training and, later,
/// alignment and tracks. A store is a folder:
///   manifest.json   format "evoscope-activations" v1: site, d_model, dtype, model identity,
///                   window/stride, stitching rule, provenance, and a list of row blocks
///                   {contig, begin, end, strand, shard, row} (0-based half-open positions;
///                   one row per genomic position, rows in ascending genomic order on both
///                   strands), and "contigs": [[name, length], ...], the reference's contig
///                   table (all contigs, in FASTA order, also those not embedded: a store of
///                   regions keeps the genome's lengths; absent in stores written before it)
///   shard-NNNNN.npy [n_rows, d_model] float32 ('<f4') or bfloat16 bit patterns ('<u2'),
///                   readable with numpy.load (view bf16 as uint16 and shift left by 16).
/// Each genomic position appears once per strand. Writing is atomic at the folder level: the
/// store is built in a temporary folder beside the target and renamed at commit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace evoscope::sae {

enum class StoreDtype : std::uint8_t { Float32, BFloat16 };
const char* store_dtype_name(StoreDtype dtype);
StoreDtype parse_store_dtype(const std::string& name);  ///< "float32"/"fp32", "bfloat16"/"bf16"

struct RowBlock {
    std::string contig;
    std::int64_t begin = 0;       ///< 0-based
    std::int64_t end = 0;         ///< exclusive
    char strand = '+';            ///< '+' or '-'
    std::size_t shard = 0;        ///< index into StoreManifest::shards
    std::int64_t row = 0;         ///< first row inside that shard
    std::int64_t global_row = 0;  ///< first row counted over all shards
};

struct StoreManifest {
    std::string site;
    std::int64_t d_model = 0;
    StoreDtype dtype = StoreDtype::Float32;
    std::string model_path;
    std::string model_hash;
    std::int64_t window_bp = 0;
    std::int64_t stride_bp = 0;
    std::string stitching;               ///< the rule, in words
    std::string provenance_json = "{}";  ///< free-form JSON object (command, versions, inputs)
    std::vector<std::string> shards;     ///< file names inside the folder
    std::vector<std::int64_t> shard_rows;
    std::vector<RowBlock> blocks;
    std::int64_t n_rows = 0;
    /// The reference's contigs {name, length} in FASTA order; empty when unknown (older stores).
    std::vector<std::pair<std::string, std::int64_t>> contigs;
};

class ActivationStoreWriter {
public:
    /// Starts a store at `dir` (which must not exist unless `overwrite`).
    /// `header` supplies site, d_model, dtype, model identity, window, stitching, provenance.
    ActivationStoreWriter(std::filesystem::path dir,
                          StoreManifest header,
                          std::int64_t rows_per_shard = 1 << 20,
                          bool overwrite = false);
    ~ActivationStoreWriter();
    ActivationStoreWriter(const ActivationStoreWriter&) = delete;
    ActivationStoreWriter& operator=(const ActivationStoreWriter&) = delete;

    /// Appends the rows of positions [begin, end) of `contig` on `strand`, in ascending genomic
    /// order: `rows` holds (end - begin) * d_model float32 values, row-major.
    /// @throws InputError on a size mismatch or non-finite values (NaN/Inf: names the position).
    void append(const std::string& contig,
                std::int64_t begin,
                std::int64_t end,
                char strand,
                std::span<const float> rows);
    std::int64_t rows_written() const;
    /// Writes manifest.json and moves the folder into place. @throws IoError.
    void commit();

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// Reads a store: random access by row and by genomic region.
class ActivationStore {
public:
    /// @throws IoError (missing folder/manifest/shard), FormatError (bad manifest, shard shape
    ///         not matching the manifest), each naming the file.
    explicit ActivationStore(const std::filesystem::path& dir);
    ~ActivationStore();
    ActivationStore(ActivationStore&&) noexcept;
    ActivationStore& operator=(ActivationStore&&) noexcept;

    const StoreManifest& manifest() const;
    std::int64_t n_rows() const;
    std::int64_t d_model() const;
    /// Rows [row, row + n) over all shards as float32 (bf16 widened), into `out` (n * d_model).
    void read_rows(std::int64_t row, std::int64_t n, std::span<float> out) const;
    /// Row blocks overlapping [begin, end) of `contig` (any strand when strand == 0).
    std::vector<RowBlock> blocks_overlapping(const std::string& contig,
                                             std::int64_t begin,
                                             std::int64_t end,
                                             char strand = 0) const;
    /// Activations of positions [begin, end) on `strand` as (end - begin) * d_model floats;
    /// positions the store does not hold are NaN. Reads only the shards that overlap.
    std::vector<float> read_region(const std::string& contig,
                                   std::int64_t begin,
                                   std::int64_t end,
                                   char strand = '+') const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace evoscope::sae
