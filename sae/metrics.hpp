/// @file
/// SAE evaluation metrics, accumulated over batches of held-out rows (definitions as in SAELens
/// `evals.py` and Gao et al. 2024), all in the raw activation space:
///   explained variance  1 - Σ||x - x̂||² / Σ||x - x̄||²   (x̄: mean over all rows seen)
///   normalised MSE      Σ||x - x̂||² / Σ||x||²
///   L0                  mean number of active latents per row
///   cosine              mean cos(x, x̂);  l2 ratio: mean ||x̂|| / ||x||
///   dead fraction       latents that never fire on the rows seen
///   dense fraction      latents firing on more than `dense_threshold` of the rows (default 0.1)
///   feature density     per-latent firing frequency; histogram of log10(frequency)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "sae/sae.hpp"

namespace evoscope::sae {

struct SaeMetrics {
    std::int64_t n_rows = 0;
    double explained_variance = 0;
    double nmse = 0;
    double mse = 0;  ///< mean over rows of ||x - x̂||²
    double l0 = 0;
    double cosine = 0;
    double l2_ratio = 0;
    double dead_fraction = 0;
    double dense_fraction = 0;
    std::vector<std::int64_t> fire_counts;  ///< per latent: rows on which it fired
};

class MetricsAccumulator {
public:
    explicit MetricsAccumulator(std::int64_t d_in,
                                std::int64_t d_sae,
                                double dense_threshold = 0.1);
    /// Adds raw rows `x` [B, d_in], their reconstruction `xhat` and the codes.
    void add(const at::Tensor& x, const at::Tensor& xhat, const SparseCodes& codes);
    /// Encodes, reconstructs and adds `x` with `sae`.
    void add(const Sae& sae,
             const at::Tensor& x,
             EncodeMode mode = EncodeMode::Default,
             std::int64_t k_override = 0);
    SaeMetrics finish() const;

private:
    std::int64_t d_in_, d_sae_;
    double dense_threshold_;
    std::int64_t n_ = 0;
    std::vector<double> sum_x_;
    double sum_sq_x_ = 0, sum_sq_err_ = 0, sum_cos_ = 0, sum_ratio_ = 0, sum_l0_ = 0;
    std::vector<std::int64_t> fires_;
};

/// One line per metric: "metric\tvalue".
std::string metrics_tsv(const SaeMetrics& m);
/// log10 firing-frequency histogram: bins of width 0.25 from -8 to 0, plus a "never" row.
/// Columns: log10_freq_lo, log10_freq_hi, latents.
std::string density_histogram_tsv(const SaeMetrics& m);
/// The same histogram as a small standalone SVG bar chart.
std::string density_histogram_svg(const SaeMetrics& m, const std::string& title);

}  // namespace evoscope::sae
