// `evoscope model score`: teacher-forced next-base log-probabilities of regions.
//
// Tiling: a region of more than --window tokens (default: the model's trained context) is scored
// in windows of that many tokens, starting every --stride tokens (default window / 2); each
// token's log-probability comes from the window WindowStitcher picks on '+': the earliest one
// that has it past its first window - stride tokens, i.e. with the most preceding context.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "formats/npy.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"
#include "genomics/sequence.hpp"
#include "genomics/window.hpp"
#include "model/tokenizer.hpp"
#include "pipelines/stitcher.hpp"
#include "pipelines/torch/model_source.hpp"
#include "pipelines/torch/stages.hpp"

namespace evoscope::pipelines {
namespace {

/// One scoring window's results: lp[j] = log p(token begin + 1 + j | tokens begin..begin + j),
/// and its logits [len, vocab] when --logits is wanted.
struct WindowScores {
    at::Tensor lp;
    at::Tensor logits;
};

/// Token windows [b, e) of a sequence of n tokens: starts 0, stride, 2 * stride, ... up to the
/// first window that reaches n (which may be shorter); one window [0, n) when n <= window.
std::vector<std::pair<std::int64_t, std::int64_t>> tile(std::int64_t n,
                                                        std::int64_t window,
                                                        std::int64_t stride) {
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    for (std::int64_t b = 0;; b += stride) {
        out.emplace_back(b, std::min(b + window, n));
        if (b + window >= n)
            break;
    }
    return out;
}

}  // namespace

double ModelScoreResult::bits_per_base() const {
    return mean_nats / std::log(2.0);
}

ModelScoreResult run_model_score(const ModelScoreOptions& config) {
    const genomics::FastaReader fasta(config.fasta);
    genomics::ContigAliases aliases;
    if (!config.rename_contigs.empty()) {
        aliases = genomics::ContigAliases::from_file(config.rename_contigs);
    }
    const genomics::ContigSet contigs(fasta.contigs(), std::move(aliases));
    std::vector<genomics::Interval> regions;
    for (const auto& text : config.regions) {
        regions.push_back(genomics::parse_region(text, contigs));
    }
    if (!config.regions_bed.empty()) {
        const auto bed = genomics::read_bed_regions(config.regions_bed, contigs);
        regions.insert(regions.end(), bed.begin(), bed.end());
    }
    if (regions.empty()) {
        regions = genomics::whole_genome(contigs);  // no -r/-R: every contig
    }
    EVOSCOPE_CHECK(!regions.empty(), "{} has no contigs to score", config.fasta);
    EVOSCOPE_CHECK_USAGE(config.logits_npy.empty() || regions.size() == 1,
                         "--logits writes one region's logits; {} regions were given",
                         regions.size());
    for (const auto* out : {&config.logits_npy, &config.per_base_tsv}) {
        EVOSCOPE_CHECK(
            out->empty() || *out == "-" || config.force || !std::filesystem::exists(*out),
            "output '{}' exists (use --force to overwrite)",
            *out);
    }

    const auto model = open_model(config.model);
    const std::int64_t window = model_window_tokens(model, config.model.model, config.window);
    EVOSCOPE_CHECK_USAGE(window >= 2, "--window must be at least 2 tokens, got {}", window);
    const std::int64_t stride = config.stride > 0 ? config.stride : window / 2;
    EVOSCOPE_CHECK_USAGE(
        config.no_tiling || stride < window,
        "--stride {} must be below --window {} (overlapping windows: a window's first token "
        "has no context)",
        stride,
        window);
    const std::int64_t context = model.trained_context().tokens;
    std::unique_ptr<OutputFile> per_base;
    if (!config.per_base_tsv.empty()) {
        per_base = std::make_unique<OutputFile>(config.per_base_tsv, true);
        per_base->write("contig\tpos\tbase\tlogprob\n");
    }
    double total_nll = 0.0;
    std::int64_t n_scored = 0;
    std::string line;
    for (const auto& region : regions) {
        std::string seq = fasta.fetch(region.contig, region.begin, region.end);
        genomics::to_upper_in_place(seq);
        std::vector<model::TokenId> ids;
        if (config.prepend_eod) {
            ids.push_back(model::Tokenizer::kEodId);
        }
        model::Tokenizer::tokenize_into(seq, ids);
        EVOSCOPE_CHECK(
            ids.size() >= 2, "region {} is too short to score", genomics::format_region_1b(region));
        const auto n = static_cast<std::int64_t>(ids.size());
        const bool tiled = !config.no_tiling && n > window;
        if (!tiled && n > context) {
            warn_past_context(model,
                              config.model.model,
                              fmt::format("region {} ({} tokens, scored in one pass)",
                                          genomics::format_region_1b(region),
                                          n),
                              config.no_tiling ? "--no-tiling" : "");
        }
        const auto windows = tiled ? tile(n, window, stride) : tile(n, n, n);
        std::vector<float> lp_all(static_cast<std::size_t>(n),
                                  std::numeric_limits<float>::quiet_NaN());
        at::Tensor logits_all;  // row t: the logits that scored token t + 1 (the last row: the last
                                // window's)
        WindowStitcher<WindowScores> stitcher([&](const std::string&,
                                                  std::int64_t from,
                                                  std::int64_t to,
                                                  char,
                                                  std::int64_t window_begin,
                                                  const WindowScores& w) {
            const float* lp_w = w.lp.data_ptr<float>();
            for (std::int64_t t = std::max<std::int64_t>(from, 1); t < to; ++t) {
                lp_all[static_cast<std::size_t>(t)] = lp_w[t - 1 - window_begin];
            }
            if (w.logits.defined()) {
                const std::int64_t r0 = std::max<std::int64_t>(from, 1) - 1;
                const std::int64_t r1 = to == n ? n : to - 1;
                logits_all.slice(0, r0, r1).copy_(
                    w.logits.slice(0, r0 - window_begin, r1 - window_begin));
            }
        });
        const at::Tensor all_ids = at::from_blob(ids.data(), {n}, at::kInt).to(at::kLong);
        for (const auto& [wb, we] : windows) {
            const at::Tensor input = all_ids.slice(0, wb, we).unsqueeze(0);
            const at::Tensor logits = model.logits(input)[0];  // [len, vocab] float32 CPU
            const std::int64_t len = we - wb;
            // logprob of token t given tokens < t: row t-1, column ids[t] (evo2 scoring.py)
            const at::Tensor targets = input[0].slice(0, 1, len);
            WindowScores scores;
            scores.lp = at::log_softmax(logits, -1)
                            .slice(0, 0, len - 1)
                            .gather(1, targets.unsqueeze(1))
                            .squeeze(1)
                            .contiguous();
            if (!config.logits_npy.empty()) {
                if (!logits_all.defined())
                    logits_all = at::empty({n, logits.size(1)}, at::kFloat);
                scores.logits = logits;
            }
            genomics::Window w;
            w.interval = genomics::Interval{region.contig, wb, we, genomics::Strand::Forward};
            stitcher.add(w, n, std::move(scores));
        }
        stitcher.finish();
        const float* lp_data = lp_all.data() + 1;  // lp_data[i]: token i + 1
        const std::int64_t first_base =
            config.prepend_eod ? 1 : 0;  // index of the region's first base in ids
        if (per_base) {
            for (std::int64_t t = first_base; t < n; ++t) {
                const std::int64_t base_index = t - first_base;
                const std::string value =
                    t == 0 ? std::string("NA") : fmt::format("{:.6f}", lp_data[t - 1]);
                line = fmt::format("{}\t{}\t{}\t{}\n",
                                   region.contig,
                                   region.begin + base_index + 1,
                                   seq[static_cast<std::size_t>(base_index)],
                                   value);
                per_base->write(line);
            }
        }
        double region_nll = 0.0;
        for (std::int64_t i = 0; i < n - 1; ++i) {
            region_nll -= static_cast<double>(lp_data[i]);
        }
        total_nll += region_nll;
        n_scored += n - 1;
        EVOSCOPE_LOG_INFO(
            "{}: {} bases scored{}, loss {:.4f} nats, {:.4f} bits per base",
            genomics::format_region_1b(region),
            n - 1,
            tiled ? fmt::format(
                        " in {} windows of {} tokens (stride {})", windows.size(), window, stride)
                  : std::string(),
            region_nll / static_cast<double>(n - 1),
            region_nll / static_cast<double>(n - 1) / std::log(2.0));
        if (!config.logits_npy.empty()) {
            // Logits of the region's own bases (the EOD row, if prepended, is dropped).
            const at::Tensor rows = logits_all.slice(0, first_base, n).contiguous();
            NpyWriter npy(config.logits_npy, NpyDtype::Float32, {rows.size(0), rows.size(1)});
            npy.write_values(std::span<const float>(rows.data_ptr<float>(),
                                                    static_cast<std::size_t>(rows.numel())));
            npy.commit();
        }
    }
    if (per_base) {
        per_base->commit();
    }
    const double mean = total_nll / static_cast<double>(n_scored);
    fmt::print(stderr,
               "[I::model-score] {} region(s), {} bases scored: mean loss {:.4f} nats, {:.4f} bits "
               "per base\n",
               regions.size(),
               n_scored,
               mean,
               mean / std::log(2.0));
    return ModelScoreResult{static_cast<std::int64_t>(regions.size()), n_scored, mean};
}

}  // namespace evoscope::pipelines
