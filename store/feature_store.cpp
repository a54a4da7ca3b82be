#include "store/feature_store.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/check.hpp"
#include "core/output_file.hpp"
#include "core/strings.hpp"
#include "formats/npy.hpp"
#include "formats/zip.hpp"

namespace evoscope::sae {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the chunk layout is little-endian; add byte swaps");
static_assert(sizeof(float) == 4);

constexpr const char* kFormat = "evoscope-features";
constexpr int kVersion = 1;
constexpr const char* kChunksFile = "chunks.bin";
constexpr const char* kNnzFile = "feature_nnz.npy";
constexpr const char* kMaxFile = "feature_max.npy";
// Level 1: on a synthetic chunk (4096 positions x 32 sorted random ids < 32768, gamma-distributed
// float32 values) levels 1, 3 and 6 give 75.4%, 75.7% and 75.1% of the raw size, and level 6
// compresses about 4 times slower than level 1 (about 30 MB/s on a loaded 2-core machine).
constexpr int kCompressionLevel = 1;
// Decoded chunks kept by the reader for region reads that fall into the same chunks again
// (genes along a contig, one track after another): at most this many, and this many bytes.
constexpr std::size_t kCacheChunks = 8;
constexpr std::size_t kCacheBytes = std::size_t{64} << 20;

/// memcpy of `n` 4-byte words; empty buffers may have null data(), which memcpy must not get.
void copy_words(void* dst, const void* src, std::size_t n) {
    if (n > 0)
        std::memcpy(dst, src, n * 4);
}

int strand_index(char strand) {
    return strand == '+' ? 0 : 1;
}

// Scan order, the order of the chunk index: contig table order, '+' before '-', ascending begin.
void sort_in_scan_order(std::vector<FeatureChunk>& chunks,
                        const std::unordered_map<std::string, std::size_t>& contig_index) {
    std::stable_sort(
        chunks.begin(), chunks.end(), [&](const FeatureChunk& a, const FeatureChunk& b) {
            const auto ca = contig_index.at(a.contig);
            const auto cb = contig_index.at(b.contig);
            if (ca != cb)
                return ca < cb;
            if (a.strand != b.strand)
                return strand_index(a.strand) < strand_index(b.strand);
            return a.begin < b.begin;
        });
}

std::string chunk_name(const FeatureChunk& c) {
    return fmt::format("{}:{}-{} ({}, 0-based half-open)", c.contig, c.begin, c.end, c.strand);
}

std::string unknown_contig_message(const std::string& what,
                                   const std::string& contig,
                                   const std::vector<FeatureContig>& contigs) {
    std::vector<std::string> names;
    names.reserve(contigs.size());
    for (const auto& c : contigs)
        names.push_back(c.name);
    const auto close = closest_names(contig, names);
    return fmt::format("{}: unknown contig '{}'{}",
                       what,
                       contig,
                       close.empty() ? std::string(" (the store has no contigs)")
                                     : fmt::format(" (closest: {})", fmt::join(close, ", ")));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
struct FeatureStoreWriter::State {
    /// The pending chunk of one contig/strand: positions [chunk_begin, chunk_begin +
    /// counts.size()).
    struct Run {
        std::size_t contig = 0;
        char strand = '+';
        std::int64_t chunk_begin = 0;
        std::int64_t next = -1;  ///< end of the last append, -1 before the first
        std::vector<std::uint32_t> counts;
        std::vector<std::uint32_t> ids;
        std::vector<float> values;
    };

    std::filesystem::path dir;
    std::filesystem::path temp_dir;
    FeatureStoreHeader header;
    bool fixed_contigs = false;
    bool overwrite = false;
    std::unordered_map<std::string, std::size_t> contig_index;
    std::map<std::pair<std::size_t, char>, Run> runs;
    std::vector<FeatureChunk> chunks;
    std::FILE* file = nullptr;
    std::uint64_t offset = 0;
    std::int64_t n_positions = 0;
    std::uint64_t n_nonzero = 0;
    std::vector<std::int64_t> stat_nnz;
    std::vector<float> stat_max;
    // Scratch buffers reused across calls.
    std::vector<std::uint32_t> sorted_ids;
    std::vector<float> sorted_values;
    std::vector<std::uint32_t> order;
    std::vector<std::uint32_t> raw;
    std::vector<Bytef> packed;
    bool committed = false;

    void flush(Run& run) {
        if (run.counts.empty())
            return;
        const std::size_t n = run.counts.size();
        const std::size_t nnz = run.ids.size();
        raw.resize(n + 2 * nnz);
        copy_words(raw.data(), run.counts.data(), n);
        copy_words(raw.data() + n, run.ids.data(), nnz);
        copy_words(raw.data() + n + nnz, run.values.data(), nnz);
        const uLong raw_bytes = static_cast<uLong>(raw.size() * 4);
        uLongf packed_bytes = compressBound(raw_bytes);
        packed.resize(packed_bytes);
        const int rc = compress2(packed.data(),
                                 &packed_bytes,
                                 reinterpret_cast<const Bytef*>(raw.data()),
                                 raw_bytes,
                                 kCompressionLevel);
        if (rc == Z_MEM_ERROR)
            throw std::bad_alloc();
        EVOSCOPE_ASSERT_MSG(rc == Z_OK, "zlib compress2 returned {}", rc);

        FeatureChunk chunk;
        chunk.contig = header.contigs[run.contig].name;
        chunk.strand = run.strand;
        chunk.begin = run.chunk_begin;
        chunk.end = run.chunk_begin + static_cast<std::int64_t>(n);
        chunk.offset = offset;
        chunk.size_bytes = packed_bytes;
        chunk.n_nonzero = nnz;
        chunk.crc32 = evoscope::crc32(std::as_bytes(std::span(packed.data(), packed_bytes)));
        if (std::fwrite(packed.data(), 1, packed_bytes, file) != packed_bytes) {
            throw IoError(fmt::format(
                "cannot write '{}': {}", (temp_dir / kChunksFile).string(), std::strerror(errno)));
        }
        offset += packed_bytes;
        chunks.push_back(std::move(chunk));
        run.chunk_begin += static_cast<std::int64_t>(n);
        run.counts.clear();
        run.ids.clear();
        run.values.clear();
    }
};

FeatureStoreWriter::FeatureStoreWriter(std::filesystem::path dir,
                                       FeatureStoreHeader header,
                                       std::int64_t chunk_positions,
                                       bool overwrite)
    : state_(std::make_unique<State>()) {
    State& s = *state_;
    EVOSCOPE_CHECK(header.d_sae > 0 && header.d_sae <= std::numeric_limits<std::uint32_t>::max(),
                   "feature store '{}': d_sae must be in 1..2^32-1, got {}",
                   dir.string(),
                   header.d_sae);
    EVOSCOPE_CHECK(chunk_positions > 0,
                   "feature store '{}': chunk_positions must be positive, got {}",
                   dir.string(),
                   chunk_positions);
    EVOSCOPE_CHECK(overwrite || !std::filesystem::exists(dir),
                   "output '{}' exists (use --force to overwrite)",
                   dir.string());
    try {
        const auto provenance =
            nlohmann::json::parse(header.provenance_json.empty() ? "{}" : header.provenance_json);
        EVOSCOPE_CHECK(provenance.is_object(),
                       "feature store '{}': provenance must be a JSON object",
                       dir.string());
    } catch (const nlohmann::json::exception& e) {
        throw InputError(fmt::format(
            "feature store '{}': provenance is not valid JSON: {}", dir.string(), e.what()));
    }
    for (std::size_t i = 0; i < header.contigs.size(); ++i) {
        const auto& c = header.contigs[i];
        EVOSCOPE_CHECK(!c.name.empty() && c.length >= 0,
                       "feature store '{}': contig table entry {} is invalid",
                       dir.string(),
                       i);
        EVOSCOPE_CHECK(s.contig_index.emplace(c.name, i).second,
                       "feature store '{}': contig '{}' appears twice in the contig table",
                       dir.string(),
                       c.name);
    }
    s.dir = std::move(dir);
    s.overwrite = overwrite;
    s.fixed_contigs = !header.contigs.empty();
    s.header = std::move(header);
    s.header.chunk_positions = chunk_positions;
    s.stat_nnz.assign(static_cast<std::size_t>(s.header.d_sae), 0);
    s.stat_max.assign(static_cast<std::size_t>(s.header.d_sae),
                      -std::numeric_limits<float>::infinity());
    s.temp_dir = temp_path_for(s.dir);
    std::error_code ec;
    std::filesystem::create_directories(s.temp_dir, ec);
    EVOSCOPE_CHECK_IO(!ec, "cannot create '{}': {}", s.temp_dir.string(), ec.message());
    const auto chunks_path = s.temp_dir / kChunksFile;
    s.file = std::fopen(chunks_path.c_str(), "wb");
    if (s.file == nullptr) {
        const std::string reason = std::strerror(errno);
        std::filesystem::remove_all(s.temp_dir, ec);
        throw IoError(fmt::format("cannot write '{}': {}", chunks_path.string(), reason));
    }
}

FeatureStoreWriter::~FeatureStoreWriter() {
    if (state_->file != nullptr) {
        std::fclose(state_->file);
    }
    if (!state_->committed) {
        std::error_code ec;
        std::filesystem::remove_all(state_->temp_dir, ec);
    }
}

std::int64_t FeatureStoreWriter::positions_written() const {
    return state_->n_positions;
}

void FeatureStoreWriter::append(const std::string& contig,
                                std::int64_t begin,
                                std::int64_t end,
                                char strand,
                                std::span<const std::int64_t> row_ptr,
                                std::span<const std::uint32_t> ids,
                                std::span<const float> values) {
    State& s = *state_;
    const std::string where = fmt::format("feature store '{}'", s.dir.string());
    EVOSCOPE_CHECK(s.file != nullptr, "{}: append after commit (or after a failed commit)", where);
    EVOSCOPE_CHECK(
        strand == '+' || strand == '-', "{}: strand must be '+' or '-', got '{}'", where, strand);
    EVOSCOPE_CHECK(
        begin >= 0 && end >= begin, "{}: invalid block {}:{}-{}", where, contig, begin, end);
    const auto n = static_cast<std::size_t>(end - begin);
    EVOSCOPE_CHECK(row_ptr.size() == n + 1,
                   "{}: block {}:{}-{} needs {} row_ptr entries, got {}",
                   where,
                   contig,
                   begin,
                   end,
                   n + 1,
                   row_ptr.size());
    EVOSCOPE_CHECK(row_ptr[0] == 0,
                   "{}: block {}:{}-{}: row_ptr[0] must be 0, got {}",
                   where,
                   contig,
                   begin,
                   end,
                   row_ptr[0]);
    EVOSCOPE_CHECK(
        ids.size() == values.size() && row_ptr[n] == static_cast<std::int64_t>(ids.size()),
        "{}: block {}:{}-{}: row_ptr ends at {} but there are {} ids and {} values",
        where,
        contig,
        begin,
        end,
        row_ptr[n],
        ids.size(),
        values.size());
    std::optional<std::size_t> index;
    if (const auto it = s.contig_index.find(contig); it != s.contig_index.end()) {
        index = it->second;
    }
    if (s.fixed_contigs) {
        EVOSCOPE_CHECK(
            index.has_value(), "{}", unknown_contig_message(where, contig, s.header.contigs));
        EVOSCOPE_CHECK(end <= s.header.contigs[*index].length,
                       "{}: block {}:{}-{} runs past the contig end ({} bp)",
                       where,
                       contig,
                       begin,
                       end,
                       s.header.contigs[*index].length);
    } else {
        EVOSCOPE_CHECK(!contig.empty(), "{}: empty contig name", where);
    }
    if (index.has_value()) {
        const auto run = s.runs.find({*index, strand});
        if (run != s.runs.end()) {
            EVOSCOPE_CHECK(begin >= run->second.next,
                           "{}: block {}:{}-{} ({}) starts before the end of the previous block "
                           "on that contig and strand ({}); positions must ascend without overlap",
                           where,
                           contig,
                           begin,
                           end,
                           strand,
                           run->second.next);
        }
    }

    // Validate everything before changing any state. row_ptr first: with row_ptr[0] == 0,
    // non-decreasing and row_ptr[n] == ids.size(), every row lies inside ids and values.
    for (std::size_t i = 0; i < n; ++i) {
        EVOSCOPE_CHECK(row_ptr[i + 1] >= row_ptr[i],
                       "{}: row_ptr decreases at {}:{} ({})",
                       where,
                       contig,
                       begin + static_cast<std::int64_t>(i),
                       strand);
    }
    const auto d_sae = static_cast<std::uint64_t>(s.header.d_sae);
    bool sorted = true;
    for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t lo = row_ptr[i];
        const std::int64_t hi = row_ptr[i + 1];
        for (auto k = static_cast<std::size_t>(lo); k < static_cast<std::size_t>(hi); ++k) {
            EVOSCOPE_CHECK(ids[k] < d_sae,
                           "{}: feature id {} at {}:{} ({}) is not below d_sae = {}",
                           where,
                           ids[k],
                           contig,
                           begin + static_cast<std::int64_t>(i),
                           strand,
                           d_sae);
            EVOSCOPE_CHECK(std::isfinite(values[k]),
                           "{}: non-finite value {} for feature {} at {}:{} ({})",
                           where,
                           values[k],
                           ids[k],
                           contig,
                           begin + static_cast<std::int64_t>(i),
                           strand);
            if (k > static_cast<std::size_t>(lo) && ids[k] <= ids[k - 1])
                sorted = false;
        }
    }
    std::span<const std::uint32_t> src_ids = ids;
    std::span<const float> src_values = values;
    if (!sorted) {
        s.sorted_ids.resize(ids.size());
        s.sorted_values.resize(values.size());
        for (std::size_t i = 0; i < n; ++i) {
            const auto lo = static_cast<std::size_t>(row_ptr[i]);
            const auto hi = static_cast<std::size_t>(row_ptr[i + 1]);
            s.order.resize(hi - lo);
            for (std::size_t k = lo; k < hi; ++k)
                s.order[k - lo] = static_cast<std::uint32_t>(k);
            std::sort(s.order.begin(), s.order.end(), [&](std::uint32_t a, std::uint32_t b) {
                return ids[a] < ids[b];
            });
            for (std::size_t k = lo; k < hi; ++k) {
                s.sorted_ids[k] = ids[s.order[k - lo]];
                s.sorted_values[k] = values[s.order[k - lo]];
                EVOSCOPE_CHECK(k == lo || s.sorted_ids[k] != s.sorted_ids[k - 1],
                               "{}: feature id {} appears twice at {}:{} ({})",
                               where,
                               s.sorted_ids[k],
                               contig,
                               begin + static_cast<std::int64_t>(i),
                               strand);
            }
        }
        src_ids = s.sorted_ids;
        src_values = s.sorted_values;
    }
    if (n == 0)
        return;

    // Valid: now change state.
    if (!index.has_value()) {
        index = s.header.contigs.size();
        s.header.contigs.push_back({contig, 0});
        s.contig_index.emplace(contig, *index);
    }
    if (!s.fixed_contigs) {
        auto& length = s.header.contigs[*index].length;
        length = std::max(length, end);
    }
    State::Run& run = s.runs[{*index, strand}];
    run.contig = *index;
    run.strand = strand;
    if (!run.counts.empty() && begin != run.next) {
        s.flush(run);  // a gap ends the chunk
    }
    if (run.counts.empty()) {
        run.chunk_begin = begin;
    }
    const std::int64_t chunk_positions = s.header.chunk_positions;
    std::int64_t pos = begin;
    while (pos < end) {
        const std::int64_t boundary = (pos / chunk_positions + 1) * chunk_positions;
        const std::int64_t stop = std::min(end, boundary);
        const auto i0 = static_cast<std::size_t>(pos - begin);
        const auto i1 = static_cast<std::size_t>(stop - begin);
        for (std::size_t i = i0; i < i1; ++i) {
            run.counts.push_back(static_cast<std::uint32_t>(row_ptr[i + 1] - row_ptr[i]));
        }
        const auto k0 = static_cast<std::size_t>(row_ptr[i0]);
        const auto k1 = static_cast<std::size_t>(row_ptr[i1]);
        run.ids.insert(run.ids.end(),
                       src_ids.begin() + static_cast<std::ptrdiff_t>(k0),
                       src_ids.begin() + static_cast<std::ptrdiff_t>(k1));
        run.values.insert(run.values.end(),
                          src_values.begin() + static_cast<std::ptrdiff_t>(k0),
                          src_values.begin() + static_cast<std::ptrdiff_t>(k1));
        pos = stop;
        run.next = pos;
        if (pos == boundary) {
            s.flush(run);
        }
    }
    for (std::size_t k = 0; k < src_ids.size(); ++k) {
        if (src_values[k] != 0.0f) {
            ++s.stat_nnz[src_ids[k]];
            s.stat_max[src_ids[k]] = std::max(s.stat_max[src_ids[k]], src_values[k]);
        }
    }
    s.n_positions += end - begin;
    s.n_nonzero += ids.size();
}

void FeatureStoreWriter::commit() {
    State& s = *state_;
    EVOSCOPE_CHECK(s.file != nullptr,
                   "feature store '{}': commit called twice (or after a failed commit)",
                   s.dir.string());
    for (auto& [key, run] : s.runs) {
        s.flush(run);
    }
    const auto chunks_path = s.temp_dir / kChunksFile;
    const bool write_failed = std::fflush(s.file) != 0 || std::ferror(s.file) != 0;
    const bool close_failed = std::fclose(s.file) != 0;
    s.file = nullptr;
    EVOSCOPE_CHECK_IO(!write_failed && !close_failed,
                      "writing '{}' failed: {}",
                      chunks_path.string(),
                      std::strerror(errno));

    sort_in_scan_order(s.chunks, s.contig_index);

    for (std::size_t f = 0; f < s.stat_max.size(); ++f) {
        if (s.stat_nnz[f] == 0)
            s.stat_max[f] = 0.0f;
    }
    const std::vector<std::int64_t> stats_shape{s.header.d_sae};
    NpyWriter nnz_writer(s.temp_dir / kNnzFile, NpyDtype::Int64, stats_shape);
    nnz_writer.write_values(std::span<const std::int64_t>(s.stat_nnz));
    nnz_writer.commit();
    NpyWriter max_writer(s.temp_dir / kMaxFile, NpyDtype::Float32, stats_shape);
    max_writer.write_values(std::span<const float>(s.stat_max));
    max_writer.commit();

    const auto& h = s.header;
    nlohmann::json j;
    j["format"] = kFormat;
    j["version"] = kVersion;
    j["d_sae"] = h.d_sae;
    j["sae"] = {{"path", h.sae_path}, {"hash", h.sae_hash}};
    j["model"] = {{"path", h.model_path}, {"hash", h.model_hash}};
    j["site"] = h.site;
    j["window_bp"] = h.window_bp;
    j["stride_bp"] = h.stride_bp;
    j["stitching"] = h.stitching;
    j["drop_first"] = h.drop_first;
    j["provenance"] = nlohmann::json::parse(h.provenance_json.empty() ? "{}" : h.provenance_json);
    j["chunk_positions"] = h.chunk_positions;
    j["compression"] = "zlib";
    j["chunk_layout"] =
        "uint32 counts[n], uint32 ids[n_nonzero], float32 values[n_nonzero]; little-endian";
    j["contigs"] = nlohmann::json::array();
    for (const auto& c : h.contigs) {
        j["contigs"].push_back({{"name", c.name}, {"length", c.length}});
    }
    j["n_positions"] = s.n_positions;
    j["n_nonzero"] = s.n_nonzero;
    j["chunks_file"] = kChunksFile;
    j["stats"] = {{"n_nonzero", kNnzFile}, {"max_value", kMaxFile}};
    j["chunks_columns"] = {
        "contig", "strand", "begin", "end", "offset", "size", "n_nonzero", "crc32"};
    auto rows = nlohmann::json::array();
    for (const auto& c : s.chunks) {
        rows.push_back({c.contig,
                        std::string(1, c.strand),
                        c.begin,
                        c.end,
                        c.offset,
                        c.size_bytes,
                        c.n_nonzero,
                        c.crc32});
    }
    j["chunks"] = std::move(rows);
    write_file_atomic(s.temp_dir / "manifest.json", j.dump(1) + "\n");

    if (std::filesystem::exists(s.dir)) {
        EVOSCOPE_CHECK(
            s.overwrite, "output '{}' exists (use --force to overwrite)", s.dir.string());
        std::error_code ec;
        std::filesystem::remove_all(s.dir, ec);
        EVOSCOPE_CHECK_IO(!ec, "cannot replace '{}': {}", s.dir.string(), ec.message());
    }
    commit_temp_file(s.temp_dir, s.dir);
    s.committed = true;
}

// ---------------------------------------------------------------------------------------------
struct FeatureStore::State {
    std::filesystem::path dir;
    std::filesystem::path chunks_path;
    FeatureStoreHeader header;
    std::vector<FeatureChunk> chunks;
    std::unordered_map<std::string, std::size_t> contig_index;
    /// Per contig and strand (index contig * 2 + strand_index): [first, last) into chunks.
    std::vector<std::pair<std::size_t, std::size_t>> run_range;
    std::int64_t n_positions = 0;
    std::int64_t n_nonzero = 0;
    FeatureStats stats;
    int fd = -1;
    using Words = std::shared_ptr<const std::vector<std::uint32_t>>;
    mutable std::mutex cache_mutex;
    mutable std::list<std::pair<std::size_t, Words>> cache;  ///< most recently used first

