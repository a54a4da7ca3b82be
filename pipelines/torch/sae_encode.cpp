// `evoscope sae encode`: an SAE's feature activations per genomic position, written as a feature
// store (sae/feature_store.hpp), from an activation store, a .npy array (also --npz), or a model
// run over FASTA windows. With a model, each window is encoded on its own (so batch-level top-k,
// --mode batchtopk, sees exactly one window, as Goodfire's notebook does), --drop-first trims the
// first N positions of each window in reading order, and the windows are stitched by the rule of
// pipelines/stitcher.hpp.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/run_info.hpp"
#include "formats/npz.hpp"
#include "pipelines/stitcher.hpp"
#include "pipelines/torch/model_rows.hpp"
#include "pipelines/torch/model_rows_impl.hpp"
#include "pipelines/torch/sae_common.hpp"
#include "pipelines/torch/stages.hpp"
#include "pipelines/train_support.hpp"
#include "pipelines/window_source.hpp"
#include "sae/sae.hpp"
#include "store/activation_store.hpp"
#include "store/feature_store.hpp"

namespace evoscope::pipelines {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::int64_t kRowsPerBatch = 4096;

sae::EncodeMode parse_mode(const std::string& mode) {
    if (mode == "threshold")
        return sae::EncodeMode::Threshold;
    if (mode == "batchtopk")
        return sae::EncodeMode::BatchTopK;
    return sae::EncodeMode::Default;
}

/// CSR codes on the CPU, in the feature store's integer types.
struct Codes {
    std::vector<std::int64_t> row_ptr;
    std::vector<std::uint32_t> ids;
    std::vector<float> values;
};

Codes to_codes(const sae::SparseCodes& c) {
    Codes out;
    const auto rp = c.row_ptr.contiguous();
    const auto ids = c.ids.contiguous();
    const auto vals = c.values.to(at::kFloat).contiguous();
    out.row_ptr.assign(rp.data_ptr<std::int64_t>(), rp.data_ptr<std::int64_t>() + rp.numel());
    out.ids.resize(static_cast<std::size_t>(ids.numel()));
    const auto* id = ids.data_ptr<std::int64_t>();
    for (std::size_t i = 0; i < out.ids.size(); ++i)
        out.ids[i] = static_cast<std::uint32_t>(id[i]);
    out.values.assign(vals.data_ptr<float>(), vals.data_ptr<float>() + vals.numel());
    return out;
}

/// Rows [r0, r1) of `c` (r1 <= rows), reversed when `reverse` (reading order -> genomic order).
Codes slice_codes(
    const Codes& c, std::int64_t r0, std::int64_t r1, bool reverse, std::int64_t rows) {
    Codes out;
    out.row_ptr.push_back(0);
    for (std::int64_t i = r0; i < r1; ++i) {
        const std::int64_t r = reverse ? rows - 1 - i : i;
        const auto b = static_cast<std::size_t>(c.row_ptr[static_cast<std::size_t>(r)]);
        const auto e = static_cast<std::size_t>(c.row_ptr[static_cast<std::size_t>(r) + 1]);
        out.ids.insert(out.ids.end(),
                       c.ids.begin() + static_cast<std::ptrdiff_t>(b),
                       c.ids.begin() + static_cast<std::ptrdiff_t>(e));
        out.values.insert(out.values.end(),
                          c.values.begin() + static_cast<std::ptrdiff_t>(b),
                          c.values.begin() + static_cast<std::ptrdiff_t>(e));
        out.row_ptr.push_back(static_cast<std::int64_t>(out.ids.size()));
    }
    return out;
}

std::string file_identity(const std::string& path) {
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) {
        return fmt::format("size:{}", fs::file_size(path, ec));
    }
    return {};
}

}  // namespace

