/// @file
/// The SAE feature activation store written by `evoscope encode` and read by concept alignment
/// and tracks: for every genomic position (per strand) the nonzero (feature id, value) pairs of
/// one SAE, in compressed chunks indexed by contig, strand and coordinate, so that a region is
/// read without touching the rest of the file. A store is a folder:
///   manifest.json    format "evoscope-features" v1: d_sae, SAE/model identity, site, window,
///                    stride, stitching rule, drop_first, provenance, chunk_positions, the contig
///                    table {name, length} (which also fixes the scan order), n_positions,
///                    n_nonzero, and the chunk index "chunks", one row per chunk with the columns
///                    of "chunks_columns": [contig, strand, begin, end, offset, size, n_nonzero,
///                    crc32] (0-based half-open positions; offset and size in bytes within
///                    chunks.bin; crc32 of those compressed bytes).
///   chunks.bin       the chunks back to back. Each is one zlib stream (RFC 1950; Python:
///                    zlib.decompress) that inflates to, little-endian and without padding:
///                      uint32  counts[n]        nonzeros of each position, n = end - begin
///                      uint32  ids[n_nonzero]   feature ids, ascending within a position
///                      float32 values[n_nonzero]
///                    A chunk holds consecutive positions of one contig and strand, all of them
///                    stored (a position with no active feature has count 0); positions outside
///                    every chunk are "not covered". Chunks break at multiples of chunk_positions
///                    and at gaps only, so the same data gives the same chunks however append()
///                    calls split it.
///   feature_nnz.npy  [d_sae] int64: positions (both strands counted) where the feature is nonzero
///   feature_max.npy  [d_sae] float32: the feature's largest stored value (0 if never nonzero)
/// Writing is atomic at the folder level (temporary folder beside the target, renamed at commit).
/// Needs zlib only: no libtorch, no htslib.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace evoscope::sae {

/// Positions per chunk unless told otherwise (about 1 MB inflated at 32 nonzeros per position).
constexpr std::int64_t kDefaultChunkPositions = 4096;

struct FeatureContig {
    std::string name;
    std::int64_t length = 0;  ///< bp
};

/// Everything in the manifest except the chunk index and the totals.
struct FeatureStoreHeader {
    std::int64_t d_sae = 0;  ///< number of SAE features; every id is < d_sae
    std::string sae_path;
    std::string sae_hash;  ///< identity of the SAE checkpoint
    std::string model_path;
    std::string model_hash;
    std::string site;  ///< hook point the SAE reads, e.g. "blocks.26.mlp.l3"
    std::int64_t window_bp = 0;
    std::int64_t stride_bp = 0;
    std::string stitching;               ///< the stitching rule, in words
    std::int64_t drop_first = 0;         ///< leading positions of each window that were dropped
    std::string provenance_json = "{}";  ///< free-form JSON object (command, versions, inputs)
    /// Contig table. Given to the writer, it fixes names, lengths and order, and append() rejects
    /// other contigs and positions past the end; left empty, contigs are added in order of first
    /// append with length = the largest end written.
    std::vector<FeatureContig> contigs;
    /// Positions per chunk: the writer's constructor argument; read back from the manifest.
    std::int64_t chunk_positions = kDefaultChunkPositions;
};

/// One entry of the chunk index.
struct FeatureChunk {
    std::string contig;
    char strand = '+';
    std::int64_t begin = 0;        ///< 0-based
    std::int64_t end = 0;          ///< exclusive
    std::uint64_t offset = 0;      ///< bytes into chunks.bin
    std::uint64_t size_bytes = 0;  ///< compressed size
    std::uint64_t n_nonzero = 0;   ///< stored (id, value) pairs
    std::uint32_t crc32 = 0;       ///< of the compressed bytes
};

/// Sparse features of positions [begin, end) of one contig and strand in CSR form: the pairs of
/// position begin + i are ids/values[row_ptr[i], row_ptr[i + 1]), ids ascending.
struct FeatureRows {
    std::int64_t begin = 0;
    std::int64_t end = 0;
    std::vector<std::int64_t> row_ptr;  ///< end - begin + 1 entries, row_ptr[0] == 0
    std::vector<std::uint32_t> ids;
    std::vector<float> values;
    /// end - begin entries: 1 where the store holds the position.
    std::vector<std::uint8_t> covered;

    std::int64_t n_positions() const { return end - begin; }
};

/// Per-feature summary over the whole store (both strands).
struct FeatureStats {
    std::vector<std::int64_t> n_nonzero;  ///< [d_sae] positions where the feature is nonzero
    std::vector<float> max_value;         ///< [d_sae] largest value, 0 for never-active features
};