    ~State() {
        if (fd >= 0)
            ::close(fd);
    }

    /// The inflated chunk as 32-bit words: counts, then ids, then value bit patterns.
    std::vector<std::uint32_t> inflate_chunk(const FeatureChunk& c) const {
        std::vector<Bytef> packed(c.size_bytes);
        std::size_t done = 0;
        while (done < packed.size()) {
            const ssize_t got = ::pread(fd,
                                        packed.data() + done,
                                        packed.size() - done,
                                        static_cast<off_t>(c.offset + done));
            if (got < 0 && errno == EINTR)
                continue;
            EVOSCOPE_CHECK_IO(
                got >= 0, "reading '{}' failed: {}", chunks_path.string(), std::strerror(errno));
            EVOSCOPE_CHECK_FORMAT(
                got > 0, "{}: truncated at chunk {}", chunks_path.string(), chunk_name(c));
            done += static_cast<std::size_t>(got);
        }
        const std::uint32_t crc = evoscope::crc32(std::as_bytes(std::span(packed)));
        EVOSCOPE_CHECK_FORMAT(
            crc == c.crc32,
            "feature store '{}': chunk {} fails its CRC32 check (stored {:08x}, computed {:08x}): "
            "chunks.bin is corrupt",
            dir.string(),
            chunk_name(c),
            c.crc32,
            crc);
        const auto n = static_cast<std::size_t>(c.end - c.begin);
        std::vector<std::uint32_t> words(n + 2 * c.n_nonzero);
        uLongf out_bytes = static_cast<uLongf>(words.size() * 4);
        const int rc = uncompress(reinterpret_cast<Bytef*>(words.data()),
                                  &out_bytes,
                                  packed.data(),
                                  static_cast<uLong>(packed.size()));
        EVOSCOPE_CHECK_FORMAT(
            rc == Z_OK && out_bytes == words.size() * 4,
            "feature store '{}': chunk {} does not inflate to its declared size ({} positions, {} "
            "nonzeros; zlib status {})",
            dir.string(),
            chunk_name(c),
            n,
            c.n_nonzero,
            rc);
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < n; ++i)
            total += words[i];
        EVOSCOPE_CHECK_FORMAT(total == c.n_nonzero,
                              "feature store '{}': chunk {} counts add up to {}, index says {}",
                              dir.string(),
                              chunk_name(c),
                              total,
                              c.n_nonzero);
        const auto d_sae = static_cast<std::uint64_t>(header.d_sae);
        for (std::size_t k = n; k < n + c.n_nonzero; ++k) {
            EVOSCOPE_CHECK_FORMAT(words[k] < d_sae,
                                  "feature store '{}': chunk {} holds feature id {} >= d_sae {}",
                                  dir.string(),
                                  chunk_name(c),
                                  words[k],
                                  d_sae);
        }
        return words;
    }

