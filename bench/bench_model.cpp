// CPU forward-pass throughput of the Evo 2 model against this machine's libtorch matmul speed.
//
//   build/release/bench/evoscope_bench_model [--threads N] [--length L] [--layers PATTERN]
//
// Model: 1B-shaped blocks (d_model 1920, 15 heads of 128, hcs/hcm groups 128, inner 5120,
// state 16; spec §1.1), one block of each type (pattern SDH*), random weights, fp32, B = 1,
// L = 8192 by default. Prints tokens/s, the peak RSS growth during the forward pass, the
// 4096^3 fp32 matmul throughput measured in the same run, and model FLOP utilisation =
// counted model FLOPs / forward time / matmul FLOP/s. Counted FLOPs (multiply-add = 2):
//   GEMMs: Hyena projections 2*L*D*3D, Wqkv 2*L*D*3D, out projections 2*L*D*D, MLP 3*2*L*D*I,
//          tied unembedding 2*L*D*V;
//   attention: causal QK^T and AV, 2*L*L*D in total (half of the dense 4*L*L*D);
//   FFT convolutions (HCM, HCL): per channel 3 real FFTs of n = 2L at 2.5*n*log2(n) each plus
//          the complex product (6 per bin); HCL filter generation 2*S*L per channel;
//   short filters: featurizer 2*3*3D*L, HCS 2*7*D*L.
// Elementwise work (norms, gates, residuals, rotary, softmax) is not counted.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <torch/torch.h>

#include "core/run_info.hpp"
#include "model/config.hpp"
#include "model/evo2_model.hpp"
#include "model/torch_info.hpp"

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Resets the kernel's peak-RSS counter (Linux >= 4.0) so VmHWM measures what follows.
void reset_peak_rss() {
    std::ofstream("/proc/self/clear_refs") << "5";
}

// VmHWM of /proc/self/status in bytes (getrusage's maxrss is not reset by clear_refs).
double vm_hwm_bytes() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmHWM:", 0) == 0) {
            return std::stod(line.substr(6)) * 1024.0;
        }
    }
    return static_cast<double>(evoscope::peak_rss_bytes());
}

double matmul_gflops(std::int64_t n) {
    const at::Tensor a = at::randn({n, n});
    const at::Tensor b = at::randn({n, n});
    at::Tensor c = at::matmul(a, b);  // warm-up
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
        const double t0 = now_s();
        c = at::matmul(a, b);
        best = std::min(best, now_s() - t0);
    }
    return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / best /
           1e9;
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 0;
    std::int64_t L = 8192;
    std::string pattern = "SDH*";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string arg = argv[i];
        if (arg == "--threads") {
            threads = std::stoi(argv[i + 1]);
        } else if (arg == "--length") {
            L = std::stoll(argv[i + 1]);
        } else if (arg == "--layers") {
            pattern = argv[i + 1];
        } else {
            fmt::print(stderr, "usage: {} [--threads N] [--length L] [--layers SDH*]\n", argv[0]);
            return 2;
        }
    }
    evoscope::model::set_num_threads(threads);
    torch::NoGradGuard no_grad;

    evoscope::model::ModelConfig c;
    c.model_name = "bench-1b-shaped";
    c.hidden_size = c.num_filters = c.hcl_filter_groups = 1920;
    c.num_attention_heads = 15;
    c.hcm_filter_groups = c.hcs_filter_groups = 128;
    c.inner_mlp_size = 5120;
    c.num_layers = static_cast<std::int64_t>(pattern.size());
    for (std::int64_t i = 0; i < c.num_layers; ++i) {
        switch (pattern[static_cast<std::size_t>(i)]) {
            case 'S':
                c.hcs_layer_idxs.push_back(i);
                break;
            case 'D':
                c.hcm_layer_idxs.push_back(i);
                break;
            case 'H':
                c.hcl_layer_idxs.push_back(i);
                break;
            default:
                c.attn_layer_idxs.push_back(i);
                break;
        }
    }
    const double D = 1920, I = 5120, V = 512, S = 16, Ld = static_cast<double>(L);
    const double n_fft = 2.0 * Ld;
    const double fft_conv = D * (3.0 * 2.5 * n_fft * std::log2(n_fft) + 6.0 * (Ld + 1.0));
    double flops = 2.0 * Ld * D * V;  // unembedding
    for (const char kind : pattern) {
        flops += 2.0 * Ld * D * 3.0 * D + 2.0 * Ld * D * D + 3.0 * 2.0 * Ld * D * I;
        if (kind == '*') {
            flops += 2.0 * Ld * Ld * D;
        } else {
            flops += 2.0 * 3.0 * 3.0 * D * Ld;
            if (kind == 'S')
                flops += 2.0 * 7.0 * D * Ld;
            if (kind == 'D')
                flops += fft_conv;
            if (kind == 'H')
                flops += fft_conv + 2.0 * S * Ld * D;
        }
    }

    fmt::print("evoscope model benchmark: libtorch {}, {} threads\n",
               evoscope::model::torch_version(),
               at::get_num_threads());
    const double gflops = matmul_gflops(4096);
    fmt::print("matmul 4096x4096x4096 fp32: {:.1f} GFLOP/s (best of 3)\n", gflops);

    double t0 = now_s();
    const auto model = evoscope::model::Evo2Model::init_random(c, 1, "cpu");
    fmt::print(
        "model {} (d_model 1920, 15 heads, groups 128, inner 5120): {:.1f} M params, init {:.1f} "
        "s\n",
        c.pattern(),
        static_cast<double>(model.n_params()) / 1e6,
        now_s() - t0);

    const at::Tensor warm = at::full({1, 256}, 65, at::kLong);
    model.logits(warm);
    const at::Tensor ids = at::randint(60, 90, {1, L}, at::kLong);
    const double rss_before = vm_hwm_bytes();
    reset_peak_rss();
    t0 = now_s();
    const at::Tensor logits = model.logits(ids);
    const double seconds = now_s() - t0;
    const double peak = vm_hwm_bytes();
    fmt::print("forward B=1 L={} fp32: {:.2f} s, {:.0f} tokens/s, logits finite: {}\n",
               L,
               seconds,
               Ld / seconds,
               logits.isfinite().all().item<bool>());
    fmt::print(
        "peak RSS: {:.2f} GB during the forward (peak before it, weights and setup: {:.2f} GB)\n",
        peak / 1e9,
        rss_before / 1e9);
    fmt::print(
        "counted model FLOPs: {:.1f} GFLOP -> {:.1f} GFLOP/s, model FLOP utilisation {:.1f}% of "
        "matmul\n",
        flops / 1e9,
        flops / seconds / 1e9,
        100.0 * flops / seconds / 1e9 / gflops);
    return 0;
}
