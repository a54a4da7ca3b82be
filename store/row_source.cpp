#include "store/row_source.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.hpp"
#include "core/strings.hpp"
#include "formats/mapped_file.hpp"
#include "formats/npy.hpp"
#include "store/activation_store.hpp"

namespace evoscope::sae {
namespace {

// ---------------------------------------------------------------------------------------------
// Finite check and conversions

constexpr std::size_t kNotFound = static_cast<std::size_t>(-1);

/// Index of the first NaN or Inf in `v`, or kNotFound. The first pass only ORs exponent tests
/// (branch-free, vectorisable), so the common all-finite case costs one streaming pass.
std::size_t first_non_finite(std::span<const float> v) {
    std::uint32_t bad = 0;
    for (const float x : v) {
        bad |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(x) & 0x7f800000U) ==
                                          0x7f800000U);
    }
    if (bad == 0) {
        return kNotFound;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (!std::isfinite(v[i])) {
            return i;
        }
    }
    return kNotFound;
}

/// double to float without the undefined behaviour of casting an out-of-range value: those
/// become +-Inf, which the finite check then reports.
float narrow_double(double x) {
    constexpr double kMax = static_cast<double>(std::numeric_limits<float>::max());
    if (std::isfinite(x) && std::fabs(x) > kMax) {
        return std::copysign(std::numeric_limits<float>::infinity(),
                             static_cast<float>(x > 0 ? 1 : -1));
    }
    return static_cast<float>(x);
}

enum class RowDtype : std::uint8_t { Float32, Float16, Float64, BFloat16 };

struct DtypeFacts {
    std::string_view descr;
    RowDtype dtype;
    std::size_t itemsize;
    const char* name;
};

constexpr DtypeFacts kDtypes[] = {
    {"<f4", RowDtype::Float32, 4, "float32"},
    {"<f2", RowDtype::Float16, 2, "float16"},
    {"<f8", RowDtype::Float64, 8, "float64"},
    {"<u2", RowDtype::BFloat16, 2, "bfloat16 (uint16 bits)"},
};

/// Converts `count` little-endian elements at `src` to float32.
void convert(const std::byte* src, RowDtype dtype, std::size_t count, float* dst) {
    switch (dtype) {
        case RowDtype::Float32:
            std::memcpy(dst, src, count * sizeof(float));
            return;
        case RowDtype::BFloat16:
            for (std::size_t i = 0; i < count; ++i) {
                std::uint16_t bits = 0;
                std::memcpy(&bits, src + 2 * i, 2);
                dst[i] = std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
            }
            return;
        case RowDtype::Float16:
            for (std::size_t i = 0; i < count; ++i) {
                std::uint16_t bits = 0;
                std::memcpy(&bits, src + 2 * i, 2);
                dst[i] = half_to_float(bits);
            }
            return;
        case RowDtype::Float64:
            for (std::size_t i = 0; i < count; ++i) {
                double value = 0;
                std::memcpy(&value, src + 8 * i, 8);
                dst[i] = narrow_double(value);
            }
            return;
    }
}

void check_range(const RowReader& reader, std::int64_t row, std::int64_t n, std::size_t out_size) {
    EVOSCOPE_CHECK(row >= 0 && n >= 0 && row <= reader.n_rows() - n,
                   "{}: rows {}..{} outside the {} rows",
                   reader.describe(),
                   row,
                   row + n,
                   reader.n_rows());
    EVOSCOPE_CHECK(out_size == static_cast<std::size_t>(n * reader.d()),
                   "{}: read_rows buffer holds {} values, {} rows need {}",
                   reader.describe(),
                   out_size,
                   n,
                   n * reader.d());
}

/// `row_text` is "row 12 (0-based)" or, for stores, "row 12 (0-based; row 5 of shard-00001.npy)".
[[noreturn]] void throw_non_finite(const std::string& where,
                                   const std::string& row_text,
                                   std::int64_t column) {
    throw InputError(
        fmt::format("{}: non-finite value (NaN or Inf) in {}, column {}; activation rows must be "
                    "finite",
                    where,
                    row_text,
                    column));
}