    /// inflate_chunk through a small most-recently-used cache (safe across threads).
    Words cached_chunk(std::size_t index) const {
        {
            const std::lock_guard lock(cache_mutex);
            for (auto it = cache.begin(); it != cache.end(); ++it) {
                if (it->first == index) {
                    cache.splice(cache.begin(), cache, it);
                    return it->second;
                }
            }
        }
        auto words =
            std::make_shared<const std::vector<std::uint32_t>>(inflate_chunk(chunks[index]));
        const std::lock_guard lock(cache_mutex);
        if (std::none_of(
                cache.begin(), cache.end(), [&](const auto& e) { return e.first == index; })) {
            cache.emplace_front(index, words);
        }
        std::size_t bytes = 0;
        std::size_t kept = 0;
        for (auto it = cache.begin(); it != cache.end(); ++it, ++kept) {
            bytes += it->second->size() * 4;
            if (kept > 0 && (kept >= kCacheChunks || bytes > kCacheBytes)) {
                cache.erase(it, cache.end());
                break;
            }
        }
        return words;
    }

    std::size_t find_contig(const std::string& contig) const {
        const auto it = contig_index.find(contig);
        if (it == contig_index.end()) {
            throw InputError(unknown_contig_message(
                fmt::format("feature store '{}'", dir.string()), contig, header.contigs));
        }
        return it->second;
    }

