// SAE throughput on the CPU: training steps (sparse and dense decoder paths) and encoding, for
// d_in 512, d_sae 4096, k 32 by default, next to a libtorch matmul measured in the same run.
//
//   build/release/bench/evoscope_bench_sae [--threads N] [--d-in D] [--d-sae N] [--k K]
//                                          [--batch B] [--steps S] [--arch topk|batchtopk]
//                                          [--aux-coeff A (0: no AuxK)]
//
// Prints tokens/s for training (sparse path, dense path and their ratio) and encoding, the
// GFLOP/s of a [B, d_in] x [d_in, d_sae] matmul (the encoder's dense GEMM, the floor of every
// path), and the peak RSS. Data: Gaussian rows (throughput does not depend on the values).
#include <chrono>
#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <torch/torch.h>

#include "core/run_info.hpp"
#include "model/torch_info.hpp"
#include "sae/sae.hpp"
#include "sae/sae_trainer.hpp"

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

int main(int argc, char** argv) {
    using namespace evoscope;
    int threads = 0;
    std::int64_t d_in = 512, d_sae = 4096, k = 32, batch = 4096, steps = 20;
    std::string arch = "topk";
    double aux_coeff = 1.0 / 32.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        const std::string v = argv[i + 1];
        if (a == "--threads")
            threads = std::stoi(v);
        else if (a == "--d-in")
            d_in = std::stoll(v);
        else if (a == "--d-sae")
            d_sae = std::stoll(v);
        else if (a == "--k")
            k = std::stoll(v);
        else if (a == "--batch")
            batch = std::stoll(v);
        else if (a == "--steps")
            steps = std::stoll(v);
        else if (a == "--arch")
            arch = v;
        else if (a == "--aux-coeff")
            aux_coeff = std::stod(v);
        else {
            fmt::print(stderr, "unknown option {}\n", a);
            return 2;
        }
    }
    model::set_num_threads(threads);
    torch::NoGradGuard no_grad;
    fmt::print("SAE {} d_in {} d_sae {} k {}, batch {} tokens, {} steps, {} threads, {}\n",
               arch,
               d_in,
               d_sae,
               k,
               batch,
               steps,
               at::get_num_threads(),
               "libtorch " + model::torch_version());

    const at::Tensor x = at::randn({batch, d_in});
    // Matmul reference: the encoder GEMM.
    {
        const at::Tensor w = at::randn({d_in, d_sae});
        at::mm(x, w);
        const double t0 = now_s();
        const int reps = 5;
        for (int i = 0; i < reps; ++i)
            at::mm(x, w);
        const double dt = (now_s() - t0) / reps;
        fmt::print("matmul [{} x {}] x [{} x {}]: {:.1f} ms, {:.1f} GFLOP/s\n",
                   batch,
                   d_in,
                   d_in,
                   d_sae,
                   dt * 1e3,
                   2.0 * static_cast<double>(batch * d_in * d_sae) / dt / 1e9);
    }
    sae::SaeConfig c;
    c.d_in = d_in;
    c.d_sae = d_sae;
    c.k = k;
    c.arch = sae::parse_arch(arch);
    double tok_s[2] = {0, 0};
    for (const auto path : {sae::DecoderPath::Sparse, sae::DecoderPath::Dense}) {
        sae::Sae s = sae::Sae::init(c, 1, "cpu", 1.0);
        sae::SaeTrainOptions o;
        o.total_steps = steps + 1;
        o.decoder = path;
        o.dead_tokens = batch * 2;  // AuxK active after two steps: the realistic cost
        o.aux_coeff = aux_coeff;
        sae::SaeTrainer trainer(s, o);
        trainer.step(x);  // warm-up
        const double t0 = now_s();
        for (std::int64_t i = 0; i < steps; ++i)
            trainer.step(x);
        const double dt = now_s() - t0;
        const int p = path == sae::DecoderPath::Sparse ? 0 : 1;
        tok_s[p] = static_cast<double>(steps * batch) / dt;
        fmt::print("train ({} path): {:.1f} ms/step, {:.0f} tokens/s\n",
                   p == 0 ? "sparse" : "dense",
                   dt / static_cast<double>(steps) * 1e3,
                   tok_s[p]);
    }
    fmt::print("sparse / dense training speed: {:.2f}x\n", tok_s[0] / tok_s[1]);
    {
        sae::Sae s = sae::Sae::init(c, 1, "cpu", 1.0);
        if (c.arch == sae::Arch::BatchTopK)
            s.set_threshold(at::full({1}, 0.5));
        s.encode(x);
        const double t0 = now_s();
        for (std::int64_t i = 0; i < steps; ++i)
            s.encode(x);
        const double dt = now_s() - t0;
        fmt::print("encode (sparse codes): {:.0f} tokens/s\n",
                   static_cast<double>(steps * batch) / dt);
    }
    fmt::print("peak RSS {:.2f} GB\n", static_cast<double>(peak_rss_bytes()) / 1e9);
    return 0;
}
