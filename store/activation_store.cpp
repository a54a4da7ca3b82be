#include "store/activation_store.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.hpp"
#include "core/output_file.hpp"
#include "formats/npy.hpp"

namespace evoscope::sae {
namespace {

constexpr const char* kFormat = "evoscope-activations";
constexpr int kVersion = 1;

std::string shard_name(std::size_t index) {
    return fmt::format("shard-{:05d}.npy", index);
}

}  // namespace

const char* store_dtype_name(StoreDtype dtype) {
    return dtype == StoreDtype::Float32 ? "float32" : "bfloat16";
}

StoreDtype parse_store_dtype(const std::string& name) {
    if (name == "float32" || name == "fp32" || name == "f32")
        return StoreDtype::Float32;
    if (name == "bfloat16" || name == "bf16")
        return StoreDtype::BFloat16;
    throw InputError("unknown activation dtype '" + name + "' (expected float32 or bfloat16)");
}

// ---------------------------------------------------------------------------------------------
struct ActivationStoreWriter::State {
    std::filesystem::path dir;
    std::filesystem::path temp_dir;
    StoreManifest manifest;
    std::int64_t rows_per_shard = 0;
    bool overwrite = false;
    std::unique_ptr<NpyWriter> shard;
    std::int64_t shard_rows = 0;
    std::vector<std::uint16_t> bf16_buffer;
    bool committed = false;

    void open_shard() {
        const std::size_t index = manifest.shards.size();
        manifest.shards.push_back(shard_name(index));
        manifest.shard_rows.push_back(0);
        shard = std::make_unique<NpyWriter>(
            temp_dir / manifest.shards.back(),
            manifest.dtype == StoreDtype::Float32 ? NpyDtype::Float32 : NpyDtype::UInt16,
            std::vector<std::int64_t>{-1, manifest.d_model});
        shard_rows = 0;
    }

    void close_shard() {
        if (shard) {
            shard->commit();
            manifest.shard_rows.back() = shard_rows;
            shard.reset();
        }
    }
};

ActivationStoreWriter::ActivationStoreWriter(std::filesystem::path dir,
                                             StoreManifest header,
                                             std::int64_t rows_per_shard,
                                             bool overwrite)
    : state_(std::make_unique<State>()) {
    EVOSCOPE_CHECK(header.d_model > 0, "activation store needs d_model > 0");
    EVOSCOPE_CHECK(rows_per_shard > 0, "rows per shard must be positive");
    if (!overwrite && std::filesystem::exists(dir)) {
        throw InputError(
            fmt::format("output '{}' exists (use --force to overwrite)", dir.string()));
    }
    state_->dir = dir;
    state_->overwrite = overwrite;
    state_->manifest = std::move(header);
    state_->manifest.shards.clear();
    state_->manifest.shard_rows.clear();
    state_->manifest.blocks.clear();
    state_->manifest.n_rows = 0;
    state_->rows_per_shard = rows_per_shard;
    state_->temp_dir = temp_path_for(dir);
    std::error_code ec;
    std::filesystem::create_directories(state_->temp_dir, ec);
    EVOSCOPE_CHECK_IO(!ec, "cannot create '{}': {}", state_->temp_dir.string(), ec.message());
}

ActivationStoreWriter::~ActivationStoreWriter() {
    if (!state_->committed) {
        state_->shard.reset();
        std::error_code ec;
        std::filesystem::remove_all(state_->temp_dir, ec);
    }
}

std::int64_t ActivationStoreWriter::rows_written() const {
    return state_->manifest.n_rows;
}

void ActivationStoreWriter::append(const std::string& contig,
                                   std::int64_t begin,
                                   std::int64_t end,
                                   char strand,
                                   std::span<const float> rows) {
    State& s = *state_;
    const std::int64_t d = s.manifest.d_model;
    EVOSCOPE_CHECK(
        end >= begin, "activation block {}:{}-{} has negative length", contig, begin, end);
    EVOSCOPE_CHECK(strand == '+' || strand == '-', "activation block strand must be + or -");
    EVOSCOPE_CHECK(static_cast<std::int64_t>(rows.size()) == (end - begin) * d,
                   "activation block {}:{}-{}: {} values for {} rows of d_model {}",
                   contig,
                   begin,
                   end,
                   rows.size(),
                   end - begin,
                   d);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (!std::isfinite(rows[i])) {
            throw InputError(fmt::format("non-finite activation at {}:{} (feature {})",
                                         contig,
                                         begin + static_cast<std::int64_t>(i) / d + 1,
                                         static_cast<std::int64_t>(i) % d));
        }
    }
    std::int64_t pos = begin;
    std::size_t offset = 0;
    while (pos < end) {
        if (!s.shard || s.shard_rows == s.rows_per_shard) {
            s.close_shard();
            s.open_shard();
        }
        const std::int64_t n = std::min(end - pos, s.rows_per_shard - s.shard_rows);
        const auto values = rows.subspan(offset, static_cast<std::size_t>(n * d));
        if (s.manifest.dtype == StoreDtype::Float32) {
            s.shard->write_values(values);
        } else {
            s.bf16_buffer.resize(values.size());
            std::transform(values.begin(), values.end(), s.bf16_buffer.begin(), float_to_bf16);
            s.shard->write_values(std::span<const std::uint16_t>(s.bf16_buffer));
        }
        RowBlock block;
        block.contig = contig;
        block.begin = pos;
        block.end = pos + n;
        block.strand = strand;
        block.shard = s.manifest.shards.size() - 1;
        block.row = s.shard_rows;
        block.global_row = s.manifest.n_rows;
        s.manifest.blocks.push_back(block);
        s.shard_rows += n;
        s.manifest.n_rows += n;
        pos += n;
        offset += static_cast<std::size_t>(n * d);
    }
}