    /// Checks a region request; returns the contig's index.
    std::size_t check_region(const std::string& contig,
                             std::int64_t begin,
                             std::int64_t end,
                             char strand) const {
        EVOSCOPE_CHECK(strand == '+' || strand == '-',
                       "feature store '{}': strand must be '+' or '-', got '{}'",
                       dir.string(),
                       strand);
        const std::size_t ci = find_contig(contig);
        EVOSCOPE_CHECK(begin >= 0 && end >= begin && end <= header.contigs[ci].length,
                       "feature store '{}': region {}:{}-{} is not inside the contig (0-{})",
                       dir.string(),
                       contig,
                       begin,
                       end,
                       header.contigs[ci].length);
        return ci;
    }

    /// Calls visit(chunk, words, lo, hi) for every chunk of contig `ci` and `strand` overlapping
    /// [begin, end) (a region that passed check_region), ascending, where [lo, hi) is the overlap.
    template <typename Visit>
    void for_each_overlapping(
        std::size_t ci, std::int64_t begin, std::int64_t end, char strand, Visit&& visit) const {
        const auto [first, last] =
            run_range[ci * 2 + static_cast<std::size_t>(strand_index(strand))];
        // Chunks of one contig/strand do not overlap, so their ends ascend as their begins do.
        auto it = std::partition_point(chunks.begin() + static_cast<std::ptrdiff_t>(first),
                                       chunks.begin() + static_cast<std::ptrdiff_t>(last),
                                       [&](const FeatureChunk& c) { return c.end <= begin; });
        for (; it != chunks.begin() + static_cast<std::ptrdiff_t>(last) && it->begin < end; ++it) {
            const Words words = cached_chunk(static_cast<std::size_t>(it - chunks.begin()));
            visit(*it, *words, std::max(begin, it->begin), std::min(end, it->end));
        }
    }
};