// ---------------------------------------------------------------------------------------------
// .npy, memory-mapped

class NpyRows final : public RowReader {
public:
    explicit NpyRows(std::filesystem::path path) : path_(std::move(path)), file_(path_) {
        parse_header();
    }

    std::int64_t n_rows() const override { return n_rows_; }

    std::int64_t d() const override { return d_; }

    std::string describe() const override {
        return fmt::format("{} [{} x {}, {}]", path_.string(), n_rows_, d_, facts_->name);
    }

    void read_rows(std::int64_t row, std::int64_t n, std::span<float> out) const override {
        check_range(*this, row, n, out.size());
        const std::size_t row_bytes = static_cast<std::size_t>(d_) * facts_->itemsize;
        const std::byte* first = data_ + static_cast<std::size_t>(row) * row_bytes;
        const std::size_t n_bytes = static_cast<std::size_t>(n) * row_bytes;
        if (n_bytes >= kAdviseBytes) {
            // Ask for the whole range at once: a shuffle buffer is one large sequential read and
            // the kernel's default readahead window is small.
            file_.prefetch(static_cast<std::uint64_t>(first - file_.bytes().data()), n_bytes);
        }
        const auto d = static_cast<std::size_t>(d_);
        for (std::int64_t i = 0; i < n; ++i) {
            float* dst = out.data() + static_cast<std::size_t>(i) * d;
            convert(first + static_cast<std::size_t>(i) * row_bytes, facts_->dtype, d, dst);
            const std::size_t bad = first_non_finite(std::span<const float>(dst, d));
            if (bad != kNotFound) {
                throw_non_finite(path_.string(),
                                 fmt::format("row {} (0-based)", row + i),
                                 static_cast<std::int64_t>(bad));
            }
        }
    }

private:
    static constexpr std::size_t kAdviseBytes = std::size_t{1} << 20;

    void parse_header() {
        const std::string& p = path_.string();
        const NpyHeader header = parse_npy_header(file_.bytes(), p);
        const std::string& descr = header.descr;
        const std::string shape_text = npy_shape_text(header.shape);
        for (const auto& facts : kDtypes) {
            if (facts.descr == descr) {
                facts_ = &facts;
            }
        }
        EVOSCOPE_CHECK_FORMAT(
            facts_ != nullptr,
            "{}: unsupported .npy dtype '{}' for activation rows (expected '<f4' float32, "
            "'<f2' float16, '<f8' float64 or '<u2' read as bfloat16 bits)",
            p,
            descr);
        EVOSCOPE_CHECK_FORMAT(
            !header.fortran_order,
            "{}: Fortran-order .npy arrays are not supported; save the array in C order "
            "(numpy.ascontiguousarray)",
            p);
        const std::vector<std::int64_t>& shape = header.shape;
        EVOSCOPE_CHECK_FORMAT(shape.size() == 2,
                              "{}: expected a 2-D array [rows, d] of activations, found shape {}",
                              p,
                              shape_text);
        n_rows_ = shape[0];
        d_ = shape[1];
        EVOSCOPE_CHECK(
            n_rows_ > 0 && d_ > 0, "{}: empty activation array (shape {})", p, shape_text);

        const std::size_t data_offset = header.data_offset;
        const std::size_t available = file_.bytes().size() - data_offset;
        const std::size_t row_bytes = static_cast<std::size_t>(d_) * facts_->itemsize;
        EVOSCOPE_CHECK_FORMAT(
            static_cast<std::size_t>(d_) <= available / facts_->itemsize &&
                static_cast<std::size_t>(n_rows_) <= available / row_bytes,
            "{}: truncated .npy data (shape {} of {} needs more than the {} bytes present)",
            p,
            shape_text,
            descr,
            available);
        data_ = file_.bytes().data() + data_offset;
    }

