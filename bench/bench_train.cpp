// CPU training throughput of `evoscope model train`'s step (forward + backward + AdamW) for a
// candidate shipped configuration.
//
//   build/release/bench/evoscope_bench_train [--threads N] [--window W] [--batch B] [--steps S]
//                                            [--hidden D] [--inner I] [--layers PATTERN]
//
// Default model: d_model 128, 8 blocks SDH*SDH* (every block type), 4 heads of 32, HCS/HCM
// groups 16, inner MLP 344, state 16, random weights, fp32; windows of 1024 predicted bases,
// batch 8, random DNA. Prints training tokens/s (predicted tokens per second of optimizer steps,
// one warm-up step excluded), seconds per step and the peak RSS.
#include <chrono>
#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <torch/torch.h>

#include "core/run_info.hpp"
#include "model/config.hpp"
#include "model/evo2_model.hpp"
#include "model/torch_info.hpp"
#include "model/trainer.hpp"

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

evoscope::model::ModelConfig candidate(std::int64_t d,
                                       std::int64_t inner,
                                       const std::string& pattern) {
    evoscope::model::ModelConfig c;
    c.model_name = "evoscope-bench-train";
    c.hidden_size = d;
    c.num_filters = d;
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
    c.hcm_filter_length = 128;
    c.hcl_filter_groups = d;
    c.hcm_filter_groups = 16;
    c.hcs_filter_groups = 16;
    c.hcs_filter_length = 7;
    c.short_filter_length = 3;
    c.num_attention_heads = d / 32;
    c.state_size = 16;
    c.inner_mlp_size = inner;
    c.max_seqlen = 8192;
    c.validate();
    return c;
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 0;
    std::int64_t window = 1024;
    std::int64_t batch = 8;
    std::int64_t steps = 5;
    std::int64_t d = 128;
    std::int64_t inner = 344;
    std::string pattern = "SDH*SDH*";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        const std::string v = argv[i + 1];
        if (a == "--threads")
            threads = std::stoi(v);
        else if (a == "--window")
            window = std::stoll(v);
        else if (a == "--batch")
            batch = std::stoll(v);
        else if (a == "--steps")
            steps = std::stoll(v);
        else if (a == "--hidden")
            d = std::stoll(v);
        else if (a == "--inner")
            inner = std::stoll(v);
        else if (a == "--layers")
            pattern = v;
        else {
            fmt::print(stderr, "unknown option {}\n", a);
            return 2;
        }
    }
    evoscope::model::set_num_threads(threads);
    auto model = evoscope::model::Evo2Model::init_random(candidate(d, inner, pattern), 1, "cpu");
    evoscope::model::TrainConfig tc;
    tc.warmup_steps = 1;
    tc.total_steps = steps + 1;
    evoscope::model::Trainer trainer(model, tc);
    const at::Tensor letters = torch::tensor({65, 67, 71, 84}, at::kLong);
    auto batch_ids = [&] {
        return letters.index({at::randint(0, 4, {batch, window + 1}, at::kLong)});
    };
    trainer.step(batch_ids());  // warm-up
    const double t0 = now_s();
    double loss = 0;
    for (std::int64_t s = 0; s < steps; ++s) {
        loss = trainer.step(batch_ids()).loss;
    }
    const double dt = now_s() - t0;
    const double tokens = static_cast<double>(steps * batch * window);
    fmt::print(
        "model: d_model {}, pattern {}, inner {}, {} parameters; window {}, batch {}, threads {}\n",
        d,
        pattern,
        inner,
        model.n_params(),
        window,
        batch,
        at::get_num_threads());
    fmt::print(
        "training: {:.0f} tokens/s ({:.3f} s per step of {} tokens, {} steps, last loss {:.3f})\n",
        tokens / dt,
        dt / static_cast<double>(steps),
        batch * window,
        steps,
        loss);
    fmt::print("peak RSS: {:.2f} GB\n", static_cast<double>(evoscope::peak_rss_bytes()) / 1e9);
    return 0;
}