/// Builds a store. Not thread-safe; one writer per folder.
class FeatureStoreWriter {
public:
    /// Starts a store at `dir` (built in a temporary folder beside it).
    /// @throws InputError when `dir` exists and `overwrite` is false, d_sae or chunk_positions
    ///         is not positive, the contig table has duplicates or provenance is not a JSON
    ///         object; IoError when the temporary folder cannot be created.
    FeatureStoreWriter(std::filesystem::path dir,
                       FeatureStoreHeader header,
                       std::int64_t chunk_positions = kDefaultChunkPositions,
                       bool overwrite = false);
    /// Without commit(), removes the temporary folder: nothing is left behind.
    ~FeatureStoreWriter();
    FeatureStoreWriter(const FeatureStoreWriter&) = delete;
    FeatureStoreWriter& operator=(const FeatureStoreWriter&) = delete;

    /// Appends positions [begin, end) (0-based half-open) of `contig` on `strand` ('+' or '-')
    /// in CSR form: row_ptr has end - begin + 1 entries, row_ptr[0] == 0, non-decreasing, and
    /// row_ptr.back() == ids.size() == values.size(). Ids within a position may come in any order
    /// (they are stored ascending) but not twice. Calls may continue a contig/strand run or
    /// interleave runs of different contigs/strands; within one contig and strand, positions
    /// must ascend without overlap (a gap is fine: it stays uncovered).
    /// @throws InputError naming the contig and position: id >= d_sae, duplicate id, NaN/Inf
    ///         value, malformed row_ptr, descending or overlapping positions, unknown contig or
    ///         end past its length (fixed contig table). Nothing is written when it throws.
    ///         IoError when chunks.bin cannot be written.
    void append(const std::string& contig,
                std::int64_t begin,
                std::int64_t end,
                char strand,
                std::span<const std::int64_t> row_ptr,
                std::span<const std::uint32_t> ids,
                std::span<const float> values);
    /// Positions appended so far (both strands).
    std::int64_t positions_written() const;
    /// Flushes the last chunks, writes the statistics and manifest.json, and moves the folder
    /// into place (replacing an existing one only if `overwrite`). @throws IoError, InputError.
    void commit();

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// Reads a store by region, by chunk or whole. Const methods may be called from several
/// threads at once: chunks are read with pread, and the few decoded chunks kept for region
/// reads that come back to them (at most 8 chunks, 64 MiB) sit behind a mutex.
class FeatureStore {
public:
    /// Opens the store and checks the manifest against chunks.bin and the statistics.
    /// @throws IoError (missing folder, manifest.json, chunks.bin or statistics file, with the
    ///         path), FormatError (not JSON, wrong format or version, inconsistent index).
    explicit FeatureStore(const std::filesystem::path& dir);
    ~FeatureStore();
    FeatureStore(FeatureStore&&) noexcept;
    FeatureStore& operator=(FeatureStore&&) noexcept;

    const FeatureStoreHeader& header() const;
    const std::vector<FeatureContig>& contigs() const;
    std::int64_t d_sae() const;
    /// Covered positions, both strands counted.
    std::int64_t n_positions() const;
    /// Stored (id, value) pairs (an explicit 0.0 value given to append() counts here, not in
    /// feature_stats()).
    std::int64_t n_nonzero() const;
    /// The chunk index in scan order: contig table order, strand '+' then '-', ascending begin.
    const std::vector<FeatureChunk>& chunks() const;
    /// Decodes chunk `index` of chunks() (covered is all 1); bypasses the cache.
    /// @throws FormatError naming the store, contig, strand and positions on a CRC mismatch or
    ///         corrupt data; IoError on a read failure.
    FeatureRows read_chunk(std::size_t index) const;

    /// Features of positions [begin, end) (0-based half-open) on `strand`; uncovered positions
    /// have covered == 0 and no pairs. Decompresses only the chunks that overlap.
    /// @throws InputError for an unknown contig (naming the closest known names), a strand other
    ///         than '+'/'-', or begin < 0, end < begin, end > contig length; as read_chunk.
    FeatureRows read_region(const std::string& contig,
                            std::int64_t begin,
                            std::int64_t end,
                            char strand = '+') const;
    /// Dense track of one feature over [begin, end): NaN where uncovered, 0 where covered but
    /// inactive. @throws InputError (feature >= d_sae), as read_region.
    std::vector<float> feature_track(std::uint32_t feature,
                                     const std::string& contig,
                                     std::int64_t begin,
                                     std::int64_t end,
                                     char strand = '+') const;
    /// Several tracks in one pass: [features.size(), end - begin] row-major, values as
    /// feature_track. @throws InputError (feature >= d_sae or repeated), as read_region.
    std::vector<float> feature_tracks(std::span<const std::uint32_t> features,
                                      const std::string& contig,
                                      std::int64_t begin,
                                      std::int64_t end,
                                      char strand = '+') const;
    /// Calls `visit` once per chunk, in chunks() order, with the chunk and its decoded rows.
    /// Exceptions from `visit` propagate (and end the scan).
    void scan(const std::function<void(const FeatureChunk&, const FeatureRows&)>& visit) const;
    /// Per-feature counts and maxima, computed by the writer.
    const FeatureStats& feature_stats() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace evoscope::sae