    std::filesystem::path path_;
    MappedFile file_;
    const std::byte* data_ = nullptr;
    const DtypeFacts* facts_ = nullptr;
    std::int64_t n_rows_ = 0;
    std::int64_t d_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Activation store

class StoreRows final : public RowReader {
public:
    explicit StoreRows(const std::filesystem::path& dir) : dir_(dir), store_(dir) {
        EVOSCOPE_CHECK(store_.n_rows() > 0, "empty activation store '{}' (0 rows)", dir_.string());
        EVOSCOPE_CHECK(
            store_.d_model() > 0, "empty activation store '{}' (d_model 0)", dir_.string());
    }

    std::int64_t n_rows() const override { return store_.n_rows(); }

    std::int64_t d() const override { return store_.d_model(); }

    std::string describe() const override {
        const auto& m = store_.manifest();
        return fmt::format("activation store {} [{} x {}, {}, {} shards, site {}]",
                           dir_.string(),
                           m.n_rows,
                           m.d_model,
                           store_dtype_name(m.dtype),
                           m.shards.size(),
                           m.site);
    }

    void read_rows(std::int64_t row, std::int64_t n, std::span<float> out) const override {
        check_range(*this, row, n, out.size());
        store_.read_rows(row, n, out);
        const auto d = static_cast<std::size_t>(store_.d_model());
        for (std::int64_t i = 0; i < n; ++i) {
            const std::size_t bad =
                first_non_finite(out.subspan(static_cast<std::size_t>(i) * d, d));
            if (bad != kNotFound) {
                throw_non_finite(dir_.string(), row_text(row + i), static_cast<std::int64_t>(bad));
            }
        }
    }

private:
    /// "row 12 (0-based; row 5 of shard-00001.npy)".
    std::string row_text(std::int64_t row) const {
        const auto& m = store_.manifest();
        std::int64_t first = 0;
        for (std::size_t s = 0; s < m.shards.size(); ++s) {
            if (row < first + m.shard_rows[s]) {
                return fmt::format("row {} (0-based; row {} of {})", row, row - first, m.shards[s]);
            }
            first += m.shard_rows[s];
        }
        return fmt::format("row {} (0-based)", row);
    }

    std::filesystem::path dir_;
    ActivationStore store_;
};

bool has_npy_magic(const std::filesystem::path& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        return false;
    }
    char magic[6] = {};
    const bool ok = std::fread(magic, 1, sizeof(magic), f) == sizeof(magic) &&
                    std::memcmp(magic, "\x93NUMPY", 6) == 0;
    std::fclose(f);
    return ok;
}

// ---------------------------------------------------------------------------------------------
// Counter-based randomness (the same SplitMix64 as model::WindowSampler)

std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

std::uint64_t mix(std::uint64_t key, std::uint64_t counter) {
    return splitmix64(key ^ splitmix64(counter));
}

constexpr std::uint64_t kChunkOrderTag = 0x43484e4b;  // "CHNK"
constexpr std::uint64_t kRowOrderTag = 0x524f5753;    // "ROWS"

