// `evoscope score`: teacher-forced next-base log-probabilities of regions.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <memory>

#include "core/check.hpp"
#include "core/log.hpp"
#include "formats/npy.hpp"
#include "core/output_file.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"
#include "genomics/sequence.hpp"
#include "model/tokenizer.hpp"
#include "pipelines/torch_commands.hpp"
#include "pipelines/torch_model_source.hpp"

namespace evoscope::pipelines {

int run_score(const ScoreConfig& config) {
    apply_common_options(config.common);
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
    EVOSCOPE_CHECK_USAGE(!regions.empty(), "score needs regions: give -r REGION or -R regions.bed");
    EVOSCOPE_CHECK_USAGE(config.logits_npy.empty() || regions.size() == 1,
                         "--logits writes one region's logits; {} regions were given", regions.size());
    for (const auto* out : {&config.logits_npy, &config.per_base_tsv}) {
        EVOSCOPE_CHECK(out->empty() || *out == "-" || config.force || !std::filesystem::exists(*out),
                       "output '{}' exists (use --force to overwrite)", *out);
    }

    const auto model = open_model(config.model);
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
        EVOSCOPE_CHECK(ids.size() >= 2, "region {} is too short to score", genomics::format_region_1b(region));
        const auto n = static_cast<std::int64_t>(ids.size());
        const at::Tensor input = at::from_blob(ids.data(), {1, n}, at::kInt).to(at::kLong);
        const at::Tensor logits = model.logits(input)[0];  // [n, vocab] float32 CPU
        const at::Tensor logp = at::log_softmax(logits, -1);
        // logprob of token t given tokens < t: row t-1, column ids[t] (evo2 scoring.py)
        const at::Tensor targets = input[0].slice(0, 1, n);
        const at::Tensor lp = logp.slice(0, 0, n - 1).gather(1, targets.unsqueeze(1)).squeeze(1).contiguous();
        const float* lp_data = lp.data_ptr<float>();
        const std::int64_t first_base = config.prepend_eod ? 1 : 0;  // index of the region's first base in ids
        if (per_base) {
            for (std::int64_t t = first_base; t < n; ++t) {
                const std::int64_t base_index = t - first_base;
                const std::string value = t == 0 ? std::string("NA") : fmt::format("{:.6f}", lp_data[t - 1]);
                line = fmt::format("{}\t{}\t{}\t{}\n", region.contig, region.begin + base_index + 1,
                                   seq[static_cast<std::size_t>(base_index)], value);
                per_base->write(line);
            }
        }
        double region_nll = 0.0;
        for (std::int64_t i = 0; i < n - 1; ++i) {
            region_nll -= static_cast<double>(lp_data[i]);
        }
        total_nll += region_nll;
        n_scored += n - 1;
        EVOSCOPE_LOG_INFO("{}: {} bases scored, loss {:.4f} nats, {:.4f} bits per base",
                          genomics::format_region_1b(region), n - 1, region_nll / static_cast<double>(n - 1),
                          region_nll / static_cast<double>(n - 1) / std::log(2.0));
        if (!config.logits_npy.empty()) {
            // Logits of the region's own bases (the EOD row, if prepended, is dropped).
            const at::Tensor rows = logits.slice(0, first_base, n).contiguous();
            NpyWriter npy(config.logits_npy, NpyDtype::Float32, {rows.size(0), rows.size(1)});
            npy.write_values(std::span<const float>(rows.data_ptr<float>(), static_cast<std::size_t>(rows.numel())));
            npy.commit();
        }
    }
    if (per_base) {
        per_base->commit();
    }
    const double mean = total_nll / static_cast<double>(n_scored);
    fmt::print(stderr, "[I::score] {} region(s), {} bases scored: mean loss {:.4f} nats, {:.4f} bits per base\n",
               regions.size(), n_scored, mean, mean / std::log(2.0));
    return kExitOk;
}

}  // namespace evoscope::pipelines