void ActivationStoreWriter::commit() {
    State& s = *state_;
    s.close_shard();
    nlohmann::json j;
    const auto& m = s.manifest;
    j["format"] = kFormat;
    j["version"] = kVersion;
    j["site"] = m.site;
    j["d_model"] = m.d_model;
    j["dtype"] = store_dtype_name(m.dtype);
    j["model"] = {{"path", m.model_path}, {"hash", m.model_hash}};
    j["window_bp"] = m.window_bp;
    j["stride_bp"] = m.stride_bp;
    j["stitching"] = m.stitching;
    j["provenance"] = nlohmann::json::parse(m.provenance_json.empty() ? "{}" : m.provenance_json);
    j["n_rows"] = m.n_rows;
    j["shards"] = nlohmann::json::array();
    for (std::size_t i = 0; i < m.shards.size(); ++i) {
        j["shards"].push_back({{"file", m.shards[i]}, {"n_rows", m.shard_rows[i]}});
    }
    j["blocks"] = nlohmann::json::array();
    for (const auto& b : m.blocks) {
        j["blocks"].push_back({b.contig, b.begin, b.end, std::string(1, b.strand), b.shard, b.row});
    }
    j["blocks_columns"] = {"contig", "begin", "end", "strand", "shard", "row"};
    if (!m.contigs.empty()) {
        j["contigs"] = nlohmann::json::array();
        for (const auto& [name, length] : m.contigs) {
            j["contigs"].push_back({name, length});
        }
    }
    write_file_atomic(s.temp_dir / "manifest.json", j.dump(1) + "\n");
    if (std::filesystem::exists(s.dir)) {
        EVOSCOPE_CHECK(
            s.overwrite, "output '{}' exists (use --force to overwrite)", s.dir.string());
        std::filesystem::remove_all(s.dir);
    }
    commit_temp_file(s.temp_dir, s.dir);
    s.committed = true;
}

// ---------------------------------------------------------------------------------------------
struct ActivationStore::State {
    std::filesystem::path dir;
    StoreManifest manifest;
    std::vector<NpyInfo> shard_info;
    std::vector<std::int64_t> shard_first_row;
    std::map<std::string, std::vector<std::size_t>> blocks_by_contig;  // indices, sorted by begin
};