/// Fisher-Yates over `v` with draw i taken from mix(key, i): depends only on key and size.
/// (The modulo bias is below size / 2^64.)
void permute(std::vector<std::int64_t>& v, std::uint64_t key) {
    for (std::size_t i = v.size(); i > 1; --i) {
        const auto j = static_cast<std::size_t>(mix(key, i - 1) % i);
        std::swap(v[i - 1], v[j]);
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
std::unique_ptr<RowReader> open_npy_rows(const std::filesystem::path& path) {
    return std::make_unique<NpyRows>(path);
}

std::unique_ptr<RowReader> open_store_rows(const std::filesystem::path& dir) {
    return std::make_unique<StoreRows>(dir);
}

std::unique_ptr<RowReader> open_rows(const std::filesystem::path& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    EVOSCOPE_CHECK_IO(std::filesystem::exists(status),
                      "'{}' does not exist (expected an activation store folder or a .npy file)",
                      path.string());
    if (std::filesystem::is_directory(status)) {
        EVOSCOPE_CHECK(std::filesystem::exists(path / "manifest.json"),
                       "'{}' is a folder without manifest.json: expected an activation store "
                       "folder (written by "
                       "`evoscope embed`) or a .npy file",
                       path.string());
        return open_store_rows(path);
    }
    EVOSCOPE_CHECK(
        path.extension() == ".npy" || has_npy_magic(path),
        "'{}' is neither an activation store folder (with manifest.json) nor a .npy file",
        path.string());
    return open_npy_rows(path);
}

std::vector<float> read_all_rows(const RowReader& reader,
                                 std::int64_t begin,
                                 std::int64_t end,
                                 std::int64_t max_rows) {
    EVOSCOPE_CHECK(begin >= 0 && begin <= end && end <= reader.n_rows(),
                   "{}: row range {}..{} outside the {} rows",
                   reader.describe(),
                   begin,
                   end,
                   reader.n_rows());
    EVOSCOPE_CHECK(max_rows >= 0, "read_all_rows: negative row cap {}", max_rows);
    const std::int64_t n = std::min(end - begin, max_rows);
    std::vector<float> out(static_cast<std::size_t>(n * reader.d()));
    if (n > 0) {
        reader.read_rows(begin, n, out);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
void to_json(nlohmann::json& j, const ShuffleState& s) {
    j = nlohmann::json{{"epoch", s.epoch},
                       {"block", s.block},
                       {"offset", s.offset},
                       {"rows_served", s.rows_served},
                       {"begin", s.begin},
                       {"end", s.end},
                       {"buffer_rows", s.buffer_rows},
                       {"n_chunks_per_buffer", s.n_chunks_per_buffer},
                       {"seed", s.seed}};
}

void from_json(const nlohmann::json& j, ShuffleState& s) {
    const auto get = [&j](const char* key, auto& value) {
        try {
            j.at(key).get_to(value);
        } catch (const nlohmann::json::exception& e) {
            throw InputError(
                fmt::format("row shuffle state: missing or invalid '{}' ({})", key, e.what()));
        }
    };
    get("epoch", s.epoch);
    get("block", s.block);
    get("offset", s.offset);
    get("rows_served", s.rows_served);
    get("begin", s.begin);
    get("end", s.end);
    get("buffer_rows", s.buffer_rows);
    get("n_chunks_per_buffer", s.n_chunks_per_buffer);
    get("seed", s.seed);
}

// ---------------------------------------------------------------------------------------------
struct ShuffledRows::State {
    std::shared_ptr<const RowReader> reader;
    std::int64_t begin = 0;
    std::int64_t end = 0;
    std::int64_t buffer_rows = 0;
    std::int64_t n_chunks_per_buffer = 1;
    std::uint64_t seed = 0;
    std::int64_t d = 0;
    std::int64_t chunk_rows = 0;
    std::int64_t n_chunks = 0;
    std::int64_t n_blocks = 0;

    // position (what ShuffleState records)
    std::int64_t epoch = 0;
    std::int64_t block = 0;
    std::int64_t offset = 0;
    std::int64_t rows_served = 0;

    // caches, rebuilt on demand from the position
    std::int64_t order_epoch = -1;
    std::vector<std::int64_t> chunk_order;
    bool loaded = false;
    std::vector<float> buffer;
    std::vector<std::int64_t> row_order;

    std::int64_t chunk_length(std::int64_t chunk) const {
        return std::min(chunk_rows, (end - begin) - chunk * chunk_rows);
    }

    const std::vector<std::int64_t>& order_of(std::int64_t e) {
        if (order_epoch != e) {
            chunk_order.resize(static_cast<std::size_t>(n_chunks));
            std::iota(chunk_order.begin(), chunk_order.end(), std::int64_t{0});
            permute(chunk_order, mix(mix(seed, kChunkOrderTag), static_cast<std::uint64_t>(e)));
            order_epoch = e;
        }
        return chunk_order;
    }

    /// Positions [first, last) in an epoch's chunk order that make up buffer b.
    std::pair<std::size_t, std::size_t> chunks_of(std::int64_t b) const {
        const auto first = static_cast<std::size_t>(b * n_chunks_per_buffer);
        const auto last =
            static_cast<std::size_t>(std::min((b + 1) * n_chunks_per_buffer, n_chunks));
        return {first, last};
    }

    std::int64_t block_length(std::int64_t e, std::int64_t b) {
        const auto& order = order_of(e);
        const auto [first, last] = chunks_of(b);
        std::int64_t total = 0;
        for (std::size_t c = first; c < last; ++c) {
            total += chunk_length(order[c]);
        }
        return total;
    }

    void load() {
        const std::int64_t total = block_length(epoch, block);
        const auto& order = order_of(epoch);
        const auto [first, last] = chunks_of(block);
        buffer.resize(static_cast<std::size_t>(total * d));
        std::int64_t filled = 0;
        for (std::size_t c = first; c < last; ++c) {
            const std::int64_t length = chunk_length(order[c]);
            reader->read_rows(begin + order[c] * chunk_rows,
                              length,
                              std::span(buffer).subspan(static_cast<std::size_t>(filled * d),
                                                        static_cast<std::size_t>(length * d)));
            filled += length;
        }
        row_order.resize(static_cast<std::size_t>(total));
        std::iota(row_order.begin(), row_order.end(), std::int64_t{0});
        permute(row_order,
                mix(mix(mix(seed, kRowOrderTag), static_cast<std::uint64_t>(epoch)),
                    static_cast<std::uint64_t>(block)));
        loaded = true;
    }
};

ShuffledRows::ShuffledRows(std::shared_ptr<const RowReader> reader,
                           std::int64_t begin,
                           std::int64_t end,
                           std::int64_t buffer_rows,
                           std::uint64_t seed,
                           std::int64_t n_chunks_per_buffer)
    : state_(std::make_unique<State>()) {
    EVOSCOPE_CHECK(reader != nullptr, "shuffled rows need a row reader");
    EVOSCOPE_CHECK(begin >= 0 && begin < end && end <= reader->n_rows(),
                   "{}: row range {}..{} is empty or outside the {} rows",
                   reader->describe(),
                   begin,
                   end,
                   reader->n_rows());
    EVOSCOPE_CHECK(
        buffer_rows > 0, "shuffle buffer must hold at least one row (got {})", buffer_rows);
    EVOSCOPE_CHECK(n_chunks_per_buffer > 0 && n_chunks_per_buffer <= buffer_rows,
                   "chunks per shuffle buffer must be in 1..{} (the buffer rows), got {}",
                   buffer_rows,
                   n_chunks_per_buffer);
    State& s = *state_;
    s.d = reader->d();
    s.reader = std::move(reader);
    s.begin = begin;
    s.end = end;
    s.buffer_rows = buffer_rows;
    s.n_chunks_per_buffer = n_chunks_per_buffer;
    s.seed = seed;
    const std::int64_t span_rows = std::min(buffer_rows, end - begin);
    s.chunk_rows =
        std::max<std::int64_t>(1, (span_rows + n_chunks_per_buffer - 1) / n_chunks_per_buffer);
    s.n_chunks = (end - begin + s.chunk_rows - 1) / s.chunk_rows;
    s.n_blocks = (s.n_chunks + n_chunks_per_buffer - 1) / n_chunks_per_buffer;
}

ShuffledRows::~ShuffledRows() = default;
ShuffledRows::ShuffledRows(ShuffledRows&&) noexcept = default;
ShuffledRows& ShuffledRows::operator=(ShuffledRows&&) noexcept = default;

void ShuffledRows::next(std::int64_t n, std::span<float> out) {
    State& s = *state_;
    EVOSCOPE_CHECK(n >= 0 && out.size() == static_cast<std::size_t>(n * s.d),
                   "shuffled rows: buffer holds {} values, {} rows of d {} need {}",
                   out.size(),
                   n,
                   s.d,
                   n * s.d);
    const ShuffleState saved_position = state();
    const auto d = static_cast<std::size_t>(s.d);
    try {
        std::int64_t done = 0;
        while (done < n) {
            if (!s.loaded) {
                s.load();
            }
            const auto length = static_cast<std::int64_t>(s.row_order.size());
            const std::int64_t take = std::min(n - done, length - s.offset);
            for (std::int64_t i = 0; i < take; ++i) {
                const auto src =
                    static_cast<std::size_t>(s.row_order[static_cast<std::size_t>(s.offset + i)]);
                std::memcpy(out.data() + static_cast<std::size_t>(done + i) * d,
                            s.buffer.data() + src * d,
                            d * sizeof(float));
            }
            done += take;
            s.offset += take;
            s.rows_served += take;
            if (s.offset == length) {
                s.offset = 0;
                s.loaded = false;
                if (++s.block == s.n_blocks) {
                    s.block = 0;
                    ++s.epoch;
                }
            }
        }
    } catch (...) {
        // A failed read leaves the stream where it was, so a caller may report and stop cleanly.
        s.epoch = saved_position.epoch;
        s.block = saved_position.block;
        s.offset = saved_position.offset;
        s.rows_served = saved_position.rows_served;
        s.loaded = false;
        throw;
    }
}

ShuffleState ShuffledRows::state() const {
    const State& s = *state_;
    return ShuffleState{.epoch = s.epoch,
                        .block = s.block,
                        .offset = s.offset,
                        .rows_served = s.rows_served,
                        .begin = s.begin,
                        .end = s.end,
                        .buffer_rows = s.buffer_rows,
                        .n_chunks_per_buffer = s.n_chunks_per_buffer,
                        .seed = s.seed};
}

void ShuffledRows::restore(const ShuffleState& t) {
    State& s = *state_;
    EVOSCOPE_CHECK(
        t.begin == s.begin && t.end == s.end && t.buffer_rows == s.buffer_rows &&
            t.n_chunks_per_buffer == s.n_chunks_per_buffer && t.seed == s.seed,
        "cannot resume the row shuffle: the saved state was made with rows {}..{}, buffer {} rows "
        "in {} "
        "chunks, seed {}; this run uses rows {}..{}, buffer {} rows in {} chunks, seed {}",
        t.begin,
        t.end,
        t.buffer_rows,
        t.n_chunks_per_buffer,
        t.seed,
        s.begin,
        s.end,
        s.buffer_rows,
        s.n_chunks_per_buffer,
        s.seed);
    EVOSCOPE_CHECK(
        t.epoch >= 0 && t.block >= 0 && t.block < s.n_blocks && t.offset >= 0 &&
            t.offset < s.block_length(t.epoch, t.block),
        "cannot resume the row shuffle: position epoch {}, block {}, offset {} does not exist",
        t.epoch,
        t.block,
        t.offset);
    std::int64_t expected = t.epoch * (s.end - s.begin) + t.offset;
    for (std::int64_t b = 0; b < t.block; ++b) {
        expected += s.block_length(t.epoch, b);
    }
    EVOSCOPE_CHECK(expected == t.rows_served,
                   "cannot resume the row shuffle: {} rows served does not match epoch {}, block "
                   "{}, offset {} "
                   "({} expected)",
                   t.rows_served,
                   t.epoch,
                   t.block,
                   t.offset,
                   expected);
    s.epoch = t.epoch;
    s.block = t.block;
    s.offset = t.offset;
    s.rows_served = t.rows_served;
    s.loaded = false;
}

std::int64_t ShuffledRows::epoch() const {
    return state_->epoch;
}

std::int64_t ShuffledRows::rows_served() const {
    return state_->rows_served;
}

std::int64_t ShuffledRows::d() const {
    return state_->d;
}

std::int64_t ShuffledRows::rows_per_epoch() const {
    return state_->end - state_->begin;
}

std::int64_t ShuffledRows::n_blocks() const {
    return state_->n_blocks;
}

}  // namespace evoscope::sae
