#include "sae/metrics.hpp"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include "core/check.hpp"

namespace evoscope::sae {
namespace {

constexpr double kBinLo = -8.0;
constexpr double kBinWidth = 0.25;
constexpr int kBins = 32;  // -8 .. 0

/// Histogram counts: [0] = never fired, [1 + b] = bin b.
std::vector<std::int64_t> histogram(const SaeMetrics& m) {
    std::vector<std::int64_t> h(kBins + 1, 0);
    for (const auto c : m.fire_counts) {
        if (c == 0 || m.n_rows == 0) {
            ++h[0];
            continue;
        }
        const double lf = std::log10(static_cast<double>(c) / static_cast<double>(m.n_rows));
        const int b =
            std::clamp(static_cast<int>(std::floor((lf - kBinLo) / kBinWidth)), 0, kBins - 1);
        ++h[static_cast<std::size_t>(1 + b)];
    }
    return h;
}

}  // namespace

MetricsAccumulator::MetricsAccumulator(std::int64_t d_in,
                                       std::int64_t d_sae,
                                       double dense_threshold)
    : d_in_(d_in),
      d_sae_(d_sae),
      dense_threshold_(dense_threshold),
      sum_x_(static_cast<std::size_t>(d_in), 0.0),
      fires_(static_cast<std::size_t>(d_sae), 0) {}

void MetricsAccumulator::add(const at::Tensor& x_in,
                             const at::Tensor& xhat_in,
                             const SparseCodes& codes) {
    torch::NoGradGuard no_grad;
    const auto x = x_in.to(at::kCPU, at::kDouble);
    const auto xhat = xhat_in.to(at::kCPU, at::kDouble);
    EVOSCOPE_CHECK(x.dim() == 2 && x.size(1) == d_in_ && xhat.sizes() == x.sizes(),
                   "metrics: rows and reconstruction must both be [N, {}]",
                   d_in_);
    const std::int64_t B = x.size(0);
    const auto sx = x.sum(0).contiguous();
    const double* p = sx.data_ptr<double>();
    for (std::int64_t j = 0; j < d_in_; ++j) {
        sum_x_[static_cast<std::size_t>(j)] += p[j];
    }
    const auto nx = x.norm(2, {1});
    const auto nh = xhat.norm(2, {1});
    sum_sq_x_ += x.pow(2).sum().item<double>();
    sum_sq_err_ += (x - xhat).pow(2).sum().item<double>();
    sum_cos_ += ((x * xhat).sum(1) / (nx * nh).clamp_min(1e-30)).sum().item<double>();
    sum_ratio_ += (nh / nx.clamp_min(1e-30)).sum().item<double>();
    // Latents fired per row: count each (row, latent) once.
    const auto ids = codes.ids.to(at::kCPU).contiguous();
    const auto vals = codes.values.to(at::kCPU, at::kFloat).contiguous();
    const auto* id = ids.data_ptr<std::int64_t>();
    const auto* v = vals.data_ptr<float>();
    std::int64_t active = 0;
    for (std::int64_t m = 0; m < ids.size(0); ++m) {
        if (v[m] != 0.0f) {
            ++fires_[static_cast<std::size_t>(id[m])];
            ++active;
        }
    }
    sum_l0_ += static_cast<double>(active);
    n_ += B;
}

void MetricsAccumulator::add(const Sae& sae,
                             const at::Tensor& x,
                             EncodeMode mode,
                             std::int64_t k_override) {
    const auto codes = sae.encode(x, mode, k_override);
    add(x, sae.decode(codes), codes);
}

SaeMetrics MetricsAccumulator::finish() const {
    SaeMetrics m;
    m.n_rows = n_;
    m.fire_counts = fires_;
    if (n_ == 0) {
        return m;
    }
    const double n = static_cast<double>(n_);
    double mean_sq = 0;
    for (const double s : sum_x_) {
        mean_sq += (s / n) * (s / n);
    }
    const double total_var = sum_sq_x_ - n * mean_sq;  // Σ||x - x̄||²
    m.explained_variance = total_var > 0 ? 1.0 - sum_sq_err_ / total_var : 0.0;
    m.nmse = sum_sq_x_ > 0 ? sum_sq_err_ / sum_sq_x_ : 0.0;
    m.mse = sum_sq_err_ / n;
    m.l0 = sum_l0_ / n;
    m.cosine = sum_cos_ / n;
    m.l2_ratio = sum_ratio_ / n;
    std::int64_t dead = 0, dense = 0;
    for (const auto c : fires_) {
        dead += c == 0 ? 1 : 0;
        dense += static_cast<double>(c) / n > dense_threshold_ ? 1 : 0;
    }
    m.dead_fraction = static_cast<double>(dead) / static_cast<double>(d_sae_);
    m.dense_fraction = static_cast<double>(dense) / static_cast<double>(d_sae_);
    return m;
}

std::string metrics_tsv(const SaeMetrics& m) {
    std::string s = "metric\tvalue\n";
    s += fmt::format("rows\t{}\n", m.n_rows);
    s += fmt::format("explained_variance\t{:.6f}\n", m.explained_variance);
    s += fmt::format("nmse\t{:.6f}\n", m.nmse);
    s += fmt::format("mse\t{:.6g}\n", m.mse);
    s += fmt::format("l0\t{:.4f}\n", m.l0);
    s += fmt::format("cosine\t{:.6f}\n", m.cosine);
    s += fmt::format("l2_ratio\t{:.6f}\n", m.l2_ratio);
    s += fmt::format("dead_fraction\t{:.6f}\n", m.dead_fraction);
    s += fmt::format("dense_fraction\t{:.6f}\n", m.dense_fraction);
    return s;
}

std::string density_histogram_tsv(const SaeMetrics& m) {
    const auto h = histogram(m);
    std::string s = "log10_freq_lo\tlog10_freq_hi\tlatents\n";
    s += fmt::format("never\tnever\t{}\n", h[0]);
    for (int b = 0; b < kBins; ++b) {
        s += fmt::format("{:.2f}\t{:.2f}\t{}\n",
                         kBinLo + b * kBinWidth,
                         kBinLo + (b + 1) * kBinWidth,
                         h[static_cast<std::size_t>(1 + b)]);
    }
    return s;
}

std::string density_histogram_svg(const SaeMetrics& m, const std::string& title) {
    const auto h = histogram(m);
    const std::int64_t top = std::max<std::int64_t>(1, *std::max_element(h.begin(), h.end()));
    const double W = 640, H = 320, L = 60, R = 20, T = 30, Bm = 50;
    const double bw = (W - L - R) / (kBins + 2);  // one slot for "never", one gap
    std::string s = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
        "font-family=\"sans-serif\" "
        "font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        "<text x=\"{}\" y=\"18\" font-size=\"13\">{}</text>\n",
        W,
        H,
        L,
        title);
    auto bar = [&](double x, std::int64_t count, const char* colour) {
        const double bh = (H - T - Bm) * static_cast<double>(count) / static_cast<double>(top);
        s += fmt::format(
            "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>\n",
            x,
            H - Bm - bh,
            bw * 0.9,
            bh,
            colour);
    };
    bar(L, h[0], "#999999");
    for (int b = 0; b < kBins; ++b) {
        bar(L + bw * (b + 2), h[static_cast<std::size_t>(1 + b)], "#1f77b4");
    }
    s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n",
                     L,
                     H - Bm,
                     W - R,
                     H - Bm);
    s += fmt::format("<text x=\"{}\" y=\"{}\">never</text>\n", L, H - Bm + 14);
    for (int e = -8; e <= 0; e += 2) {
        const double x = L + bw * (2 + (e - kBinLo) / kBinWidth);
        s += fmt::format(
            "<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">1e{}</text>\n", x, H - Bm + 14, e);
    }
    s += fmt::format(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">firing frequency (log10), {} rows</text>\n",
        (L + W - R) / 2,
        H - 12,
        m.n_rows);
    s += fmt::format(
        "<text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">latents "
        "(max {})</text>\n",
        (T + H - Bm) / 2,
        (T + H - Bm) / 2,
        top);
    s += "</svg>\n";
    return s;
}

}  // namespace evoscope::sae