ActivationStore::ActivationStore(const std::filesystem::path& dir)
    : state_(std::make_unique<State>()) {
    State& s = *state_;
    s.dir = dir;
    const auto manifest_path = dir / "manifest.json";
    EVOSCOPE_CHECK_IO(
        std::filesystem::is_directory(dir), "activation store '{}' does not exist", dir.string());
    std::ifstream in(manifest_path);
    EVOSCOPE_CHECK_IO(in.good(), "activation store '{}' has no manifest.json", dir.string());
    nlohmann::json j;
    try {
        in >> j;
        EVOSCOPE_CHECK_FORMAT(j.value("format", "") == kFormat,
                              "{}: not an evoscope activation store manifest",
                              manifest_path.string());
        EVOSCOPE_CHECK_FORMAT(j.at("version").get<int>() == kVersion,
                              "{}: unsupported store version {}",
                              manifest_path.string(),
                              j.at("version").dump());
        auto& m = s.manifest;
        m.site = j.at("site").get<std::string>();
        m.d_model = j.at("d_model").get<std::int64_t>();
        EVOSCOPE_CHECK_FORMAT(m.d_model > 0,
                              "{}: d_model must be positive, got {}",
                              manifest_path.string(),
                              m.d_model);
        m.dtype = parse_store_dtype(j.at("dtype").get<std::string>());
        m.model_path = j.at("model").value("path", "");
        m.model_hash = j.at("model").value("hash", "");
        m.window_bp = j.value("window_bp", 0);
        m.stride_bp = j.value("stride_bp", 0);
        m.stitching = j.value("stitching", "");
        m.provenance_json = j.value("provenance", nlohmann::json::object()).dump();
        m.n_rows = j.at("n_rows").get<std::int64_t>();
        if (j.contains("contigs")) {
            for (const auto& c : j.at("contigs")) {
                EVOSCOPE_CHECK_FORMAT(c.is_array() && c.size() == 2 && c[0].is_string() &&
                                          c[1].is_number_integer() && c[1].get<std::int64_t>() > 0,
                                      "{}: each 'contigs' entry must be [name, positive length]",
                                      manifest_path.string());
                m.contigs.emplace_back(c[0].get<std::string>(), c[1].get<std::int64_t>());
            }
        }
        for (const auto& sh : j.at("shards")) {
            m.shards.push_back(sh.at("file").get<std::string>());
            m.shard_rows.push_back(sh.at("n_rows").get<std::int64_t>());
        }
        std::int64_t first = 0;
        for (std::size_t i = 0; i < m.shards.size(); ++i) {
            s.shard_first_row.push_back(first);
            EVOSCOPE_CHECK_FORMAT(
                m.shard_rows[i] >= 0 &&
                    m.shard_rows[i] <= std::numeric_limits<std::int64_t>::max() - first,
                "{}: shard '{}' has a bad row count {}",
                manifest_path.string(),
                m.shards[i],
                m.shard_rows[i]);
            first += m.shard_rows[i];
        }
        for (const auto& b : j.at("blocks")) {
            RowBlock block;
            block.contig = b.at(0).get<std::string>();
            block.begin = b.at(1).get<std::int64_t>();
            block.end = b.at(2).get<std::int64_t>();
            const auto strand = b.at(3).get<std::string>();
            EVOSCOPE_CHECK_FORMAT(strand == "+" || strand == "-",
                                  "{}: row block {}:{}-{} has strand '{}' (not + or -)",
                                  manifest_path.string(),
                                  block.contig,
                                  block.begin,
                                  block.end,
                                  strand);
            block.strand = strand[0];
            block.shard = b.at(4).get<std::size_t>();
            block.row = b.at(5).get<std::int64_t>();
            // begin >= 0 and end >= begin first: then end - begin cannot overflow.
            EVOSCOPE_CHECK_FORMAT(
                block.shard < m.shards.size() && block.begin >= 0 && block.end >= block.begin &&
                    block.row >= 0 && block.row <= m.shard_rows[block.shard] &&
                    block.end - block.begin <= m.shard_rows[block.shard] - block.row,
                "{}: row block {}:{}-{} points outside its shard",
                manifest_path.string(),
                block.contig,
                block.begin,
                block.end);
            block.global_row = s.shard_first_row[block.shard] + block.row;
            m.blocks.push_back(block);
        }
        EVOSCOPE_CHECK_FORMAT(first == m.n_rows,
                              "{}: shard rows add up to {}, manifest says {}",
                              manifest_path.string(),
                              first,
                              m.n_rows);
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(fmt::format("{}: {}", manifest_path.string(), e.what()));
    }
    for (std::size_t i = 0; i < s.manifest.shards.size(); ++i) {
        const auto path = dir / s.manifest.shards[i];
        EVOSCOPE_CHECK_IO(
            std::filesystem::exists(path), "activation shard '{}' is missing", path.string());
        NpyInfo info = read_npy_header(path);
        const NpyDtype expected =
            s.manifest.dtype == StoreDtype::Float32 ? NpyDtype::Float32 : NpyDtype::UInt16;
        EVOSCOPE_CHECK_FORMAT(info.dtype == expected && info.shape.size() == 2 &&
                                  info.shape[0] == s.manifest.shard_rows[i] &&
                                  info.shape[1] == s.manifest.d_model,
                              "{}: shard shape or dtype does not match the manifest",
                              path.string());
        s.shard_info.push_back(info);
    }
    for (std::size_t i = 0; i < s.manifest.blocks.size(); ++i) {
        s.blocks_by_contig[s.manifest.blocks[i].contig].push_back(i);
    }
    for (auto& [contig, idx] : s.blocks_by_contig) {
        std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
            return s.manifest.blocks[a].begin < s.manifest.blocks[b].begin;
        });
    }
}