FeatureStore::FeatureStore(const std::filesystem::path& dir) : state_(std::make_unique<State>()) {
    State& s = *state_;
    s.dir = dir;
    EVOSCOPE_CHECK_IO(
        std::filesystem::is_directory(dir), "feature store '{}' does not exist", dir.string());
    const auto manifest_path = dir / "manifest.json";
    std::ifstream in(manifest_path);
    EVOSCOPE_CHECK_IO(in.good(),
                      "feature store '{}' has no manifest.json ('{}')",
                      dir.string(),
                      manifest_path.string());
    const std::string mp = manifest_path.string();
    std::string chunks_file;
    std::int64_t declared_positions = 0;
    std::int64_t declared_nonzero = 0;
    try {
        nlohmann::json j;
        in >> j;
        EVOSCOPE_CHECK_FORMAT(j.is_object() && j.value("format", "") == kFormat,
                              "{}: not an evoscope feature store manifest (format is not \"{}\")",
                              mp,
                              kFormat);
        EVOSCOPE_CHECK_FORMAT(j.at("version").get<int>() == kVersion,
                              "{}: unsupported feature store version {}",
                              mp,
                              j.at("version").dump());
        auto& h = s.header;
        h.d_sae = j.at("d_sae").get<std::int64_t>();
        EVOSCOPE_CHECK_FORMAT(h.d_sae > 0, "{}: d_sae must be positive", mp);
        h.sae_path = j.at("sae").value("path", "");
        h.sae_hash = j.at("sae").value("hash", "");
        h.model_path = j.at("model").value("path", "");
        h.model_hash = j.at("model").value("hash", "");
        h.site = j.value("site", "");
        h.window_bp = j.value("window_bp", std::int64_t{0});
        h.stride_bp = j.value("stride_bp", std::int64_t{0});
        h.stitching = j.value("stitching", "");
        h.drop_first = j.value("drop_first", std::int64_t{0});
        h.provenance_json = j.value("provenance", nlohmann::json::object()).dump();
        h.chunk_positions = j.at("chunk_positions").get<std::int64_t>();
        EVOSCOPE_CHECK_FORMAT(j.value("compression", "") == "zlib",
                              "{}: unsupported compression '{}'",
                              mp,
                              j.value("compression", ""));
        for (const auto& c : j.at("contigs")) {
            FeatureContig contig{c.at("name").get<std::string>(),
                                 c.at("length").get<std::int64_t>()};
            EVOSCOPE_CHECK_FORMAT(s.contig_index.emplace(contig.name, h.contigs.size()).second,
                                  "{}: contig '{}' listed twice",
                                  mp,
                                  contig.name);
            h.contigs.push_back(std::move(contig));
        }
        chunks_file = j.value("chunks_file", kChunksFile);
        EVOSCOPE_CHECK_FORMAT(
            !chunks_file.empty() && std::filesystem::path(chunks_file).filename() == chunks_file,
            "{}: chunks_file must be a file name inside the store, got '{}'",
            mp,
            chunks_file);
        declared_positions = j.at("n_positions").get<std::int64_t>();
        declared_nonzero = j.at("n_nonzero").get<std::int64_t>();
        for (const auto& row : j.at("chunks")) {
            FeatureChunk c;
            c.contig = row.at(0).get<std::string>();
            const auto strand = row.at(1).get<std::string>();
            c.strand = strand.empty() ? '?' : strand[0];
            c.begin = row.at(2).get<std::int64_t>();
            c.end = row.at(3).get<std::int64_t>();
            c.offset = row.at(4).get<std::uint64_t>();
            c.size_bytes = row.at(5).get<std::uint64_t>();
            c.n_nonzero = row.at(6).get<std::uint64_t>();
            c.crc32 = row.at(7).get<std::uint32_t>();
            const auto it = s.contig_index.find(c.contig);
            EVOSCOPE_CHECK_FORMAT(it != s.contig_index.end(),
                                  "{}: chunk {} names a contig not in the contig table",
                                  mp,
                                  chunk_name(c));
            EVOSCOPE_CHECK_FORMAT(strand.size() == 1 && (c.strand == '+' || c.strand == '-'),
                                  "{}: chunk {} has strand '{}'",
                                  mp,
                                  chunk_name(c),
                                  strand);
            EVOSCOPE_CHECK_FORMAT(
                c.begin >= 0 && c.end > c.begin && c.end <= h.contigs[it->second].length,
                "{}: chunk {} lies outside its contig ({} bp)",
                mp,
                chunk_name(c),
                h.contigs[it->second].length);
            // Bounds the inflate buffer (positions + 2 x nonzeros 32-bit words): a position holds
            // at most d_sae pairs, and zlib inflates at most 1032 bytes per compressed byte (258
            // words), so a chunk cannot claim more than its compressed size can hold.
            const auto positions = static_cast<std::uint64_t>(c.end - c.begin);
            std::uint64_t max_pairs = 0;
            EVOSCOPE_CHECK_FORMAT(__builtin_mul_overflow(
                                      positions, static_cast<std::uint64_t>(h.d_sae), &max_pairs) ||
                                      c.n_nonzero <= max_pairs,
                                  "{}: chunk {} claims {} nonzeros",
                                  mp,
                                  chunk_name(c),
                                  c.n_nonzero);
            std::uint64_t words = 0;
            EVOSCOPE_CHECK_FORMAT(!__builtin_mul_overflow(c.n_nonzero, 2, &words) &&
                                      !__builtin_add_overflow(words, positions, &words) &&
                                      words / 258 <= c.size_bytes,
                                  "{}: chunk {} claims {} positions and {} nonzeros, more than "
                                  "its {} compressed bytes can hold",
                                  mp,
                                  chunk_name(c),
                                  positions,
                                  c.n_nonzero,
                                  c.size_bytes);
            s.chunks.push_back(std::move(c));
        }
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(fmt::format("{}: {}", mp, e.what()));
    }

    s.chunks_path = dir / chunks_file;
    s.fd = ::open(s.chunks_path.c_str(), O_RDONLY | O_CLOEXEC);
    EVOSCOPE_CHECK_IO(
        s.fd >= 0, "cannot open '{}': {}", s.chunks_path.string(), std::strerror(errno));

    struct stat st {};

    EVOSCOPE_CHECK_IO(::fstat(s.fd, &st) == 0,
                      "cannot stat '{}': {}",
                      s.chunks_path.string(),
                      std::strerror(errno));
    const auto file_size = static_cast<std::uint64_t>(st.st_size);

    sort_in_scan_order(s.chunks, s.contig_index);
    s.run_range.assign(s.header.contigs.size() * 2, {0, 0});
    std::uint64_t total_nonzero = 0;
    for (std::size_t i = 0; i < s.chunks.size(); ++i) {
        const FeatureChunk& c = s.chunks[i];
        EVOSCOPE_CHECK_FORMAT(c.offset <= file_size && c.size_bytes <= file_size - c.offset,
                              "{}: chunk {} points past the end of {} ({} bytes)",
                              mp,
                              chunk_name(c),
                              s.chunks_path.string(),
                              file_size);
        const std::size_t key =
            s.contig_index.at(c.contig) * 2 + static_cast<std::size_t>(strand_index(c.strand));
        auto& range = s.run_range[key];
        if (range.first == range.second) {
            range = {i, i + 1};
        } else {
            const FeatureChunk& prev = s.chunks[i - 1];
            EVOSCOPE_CHECK_FORMAT(prev.end <= c.begin,
                                  "{}: chunks {} and {} overlap",
                                  mp,
                                  chunk_name(prev),
                                  chunk_name(c));
            range.second = i + 1;
        }
        s.n_positions += c.end - c.begin;
        total_nonzero += c.n_nonzero;
    }
    s.n_nonzero = static_cast<std::int64_t>(total_nonzero);
    EVOSCOPE_CHECK_FORMAT(
        s.n_positions == declared_positions && s.n_nonzero == declared_nonzero,
        "{}: the chunk index holds {} positions and {} nonzeros, the manifest says {} and {}",
        mp,
        s.n_positions,
        s.n_nonzero,
        declared_positions,
        declared_nonzero);

    const auto d_sae = s.header.d_sae;
    const auto nnz_path = dir / kNnzFile;
    const auto max_path = dir / kMaxFile;
    EVOSCOPE_CHECK_IO(std::filesystem::exists(nnz_path),
                      "feature store statistics '{}' are missing",
                      nnz_path.string());
    EVOSCOPE_CHECK_IO(std::filesystem::exists(max_path),
                      "feature store statistics '{}' are missing",
                      max_path.string());
    const NpyInfo nnz_info = read_npy_header(nnz_path);
    const NpyInfo max_info = read_npy_header(max_path);
    EVOSCOPE_CHECK_FORMAT(
        nnz_info.dtype == NpyDtype::Int64 && nnz_info.shape == std::vector<std::int64_t>{d_sae},
        "{}: expected int64 [{}]",
        nnz_path.string(),
        d_sae);
    EVOSCOPE_CHECK_FORMAT(
        max_info.dtype == NpyDtype::Float32 && max_info.shape == std::vector<std::int64_t>{d_sae},
        "{}: expected float32 [{}]",
        max_path.string(),
        d_sae);
    s.stats.n_nonzero.resize(static_cast<std::size_t>(d_sae));
    s.stats.max_value.resize(static_cast<std::size_t>(d_sae));
    read_npy_rows(
        nnz_path, nnz_info, 0, d_sae, std::as_writable_bytes(std::span(s.stats.n_nonzero)));
    read_npy_rows(
        max_path, max_info, 0, d_sae, std::as_writable_bytes(std::span(s.stats.max_value)));
}

