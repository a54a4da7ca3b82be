// `evoscope sae eval`: reconstruction and sparsity metrics of an SAE on held-out activations,
// the feature-density histogram, and (with a model) loss recovered: next-base cross-entropy with
// the SAE reconstruction spliced in at its site, against the clean model and zero-ablation:
//   loss recovered = (CE_zero - CE_sae) / (CE_zero - CE_clean)   (SAELens evals, §3.2 of
//   the methods notes).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "core/strings.hpp"
#include "pipelines/torch/model_rows.hpp"
#include "pipelines/torch/model_rows_impl.hpp"
#include "pipelines/torch/sae_common.hpp"
#include "pipelines/torch/stages.hpp"
#include "sae/metrics.hpp"
#include "sae/sae.hpp"
#include "store/row_source.hpp"

namespace evoscope::pipelines {
namespace {

namespace fs = std::filesystem;

/// "B:E", "B:", ":E" -> [begin, end) clamped to n.
std::pair<std::int64_t, std::int64_t> parse_rows(const std::string& spec, std::int64_t n) {
    if (spec.empty())
        return {0, n};
    const auto colon = spec.find(':');
    EVOSCOPE_CHECK_USAGE(
        colon != std::string::npos, "--rows {}: expected B:E (either side may be empty)", spec);
    auto num = [&](const std::string& s, std::int64_t dflt) -> std::int64_t {
        if (s.empty())
            return dflt;
        try {
            return parse_int64_commas(s, "--rows");
        } catch (const std::exception&) {
            throw UsageError(fmt::format("--rows {}: '{}' is not a number", spec, s));
        }
    };
    const std::int64_t b = num(spec.substr(0, colon), 0);
    const std::int64_t e = num(spec.substr(colon + 1), n);
    EVOSCOPE_CHECK_USAGE(
        b >= 0 && b < e && e <= n, "--rows {}: outside the {} rows of the input", spec, n);
    return {b, e};
}

/// Mean next-base cross-entropy (nats) of logits [B, L, V] against ids [B, L].
std::pair<double, std::int64_t> cross_entropy(const at::Tensor& logits, const at::Tensor& ids) {
    const auto L = ids.size(1);
    if (L < 2)
        return {0.0, 0};
    const auto lp = at::log_softmax(logits.slice(1, 0, L - 1).to(at::kDouble), -1);
    const auto target = ids.slice(1, 1, L).to(at::kLong).unsqueeze(-1);
    const auto nll = -lp.gather(-1, target).squeeze(-1);
    return {nll.sum().item<double>(), nll.numel()};
}

}  // namespace

SaeEvalResult run_sae_eval(const SaeEvalOptions& config) {
    torch::NoGradGuard no_grad;
    const ActivationInput input = open_activation_input(config.input, 4);
    const std::int64_t d_in = input.rows->d();
    const sae::Sae sae = open_sae(config.sae, config.k, config.input.device, d_in, input.hook_name);
    const auto& sc = sae.config();
    EVOSCOPE_CHECK_USAGE(!config.loss_recovered || input.model_rows,
                         "--loss-recovered needs the model: -m MODEL --layer SITE -f FASTA");
    const fs::path out_dir = config.output_dir;
    EVOSCOPE_CHECK(config.force || !fs::exists(out_dir / "metrics.tsv"),
                   "'{}' exists (use --force)",
                   (out_dir / "metrics.tsv").string());
    create_output_dir(out_dir);

    const auto [r0, r_end] = parse_rows(config.rows, input.rows->n_rows());
    const std::int64_t r1 = std::min(r_end, r0 + config.max_rows);
    EVOSCOPE_LOG_INFO("sae eval: {} SAE {} -> {} on rows [{}, {}) of {}",
                      sae::arch_name(sc.arch),
                      sc.d_in,
                      sc.d_sae,
                      r0,
                      r1,
                      input.rows->describe());
    sae::MetricsAccumulator acc(d_in, sc.d_sae);
    std::vector<float> buf;
    for (std::int64_t r = r0; r < r1; r += config.batch) {
        const std::int64_t q = std::min(r1, r + config.batch);
        buf.resize(static_cast<std::size_t>((q - r) * d_in));
        input.rows->read_rows(r, q - r, buf);
        acc.add(sae,
                at::from_blob(buf.data(), {q - r, d_in}, at::kFloat),
                sae::EncodeMode::Default,
                config.k);
    }
    const sae::SaeMetrics m = acc.finish();
    std::string tsv = sae::metrics_tsv(m);

    if (config.loss_recovered) {
        // Windows whose rows were evaluated (all of them when --rows is not given).
        auto& impl = input.model_rows->impl();
        const std::int64_t w_begin = impl.window_of(r0);
        const std::int64_t w_end = impl.window_of(r1 - 1) + 1;
        double clean = 0, spliced = 0, zero = 0;
        std::int64_t n = 0;
        for (std::int64_t w = w_begin; w < w_end;) {
            const std::int64_t w1 = std::min(w_end, impl.batch_end(w));
            const at::Tensor ids = impl.ids_of(w, w1);
            const auto c = cross_entropy(impl.model.logits(ids), ids);
            const auto s =
                cross_entropy(impl.model.logits_with_replacement(
                                  ids,
                                  impl.site,
                                  [&](const at::Tensor& a) {
                                      const auto flat = a.reshape({-1, d_in});
                                      return sae.reconstruct(flat, sae::EncodeMode::Default)
                                          .to(at::kCPU)
                                          .reshape(a.sizes());
                                  }),
                              ids);
            const auto z = cross_entropy(
                impl.model.logits_with_replacement(
                    ids, impl.site, [](const at::Tensor& a) { return at::zeros_like(a); }),
                ids);
            clean += c.first;
            spliced += s.first;
            zero += z.first;
            n += c.second;
            w = w1;
        }
        EVOSCOPE_CHECK(n > 0, "--loss-recovered: the windows have no predicted positions");
        const double ce_clean = clean / static_cast<double>(n);
        const double ce_sae = spliced / static_cast<double>(n);
        const double ce_zero = zero / static_cast<double>(n);
        const double recovered = (ce_zero - ce_sae) / (ce_zero - ce_clean);
        tsv += fmt::format(
            "ce_clean\t{:.6f}\nce_sae\t{:.6f}\nce_zero_ablation\t{:.6f}\nloss_recovered\t{:.6f}\n"
            "ce_positions\t{}\n",
            ce_clean,
            ce_sae,
            ce_zero,
            recovered,
            n);
        EVOSCOPE_LOG_INFO(
            "cross-entropy (nats/base): clean {:.4f}, SAE spliced {:.4f}, zero-ablated {:.4f}: "
            "loss "
            "recovered {:.4f}",
            ce_clean,
            ce_sae,
            ce_zero,
            recovered);
    }
    write_file_atomic(out_dir / "metrics.tsv", tsv);
    write_file_atomic(out_dir / "feature_density.tsv", sae::density_histogram_tsv(m));
    write_file_atomic(
        out_dir / "feature_density.svg",
        sae::density_histogram_svg(m, fmt::format("feature density: {}", config.sae)));
    fmt::print(stderr,
               "[I::sae-eval] {} rows: explained variance {:.4f}, NMSE {:.4f}, L0 {:.2f}, cosine "
               "{:.4f}, dead {:.4f}, "
               "dense {:.4f}; wrote {}\n",
               m.n_rows,
               m.explained_variance,
               m.nmse,
               m.l0,
               m.cosine,
               m.dead_fraction,
               m.dense_fraction,
               (out_dir / "metrics.tsv").string());
    return SaeEvalResult{m.n_rows, m.explained_variance, m.l0, out_dir / "metrics.tsv"};
}

}  // namespace evoscope::pipelines
