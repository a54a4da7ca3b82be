/// @file
/// Activation rows [n_rows, d] for SAE training, without libtorch: a RowReader over an activation
/// store folder or a memory-mapped .npy file (rows converted to float32 on read and checked for
/// NaN/Inf on every read), a ShuffledRows stream that is deterministic on every platform and
/// resumes exactly from a small state, and read_all_rows for evaluation. Row numbers are 0-based.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace evoscope::sae {

/// Random access to float32 rows. The readers opened below are immutable after opening, so their
/// read_rows may be called from several threads at once; other implementations say whether theirs
/// can.
class RowReader {
public:
    virtual ~RowReader() = default;
    virtual std::int64_t n_rows() const = 0;
    virtual std::int64_t d() const = 0;
    /// Rows [row, row + n) as float32, row-major, into `out` (exactly n * d() values).
    /// @throws InputError for a range outside [0, n_rows()) or a wrong buffer size, and for a
    ///         NaN or Inf value (naming the file and the 0-based row); IoError/FormatError from
    ///         the underlying files.
    virtual void read_rows(std::int64_t row, std::int64_t n, std::span<float> out) const = 0;
    /// Path, shape and stored dtype, for logs and error messages.
    virtual std::string describe() const = 0;
};

/// Memory-maps a C-order 2-D .npy array: '<f4' float32, '<f2' float16, '<f8' float64 (narrowed
/// to float32), or '<u2', which is read as bfloat16 bit patterns (what `evoscope embed --npy
/// --dtype bf16` writes; a genuine uint16 array would be misread). The file may be larger
/// than memory; the mapping lives as long as the reader.
/// @throws IoError (missing or unreadable file), FormatError naming the file (not .npy, not
///         2-D, Fortran order, unsupported descr such as '>f4' or '<i4', truncated data),
///         InputError "empty ..." for zero rows or zero columns.
std::unique_ptr<RowReader> open_npy_rows(const std::filesystem::path& path);

/// Opens an activation store folder (store/activation_store.hpp) as one row range over all
/// shards in order. @throws as ActivationStore, and InputError "empty ..." for zero rows.
std::unique_ptr<RowReader> open_store_rows(const std::filesystem::path& dir);

/// A folder holding manifest.json -> open_store_rows; a file named *.npy (or starting with
/// the .npy magic) -> open_npy_rows. @throws IoError when `path` does not exist, InputError
/// naming the path and what was expected otherwise.
std::unique_ptr<RowReader> open_rows(const std::filesystem::path& path);

/// Where a ShuffledRows stream stands, plus the settings it was made with (restore() refuses
/// a state from different settings). Serialises to a flat JSON object.
struct ShuffleState {
    std::int64_t epoch = 0;        ///< passes completed over the row range
    std::int64_t block = 0;        ///< position of the current buffer in this epoch's order
    std::int64_t offset = 0;       ///< rows of the current buffer already emitted
    std::int64_t rows_served = 0;  ///< rows emitted since the start, over all epochs
    std::int64_t begin = 0;
    std::int64_t end = 0;
    std::int64_t buffer_rows = 0;
    std::int64_t n_chunks_per_buffer = 1;
    std::uint64_t seed = 0;

    bool operator==(const ShuffleState&) const = default;
};

void to_json(nlohmann::json& j, const ShuffleState& state);
/// @throws InputError naming a missing or invalid key.
void from_json(const nlohmann::json& j, ShuffleState& state);

/// An endless, bounded-memory shuffle of rows [begin, end) of a RowReader.
///
/// Scheme (deterministic; changing it breaks resuming old runs): the range is cut into
/// contiguous chunks of ceil(buffer_rows / n_chunks_per_buffer) rows (the last may be
/// shorter). Epoch e visits the chunks in a permutation seeded by (seed, e) and takes them
/// n_chunks_per_buffer at a time into a buffer ("block"); each chunk is one sequential read.
/// Buffer b's rows are emitted in a permutation seeded by (seed, e, b). Randomness is
/// SplitMix64 of seed and counters, so streams are identical on every platform.
/// With n_chunks_per_buffer = 1 a block is buffer_rows contiguous rows; activation rows are
/// stored in genomic order, so consecutive batches then come from one region: more chunks per
/// buffer (e.g. 16 to 64) mix distant regions at the cost of shorter reads.
///
/// Memory: one buffer of up to buffer_rows * d floats. Not thread-safe.
class ShuffledRows {
public:
    /// @throws InputError for a null reader, an empty or out-of-range [begin, end), or
    ///         non-positive buffer_rows / n_chunks_per_buffer.
    ShuffledRows(std::shared_ptr<const RowReader> reader,
                 std::int64_t begin,
                 std::int64_t end,
                 std::int64_t buffer_rows,
                 std::uint64_t seed,
                 std::int64_t n_chunks_per_buffer = 1);
    ~ShuffledRows();
    ShuffledRows(ShuffledRows&&) noexcept;
    ShuffledRows& operator=(ShuffledRows&&) noexcept;

    /// Fills `out` (exactly n * d() values) with the next n rows, crossing buffer and epoch
    /// boundaries. @throws as RowReader::read_rows, InputError for a wrong buffer size.
    void next(std::int64_t n, std::span<float> out);

    ShuffleState state() const;
    /// Continues exactly where `state` was taken: the following rows equal those of a stream
    /// that never stopped. @throws InputError when the state's settings differ from this
    /// stream's or its position is inconsistent.
    void restore(const ShuffleState& state);

    std::int64_t epoch() const;
    std::int64_t rows_served() const;
    std::int64_t d() const;
    std::int64_t rows_per_epoch() const;  ///< end - begin
    std::int64_t n_blocks() const;        ///< buffers per epoch

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// Rows [begin, min(end, begin + max_rows)) read in order, as float32 (n * d values).
/// @throws as RowReader::read_rows; InputError for a range outside the reader.
std::vector<float> read_all_rows(const RowReader& reader,
                                 std::int64_t begin,
                                 std::int64_t end,
                                 std::int64_t max_rows = std::numeric_limits<std::int64_t>::max());

}  // namespace evoscope::sae