FeatureStore::~FeatureStore() = default;
FeatureStore::FeatureStore(FeatureStore&&) noexcept = default;
FeatureStore& FeatureStore::operator=(FeatureStore&&) noexcept = default;

const FeatureStoreHeader& FeatureStore::header() const {
    return state_->header;
}

const std::vector<FeatureContig>& FeatureStore::contigs() const {
    return state_->header.contigs;
}

std::int64_t FeatureStore::d_sae() const {
    return state_->header.d_sae;
}

std::int64_t FeatureStore::n_positions() const {
    return state_->n_positions;
}

std::int64_t FeatureStore::n_nonzero() const {
    return state_->n_nonzero;
}

const std::vector<FeatureChunk>& FeatureStore::chunks() const {
    return state_->chunks;
}

const FeatureStats& FeatureStore::feature_stats() const {
    return state_->stats;
}

FeatureRows FeatureStore::read_chunk(std::size_t index) const {
    const State& s = *state_;
    EVOSCOPE_CHECK(index < s.chunks.size(),
                   "feature store '{}': chunk {} out of range ({} chunks)",
                   s.dir.string(),
                   index,
                   s.chunks.size());
    const FeatureChunk& c = s.chunks[index];
    const auto words = s.inflate_chunk(c);
    const auto n = static_cast<std::size_t>(c.end - c.begin);
    const auto nnz = static_cast<std::size_t>(c.n_nonzero);
    FeatureRows rows;
    rows.begin = c.begin;
    rows.end = c.end;
    rows.row_ptr.resize(n + 1);
    for (std::size_t i = 0; i < n; ++i) {
        rows.row_ptr[i + 1] = rows.row_ptr[i] + words[i];
    }
    rows.ids.assign(words.begin() + static_cast<std::ptrdiff_t>(n),
                    words.begin() + static_cast<std::ptrdiff_t>(n + nnz));
    rows.values.resize(nnz);
    copy_words(rows.values.data(), words.data() + n + nnz, nnz);
    rows.covered.assign(n, 1);
    return rows;
}

