// `evoscope model embed`: activations of model sites over tiled windows, stitched into one row per
// genomic position and strand, written as activation stores (or one .npy).
//
// Stitching rule (documented in --help and README): the model is causal, so a position's
// activation depends only on the bases before it in the window's reading direction. Among the
// overlapping windows of a region, each position is taken from the window that gives it the most
// context: on '+' the earliest window that covers it (window k contributes the positions after the
// end of window k-1), on '-' (reverse complement: context comes from the right) the latest window
// that covers it (window k contributes the positions before the start of window k+1). Parts of
// wrapped windows beyond the contig end are dropped (those positions come from the contig start).
#include <map>
#include <memory>
#include <optional>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "core/run_info.hpp"
#include "formats/npy.hpp"
#include "genomics/window.hpp"
#include "model/checkpoint.hpp"
#include "model/tokenizer.hpp"
#include "pipelines/stitcher.hpp"
#include "pipelines/torch/model_source.hpp"
#include "pipelines/torch/stages.hpp"
#include "pipelines/window_source.hpp"
#include "store/activation_store.hpp"

namespace evoscope::pipelines {
namespace {

std::string site_dir_name(const std::string& site) {
    return site;  // site names are [a-z0-9._]: safe as folder names
}

}  // namespace

ModelEmbedResult run_model_embed(const ModelEmbedOptions& config) {
    EVOSCOPE_CHECK_USAGE(config.output_dir.empty() != config.npy.empty(),
                         "embed needs exactly one of -o DIR (activation stores) or --npy FILE");
    auto model = open_model(config.model);
    // --window 0 (the default): the model's trained context (pipelines/torch/model_source.hpp).
    const WindowSource source(with_model_window(config.source, model, config.model.model));
    for (const auto& site : config.sites) {
        model::Evo2Model::check_site(site, model.config().num_layers);
    }
    const std::int64_t d = model.config().hidden_size;
    if (!config.npy.empty()) {
        EVOSCOPE_CHECK_USAGE(config.sites.size() == 1,
                             "--npy takes one --layer, {} were given",
                             config.sites.size());
        EVOSCOPE_CHECK_USAGE(source.regions().size() == 1,
                             "--npy takes exactly one region (-r), {} were given",
                             source.regions().size());
        EVOSCOPE_CHECK_USAGE(source.window_config().strand == genomics::StrandMode::Forward,
                             "--npy writes the + strand only; use -o DIR for --strand - or both");
        EVOSCOPE_CHECK(config.force || !std::filesystem::exists(config.npy),
                       "output '{}' exists (use --force to overwrite)",
                       config.npy);
    } else {
        EVOSCOPE_CHECK(config.force || !std::filesystem::exists(config.output_dir),
                       "output '{}' exists (use --force to overwrite)",
                       config.output_dir);
    }

    // Sinks: activation stores (one per site) or a single .npy.
    std::map<std::string, std::unique_ptr<sae::ActivationStoreWriter>> stores;
    std::unique_ptr<NpyWriter> npy;
    const auto& region0 = source.regions().front();
    if (!config.npy.empty()) {
        npy = std::make_unique<NpyWriter>(
            config.npy, NpyDtype::Float32, std::vector<std::int64_t>{region0.length(), d});
    } else {
        create_output_dir(config.output_dir);
        nlohmann::json provenance;
        provenance["evoscope_version"] = version_string();
        provenance["command"] = command_line();
        provenance["fasta"] = config.source.fasta;
        provenance["regions"] = nlohmann::json::array();
        for (const auto& r : source.regions()) {
            provenance["regions"].push_back(genomics::format_region_1b(r));
        }
        for (const auto& site : config.sites) {
            sae::StoreManifest header;
            header.site = site;
            header.d_model = d;
            header.dtype = sae::parse_store_dtype(config.dtype);
            header.model_path = config.model.model;
            header.model_hash = model::content_hash(config.model.model);
            header.window_bp = source.window_config().window_bp;
            header.stride_bp = source.window_config().stride_bp;
            header.stitching =
                "causal: '+' positions from the earliest covering window, '-' positions from the "
                "latest";
            header.provenance_json = provenance.dump();
            for (const auto& c : source.contigs().contigs()) {
                header.contigs.emplace_back(c.name, c.length);
            }
            stores[site] = std::make_unique<sae::ActivationStoreWriter>(
                std::filesystem::path(config.output_dir) / site_dir_name(site),
                header,
                config.rows_per_shard,
                config.force);
        }
    }
    std::int64_t npy_next = region0.begin;
    const auto sink = [&](const std::string& site,
                          const std::string& contig,
                          std::int64_t begin,
                          std::int64_t end,
                          char strand,
                          std::span<const float> rows) {
        if (npy) {
            EVOSCOPE_CHECK(begin == npy_next,
                           "--npy needs windows that cover the whole region: {}:{}-{} is missing "
                           "(stride larger than the window, or windows skipped by --max-n)",
                           contig,
                           npy_next + 1,
                           begin);
            npy->write_values(rows);
            npy_next = end;
        } else {
            stores.at(site)->append(contig, begin, end, strand, rows);
        }
    };
    WindowStitcher<std::map<std::string, at::Tensor>> stitcher(
        [&](const std::string& contig,
            std::int64_t from,
            std::int64_t to,
            char strand,
            std::int64_t window_begin,
            const std::map<std::string, at::Tensor>& acts) {
            for (const auto& site : config.sites) {
                const at::Tensor rows =
                    acts.at(site).slice(0, from - window_begin, to - window_begin).contiguous();
                sink(site,
                     contig,
                     from,
                     to,
                     strand,
                     std::span<const float>(rows.data_ptr<float>(),
                                            static_cast<std::size_t>(rows.numel())));
            }
        });

    // Batches of equal-length windows, processed in stream order.
    auto stream = source.stream();
    std::vector<genomics::Window> batch;
    std::int64_t n_windows = 0;
    std::int64_t n_tokens = 0;
    const RunClock clock;
    const auto run_batch = [&] {
        if (batch.empty())
            return;
        const auto len = static_cast<std::int64_t>(batch.front().sequence.size());
        std::vector<model::TokenId> ids;
        ids.reserve(batch.size() * static_cast<std::size_t>(len));
        for (const auto& w : batch)
            model::Tokenizer::tokenize_into(w.sequence, ids);
        const at::Tensor input =
            at::from_blob(ids.data(), {static_cast<std::int64_t>(batch.size()), len}, at::kInt)
                .to(at::kLong);
        const auto out = model.run(input, config.sites, false);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            std::map<std::string, at::Tensor> acts;
            for (const auto& site : config.sites) {
                at::Tensor a = out.at(site)[static_cast<std::int64_t>(i)];  // [len, d]
                if (batch[i].interval.strand == genomics::Strand::Reverse) {
                    a = a.flip({0});  // rows back to ascending genomic order
                }
                acts[site] = a.contiguous();
            }
            const auto length = *source.fasta().contig_length(batch[i].interval.contig);
            stitcher.add(batch[i], length, std::move(acts));
        }
        n_windows += static_cast<std::int64_t>(batch.size());
        n_tokens += static_cast<std::int64_t>(batch.size()) * len;
        EVOSCOPE_LOG_DEBUG("{} windows, {:.0f} tokens/s",
                           n_windows,
                           static_cast<double>(n_tokens) / std::max(1e-9, clock.wall_seconds()));
        batch.clear();
    };
    double next_report_s = 10.0;  // progress on stderr about every 10 s
    while (auto w = stream.next()) {
        if (!batch.empty() && (w->sequence.size() != batch.front().sequence.size() ||
                               static_cast<std::int64_t>(batch.size()) == config.batch)) {
            run_batch();
        }
        batch.push_back(std::move(*w));
        if (clock.wall_seconds() >= next_report_s) {
            EVOSCOPE_LOG_INFO("{} windows embedded ({}), {:.0f} tokens/s",
                              n_windows,
                              genomics::format_region_1b(batch.back().interval),
                              static_cast<double>(n_tokens) / std::max(1e-9, clock.wall_seconds()));
            next_report_s = clock.wall_seconds() + 10.0;
        }
    }
    run_batch();
    stitcher.finish();

    if (npy) {
        EVOSCOPE_CHECK(npy_next == region0.end,
                       "windows covered {}:{}-{} only",
                       region0.contig,
                       region0.begin + 1,
                       npy_next);
        npy->commit();
    }
    std::int64_t n_rows = 0;
    for (auto& [site, store] : stores) {
        n_rows = store->rows_written();
        store->commit();
    }
    EVOSCOPE_LOG_INFO("{} windows, {} tokens in {:.1f} s ({:.0f} tokens/s); {} rows per site",
                      n_windows,
                      n_tokens,
                      clock.wall_seconds(),
                      static_cast<double>(n_tokens) / std::max(1e-9, clock.wall_seconds()),
                      npy ? region0.length() : n_rows);
    return ModelEmbedResult{n_windows, n_tokens, npy ? region0.length() : n_rows};
}

}  // namespace evoscope::pipelines