ActivationStore::~ActivationStore() = default;
ActivationStore::ActivationStore(ActivationStore&&) noexcept = default;
ActivationStore& ActivationStore::operator=(ActivationStore&&) noexcept = default;

const StoreManifest& ActivationStore::manifest() const {
    return state_->manifest;
}

std::int64_t ActivationStore::n_rows() const {
    return state_->manifest.n_rows;
}

std::int64_t ActivationStore::d_model() const {
    return state_->manifest.d_model;
}

void ActivationStore::read_rows(std::int64_t row, std::int64_t n, std::span<float> out) const {
    const State& s = *state_;
    const std::int64_t d = s.manifest.d_model;
    EVOSCOPE_CHECK(row >= 0 && n >= 0 && row + n <= s.manifest.n_rows,
                   "rows {}..{} outside the store ({} rows)",
                   row,
                   row + n,
                   s.manifest.n_rows);
    EVOSCOPE_CHECK(static_cast<std::int64_t>(out.size()) == n * d,
                   "read_rows: buffer holds {} values, need {}",
                   out.size(),
                   n * d);
    std::vector<std::uint16_t> bf16;
    std::int64_t done = 0;
    while (done < n) {
        const std::int64_t global = row + done;
        const auto it =
            std::upper_bound(s.shard_first_row.begin(), s.shard_first_row.end(), global);
        const auto shard =
            static_cast<std::size_t>(std::distance(s.shard_first_row.begin(), it) - 1);
        const std::int64_t local = global - s.shard_first_row[shard];
        const std::int64_t take = std::min(n - done, s.manifest.shard_rows[shard] - local);
        const auto path = s.dir / s.manifest.shards[shard];
        auto dst =
            out.subspan(static_cast<std::size_t>(done * d), static_cast<std::size_t>(take * d));
        if (s.manifest.dtype == StoreDtype::Float32) {
            read_npy_rows(path, s.shard_info[shard], local, take, std::as_writable_bytes(dst));
        } else {
            bf16.resize(dst.size());
            read_npy_rows(
                path, s.shard_info[shard], local, take, std::as_writable_bytes(std::span(bf16)));
            std::transform(bf16.begin(), bf16.end(), dst.begin(), bf16_to_float);
        }
        done += take;
    }
}

std::vector<RowBlock> ActivationStore::blocks_overlapping(const std::string& contig,
                                                          std::int64_t begin,
                                                          std::int64_t end,
                                                          char strand) const {
    std::vector<RowBlock> out;
    const auto it = state_->blocks_by_contig.find(contig);
    if (it == state_->blocks_by_contig.end()) {
        return out;
    }
    for (const std::size_t i : it->second) {
        const RowBlock& b = state_->manifest.blocks[i];
        if (b.begin >= end)
            break;
        if (b.end > begin && (strand == 0 || b.strand == strand)) {
            out.push_back(b);
        }
    }
    return out;
}

std::vector<float> ActivationStore::read_region(const std::string& contig,
                                                std::int64_t begin,
                                                std::int64_t end,
                                                char strand) const {
    const std::int64_t d = d_model();
    EVOSCOPE_CHECK(end >= begin, "region {}:{}-{} has negative length", contig, begin, end);
    std::vector<float> out(static_cast<std::size_t>((end - begin) * d), std::nanf(""));
    for (const auto& b : blocks_overlapping(contig, begin, end, strand)) {
        const std::int64_t lo = std::max(begin, b.begin);
        const std::int64_t hi = std::min(end, b.end);
        read_rows(b.global_row + (lo - b.begin),
                  hi - lo,
                  std::span(out).subspan(static_cast<std::size_t>((lo - begin) * d),
                                         static_cast<std::size_t>((hi - lo) * d)));
    }
    return out;
}

}  // namespace evoscope::sae