FeatureRows FeatureStore::read_region(const std::string& contig,
                                      std::int64_t begin,
                                      std::int64_t end,
                                      char strand) const {
    const std::size_t ci = state_->check_region(contig, begin, end, strand);
    FeatureRows rows;
    rows.begin = begin;
    rows.end = end;
    const auto n = static_cast<std::size_t>(end - begin);
    rows.row_ptr.assign(n + 1, 0);
    rows.covered.assign(n, 0);
    // row_ptr first holds per-position counts (shifted by one), turned into offsets at the end.
    state_->for_each_overlapping(
        ci,
        begin,
        end,
        strand,
        [&](const FeatureChunk& c, const auto& words, std::int64_t lo, std::int64_t hi) {
            const auto chunk_n = static_cast<std::size_t>(c.end - c.begin);
            const auto skip = static_cast<std::size_t>(lo - c.begin);
            const auto take = static_cast<std::size_t>(hi - lo);
            std::size_t k0 = 0;
            for (std::size_t i = 0; i < skip; ++i)
                k0 += words[i];
            std::size_t k1 = k0;
            for (std::size_t i = skip; i < skip + take; ++i) {
                const auto out = static_cast<std::size_t>(c.begin - begin) + i;
                rows.row_ptr[out + 1] = words[i];
                rows.covered[out] = 1;
                k1 += words[i];
            }
            const std::size_t ids_at = chunk_n;
            const std::size_t values_at = chunk_n + static_cast<std::size_t>(c.n_nonzero);
            rows.ids.insert(rows.ids.end(),
                            words.begin() + static_cast<std::ptrdiff_t>(ids_at + k0),
                            words.begin() + static_cast<std::ptrdiff_t>(ids_at + k1));
            const std::size_t old = rows.values.size();
            rows.values.resize(old + (k1 - k0));
            copy_words(rows.values.data() + old, words.data() + values_at + k0, k1 - k0);
        });
    for (std::size_t i = 0; i < n; ++i)
        rows.row_ptr[i + 1] += rows.row_ptr[i];
    return rows;
}