SaeEncodeResult run_sae_encode(const SaeEncodeOptions& config) {
    torch::NoGradGuard no_grad;
    EVOSCOPE_CHECK_USAGE(!config.output_dir.empty() || !config.npz.empty(),
                         "encode needs -o DIR and/or --npz FILE");
    const auto mode = parse_mode(config.mode);
    const ActivationInput input = open_activation_input(config.input, config.batch);
    const std::int64_t d_in = input.rows->d();
    const sae::Sae sae = open_sae(config.sae, config.k, config.input.device, d_in, input.hook_name);
    const auto& sc = sae.config();
    EVOSCOPE_CHECK_USAGE(
        config.npz.empty() || (!input.is_store && !input.model_rows),
        "--npz is for .npy input (--acts X.npy); stores and models get a feature store (-o)");
    if (!config.output_dir.empty()) {
        EVOSCOPE_CHECK(config.force || !fs::exists(config.output_dir),
                       "output '{}' exists (use --force)",
                       config.output_dir);
    }
    EVOSCOPE_LOG_INFO("encode: {} SAE {} -> {} (k {}), input {}",
                      sae::arch_name(sc.arch),
                      sc.d_in,
                      sc.d_sae,
                      config.k > 0 ? config.k : sc.k,
                      input.rows->describe());

    sae::FeatureStoreHeader header;
    header.d_sae = sc.d_sae;
    header.sae_path = fs::absolute(config.sae).string();
    header.sae_hash = file_identity(config.sae);
    header.model_path = input.model_name;
    header.site = input.hook_name;
    header.drop_first = config.drop_first;
    header.stitching =
        input.model_rows
            ? "causal: on '+' each position from the earliest window covering it, on '-' from the "
              "latest; the first --drop-first positions of every window (reading order) dropped"
            : "as in the input activation store";
    header.provenance_json = json{{"command", command_line()},
                                  {"version", version_string()},
                                  {"mode", config.mode},
                                  {"k", config.k > 0 ? config.k : sc.k}}
                                 .dump();
    std::unique_ptr<sae::FeatureStoreWriter> writer;
    auto open_writer = [&](std::vector<sae::FeatureContig> contigs) {
        header.contigs = std::move(contigs);
        writer = std::make_unique<sae::FeatureStoreWriter>(
            config.output_dir, header, sae::kDefaultChunkPositions, config.force);
    };
    const auto encode_rows = [&](const at::Tensor& x) {
        return to_codes(sae.encode(x, mode, config.k));
    };
    std::int64_t n_positions = 0;
    std::int64_t n_nonzero = 0;
    const RunClock clock;

    if (input.model_rows) {
        // Model over windows: encode each window, trim, stitch.
        auto& impl = input.model_rows->impl();
        const WindowSourceOptions& source_options =
            input.model_rows->source_options();  // --window resolved
        header.window_bp = source_options.window_bp;
        header.stride_bp = source_options.stride_bp;
        std::vector<sae::FeatureContig> contigs;
        std::map<std::string, std::int64_t> lengths;
        {
            const WindowSource source(source_options);
            for (const auto& c : source.contigs().contigs()) {
                contigs.push_back({c.name, c.length});
                lengths[c.name] = c.length;
            }
        }
        if (!config.output_dir.empty())
            open_writer(contigs);
        WindowStitcher<Codes> stitcher([&](const std::string& contig,
                                           std::int64_t from,
                                           std::int64_t to,
                                           char strand,
                                           std::int64_t window_begin,
                                           const Codes& codes) {
            const Codes part = slice_codes(codes,
                                           from - window_begin,
                                           to - window_begin,
                                           false,
                                           static_cast<std::int64_t>(codes.row_ptr.size()) - 1);
            writer->append(contig, from, to, strand, part.row_ptr, part.ids, part.values);
            n_positions += to - from;
            n_nonzero += static_cast<std::int64_t>(part.ids.size());
        });
        std::int64_t dropped_windows = 0;
        for (std::int64_t w = 0; w < static_cast<std::int64_t>(impl.windows.size()); ++w) {
            const auto& win = impl.windows[static_cast<std::size_t>(w)];
            const at::Tensor& acts = impl.activations(w);  // [L, d], reading order
            const std::int64_t L = acts.size(0);
            const std::int64_t drop = std::min(config.drop_first, L);
            if (drop == L) {
                ++dropped_windows;
                continue;
            }
            // Encode the kept rows only (batch-level top-k must not spend k on dropped rows).
            const Codes kept = encode_rows(acts.slice(0, drop, L));
            const bool reverse = win.interval.strand == genomics::Strand::Reverse;
            genomics::Interval iv = win.interval;
            if (reverse) {
                iv.end -= drop;  // reading order runs from the end: its first bases are the last
                                 // positions
            } else {
                iv.begin += drop;
            }
            Codes genomic = slice_codes(kept, 0, L - drop, reverse, L - drop);
            stitcher.add(win, iv, lengths.at(win.interval.contig), std::move(genomic));
        }
        stitcher.finish();
        if (dropped_windows > 0) {
            EVOSCOPE_LOG_WARN("{} window(s) not longer than --drop-first {} were skipped",
                              dropped_windows,
                              config.drop_first);
        }
    } else if (input.is_store) {
        const sae::ActivationStore store(config.input.acts);
        std::map<std::string, std::int64_t> lengths;
        std::vector<sae::FeatureContig> contigs;
        for (const auto& b : store.manifest().blocks) {
            if (!lengths.contains(b.contig))
                contigs.push_back({b.contig, 0});
            lengths[b.contig] = std::max(lengths[b.contig], b.end);
        }
        for (auto& c : contigs)
            c.length = lengths.at(c.name);
        if (!store.manifest().contigs.empty()) {
            // The reference's own table (a store of regions keeps the genome's lengths).
            contigs.clear();
            for (const auto& [name, length] : store.manifest().contigs) {
                EVOSCOPE_CHECK_FORMAT(!lengths.contains(name) || lengths.at(name) <= length,
                                      "{}: contig '{}' has rows up to {} but length {}",
                                      config.input.acts,
                                      name,
                                      lengths.at(name),
                                      length);
                contigs.push_back({name, length});
            }
            for (const auto& [name, end] : lengths) {
                EVOSCOPE_CHECK_FORMAT(
                    std::any_of(contigs.begin(),
                                contigs.end(),
                                [&](const sae::FeatureContig& c) { return c.name == name; }),
                    "{}: contig '{}' has rows but is not in the manifest's contig table",
                    config.input.acts,
                    name);
            }
        }
        header.window_bp = store.manifest().window_bp;
        header.stride_bp = store.manifest().stride_bp;
        header.stitching = store.manifest().stitching;
        EVOSCOPE_CHECK_USAGE(!config.output_dir.empty(),
                             "activation-store input writes a feature store: give -o DIR");
        open_writer(contigs);
        std::vector<float> buf;
        for (const auto& b : store.manifest().blocks) {
            for (std::int64_t p = b.begin; p < b.end; p += kRowsPerBatch) {
                const std::int64_t q = std::min(b.end, p + kRowsPerBatch);
                buf.resize(static_cast<std::size_t>((q - p) * d_in));
                store.read_rows(b.global_row + (p - b.begin), q - p, buf);
                const Codes c = encode_rows(at::from_blob(buf.data(), {q - p, d_in}, at::kFloat));
                writer->append(b.contig, p, q, b.strand, c.row_ptr, c.ids, c.values);
                n_positions += q - p;
                n_nonzero += static_cast<std::int64_t>(c.ids.size());
            }
        }
    } else {
        // A plain .npy: rows have no coordinates. --npz gets fixed-width [N, k] arrays (rows with
        // fewer active latents padded with index -1 and value 0); -o gets a store whose one
        // contig "rows" has one position per row.
        const std::int64_t N = input.rows->n_rows();
        if (!config.output_dir.empty())
            open_writer({{"rows", N}});
        std::vector<Codes> all;
        std::int64_t width = 0;
        std::vector<float> buf;
        for (std::int64_t r = 0; r < N; r += kRowsPerBatch) {
            const std::int64_t q = std::min(N, r + kRowsPerBatch);
            buf.resize(static_cast<std::size_t>((q - r) * d_in));
            input.rows->read_rows(r, q - r, buf);
            Codes c = encode_rows(at::from_blob(buf.data(), {q - r, d_in}, at::kFloat));
            if (writer)
                writer->append("rows", r, q, '+', c.row_ptr, c.ids, c.values);
            for (std::size_t i = 0; i + 1 < c.row_ptr.size(); ++i) {
                width = std::max(width, c.row_ptr[i + 1] - c.row_ptr[i]);
            }
            n_positions += q - r;
            n_nonzero += static_cast<std::int64_t>(c.ids.size());
            if (!config.npz.empty())
                all.push_back(std::move(c));
        }
        if (!config.npz.empty()) {
            const std::int64_t k = std::max<std::int64_t>(width, config.k > 0 ? config.k : sc.k);
            std::vector<std::int32_t> indices(static_cast<std::size_t>(N * k), -1);
            std::vector<float> values(static_cast<std::size_t>(N * k), 0.0f);
            std::int64_t row = 0;
            for (const auto& c : all) {
                for (std::size_t i = 0; i + 1 < c.row_ptr.size(); ++i, ++row) {
                    for (std::int64_t m = c.row_ptr[i], j = 0; m < c.row_ptr[i + 1]; ++m, ++j) {
                        indices[static_cast<std::size_t>(row * k + j)] =
                            static_cast<std::int32_t>(c.ids[static_cast<std::size_t>(m)]);
                        values[static_cast<std::size_t>(row * k + j)] =
                            c.values[static_cast<std::size_t>(m)];
                    }
                }
            }
            const std::vector<NpzEntry> entries{
                npz_entry("indices", "<i4", {N, k}, std::span<const std::int32_t>(indices)),
                npz_entry("values", "<f4", {N, k}, std::span<const float>(values))};
            write_npz(config.npz, entries, config.force);
        }
    }
    if (writer)
        writer->commit();
    EVOSCOPE_LOG_INFO(
        "encoded {} positions, mean {:.2f} active features per position, {} tokens/s{}{}",
        n_positions,
        n_positions > 0 ? static_cast<double>(n_nonzero) / static_cast<double>(n_positions) : 0.0,
        nice_number(static_cast<double>(n_positions) / std::max(1e-9, clock.wall_seconds())),
        config.output_dir.empty() ? "" : "; wrote " + config.output_dir,
        config.npz.empty() ? "" : "; wrote " + config.npz);
    return SaeEncodeResult{n_positions, n_nonzero};
}

}  // namespace evoscope::pipelines