std::vector<float> FeatureStore::feature_track(std::uint32_t feature,
                                               const std::string& contig,
                                               std::int64_t begin,
                                               std::int64_t end,
                                               char strand) const {
    const std::uint32_t features[] = {feature};
    return feature_tracks(features, contig, begin, end, strand);
}

std::vector<float> FeatureStore::feature_tracks(std::span<const std::uint32_t> features,
                                                const std::string& contig,
                                                std::int64_t begin,
                                                std::int64_t end,
                                                char strand) const {
    const State& s = *state_;
    const std::size_t ci = s.check_region(contig, begin, end, strand);
    // slot[id]: row of the output for feature id, or -1.
    std::vector<std::int64_t> slot(static_cast<std::size_t>(s.header.d_sae), -1);
    for (std::size_t f = 0; f < features.size(); ++f) {
        EVOSCOPE_CHECK(features[f] < static_cast<std::uint64_t>(s.header.d_sae),
                       "feature store '{}': feature {} is not below d_sae = {}",
                       s.dir.string(),
                       features[f],
                       s.header.d_sae);
        EVOSCOPE_CHECK(slot[features[f]] < 0,
                       "feature store '{}': feature {} requested twice",
                       s.dir.string(),
                       features[f]);
        slot[features[f]] = static_cast<std::int64_t>(f);
    }
    const auto n = static_cast<std::size_t>(end - begin);
    std::vector<float> out(features.size() * n, std::numeric_limits<float>::quiet_NaN());
    s.for_each_overlapping(
        ci,
        begin,
        end,
        strand,
        [&](const FeatureChunk& c, const auto& words, std::int64_t lo, std::int64_t hi) {
            const auto chunk_n = static_cast<std::size_t>(c.end - c.begin);
            const std::uint32_t* ids = words.data() + chunk_n;
            const std::uint32_t* values = ids + c.n_nonzero;
            std::size_t k = 0;
            for (std::size_t i = 0; i < static_cast<std::size_t>(lo - c.begin); ++i)
                k += words[i];
            for (auto pos = lo; pos < hi; ++pos) {
                const auto i = static_cast<std::size_t>(pos - c.begin);
                const auto col = static_cast<std::size_t>(pos - begin);
                for (std::size_t f = 0; f < features.size(); ++f)
                    out[f * n + col] = 0.0f;
                for (const std::size_t k_end = k + words[i]; k < k_end; ++k) {
                    if (const auto f = slot[ids[k]]; f >= 0) {
                        out[static_cast<std::size_t>(f) * n + col] =
                            std::bit_cast<float>(values[k]);
                    }
                }
            }
        });
    return out;
}

void FeatureStore::scan(
    const std::function<void(const FeatureChunk&, const FeatureRows&)>& visit) const {
    for (std::size_t i = 0; i < state_->chunks.size(); ++i) {
        visit(state_->chunks[i], read_chunk(i));
    }
}

}  // namespace evoscope::sae
