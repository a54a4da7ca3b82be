#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/torch/options.hpp"
#include "pipelines/torch/stages.hpp"

namespace evoscope::cli {

RunFn setup_sae_train(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::SaeTrainOptions>();
    app->footer(
        "Examples:\n"
        "  evoscope sae train --acts acts/blocks.4 --arch batchtopk --d-sae 4096 --k 32 --tokens "
        "20M -o sae/\n"
        "  evoscope sae train -m model.safetensors -l blocks.4 -f genome.fa --arch topk "
        "--expansion 8 --k 32 -o sae/\n"
        "  evoscope sae train --resume sae/\n"
        "Output (SAELens layout): DIR/sae_weights.safetensors (W_enc [d_in, d_sae], W_dec [d_sae, "
        "d_in],\n"
        "b_enc, b_dec, threshold), DIR/cfg.json, DIR/train_log.tsv, DIR/curves.svg, "
        "DIR/checkpoints/step-N/.\n"
        "The input normalisation is folded into the saved weights: they take raw activations.");
    auto* resume =
        app->add_option("--resume",
                        config->resume,
                        "Continue the run in this output folder from its latest checkpoint");
    std::vector<CLI::Option*> opts;
    add_activation_input_options(*app, config->input, true);
    opts.push_back(app->add_option("--arch", config->arch, "topk, batchtopk, relu or jumprelu")
                       ->check(CLI::IsMember({"topk", "batchtopk", "relu", "jumprelu"})));
    opts.push_back(
        app->add_option("--d-sae", config->d_sae, "Number of latents")->check(CLI::PositiveNumber));
    opts.push_back(app->add_option("--expansion", config->expansion, "Or: d_sae = expansion x d_in")
                       ->check(CLI::PositiveNumber));
    opts.push_back(
        app->add_option("-k,--k", config->k, "Active latents per token (topk, batchtopk)")
            ->check(CLI::PositiveNumber));
    opts.push_back(app->add_flag("--tied", config->tied, "One matrix: W_dec = W_enc transposed"));
    opts.push_back(app->add_flag(
        "--no-b-dec-input",
        config->no_b_dec_input,
        "Do not subtract b_dec from the input before encoding (as Goodfire's Evo 2 SAE)"));
    opts.push_back(
        app->add_option("--normalize",
                        config->normalize,
                        "Input normalisation: none, mean (mean-centring), norm (scale to mean norm "
                        "sqrt(d_in)), mean+norm")
            ->check(CLI::IsMember({"none", "mean", "norm", "mean+norm"})));
    opts.push_back(
        app->add_option("--l1", config->l1_coeff, "relu: L1 coefficient (decoder-norm weighted)")
            ->check(CLI::NonNegativeNumber));
    opts.push_back(app->add_option("--l0", config->l0_coeff, "jumprelu: L0 coefficient")
                       ->check(CLI::NonNegativeNumber));
    opts.push_back(app->add_option("--bandwidth",
                                   config->bandwidth,
                                   "jumprelu: straight-through estimator bandwidth")
                       ->check(CLI::PositiveNumber));
    opts.push_back(app->add_option("--init-threshold",
                                   config->jumprelu_init_threshold,
                                   "jumprelu: initial threshold")
                       ->check(CLI::PositiveNumber));
    opts.push_back(
        app->add_option("--aux-k", config->aux_k, "AuxK latents for dead-latent loss (0 = d_in/2)")
            ->check(CLI::NonNegativeNumber));
    opts.push_back(app->add_option("--aux-coeff", config->aux_coeff, "AuxK loss coefficient")
                       ->check(CLI::NonNegativeNumber));
    opts.push_back(
        app->add_option(
               "--dead-tokens",
               config->dead_tokens,
               "A latent is dead after this many tokens without firing (0 = min(10M, tokens/5))")
            ->check(CLI::NonNegativeNumber));
    opts.push_back(app->add_flag(
        "--no-unit-norm",
        config->no_unit_norm,
        "Do not keep decoder rows at unit norm (default for relu: weighted L1 instead)"));
    opts.push_back(app->add_option("--decoder",
                                   config->decoder,
                                   "Decoder path: sparse (gather k rows), dense (matmul), auto")
                       ->check(CLI::IsMember({"auto", "sparse", "dense"})));
    opts.push_back(
        app->add_flag("--geometric-median-init",
                      config->geometric_median_init,
                      "Initialise b_dec at the geometric median of a sample (Gao et al. 2024)"));
    opts.push_back(app->add_option("-b,--batch", config->batch, "Tokens per step")
                       ->check(CLI::PositiveNumber));
    opts.push_back(
        app->add_option("--steps", config->steps, "Optimizer steps")->check(CLI::PositiveNumber));
    opts.push_back(
        app->add_option("--tokens",
                        config->tokens,
                        "Or: training tokens (steps = tokens / batch); k, M and G suffixes (20M)")
            ->transform(CLI::AsSizeValue(true))
            ->check(CLI::PositiveNumber));
    opts.push_back(
        app->add_option("--lr", config->lr, "Adam learning rate (0 = 2e-4 / sqrt(d_sae / 16384))")
            ->check(CLI::PositiveNumber));
    opts.push_back(
        app->add_option("--warmup", config->warmup, "Linear warmup steps (0 = 5% of the steps)")
            ->check(CLI::NonNegativeNumber));
    opts.push_back(app->add_option("--decay-fraction",
                                   config->decay_fraction,
                                   "Linear decay to 0 over this last fraction of the steps")
                       ->check(CLI::Range(0.0, 1.0)));
    opts.push_back(app->add_option("--buffer-rows", config->buffer_rows, "Shuffle buffer rows")
                       ->check(CLI::PositiveNumber));
    opts.push_back(app->add_option("--eval-fraction",
                                   config->eval_fraction,
                                   "Hold out the last fraction of --acts rows for evaluation")
                       ->check(CLI::Range(0.0, 0.9)));
    opts.push_back(app->add_option("--eval-every",
                                   config->eval_every,
                                   "Evaluation interval in steps (0 = steps/10)")
                       ->check(CLI::NonNegativeNumber));
    opts.push_back(app->add_option("--eval-rows", config->eval_rows, "Held-out rows per evaluation")
                       ->check(CLI::PositiveNumber));
    opts.push_back(app->add_option("--checkpoint-every",
                                   config->checkpoint_every,
                                   "Checkpoint interval in steps, 0 = only at the end")
                       ->check(CLI::NonNegativeNumber));
    opts.push_back(
        app->add_option("--seed", config->seed, "Seed of the initial weights and the data order"));
    opts.push_back(app->add_option("-o,--output", config->output_dir, "Output folder"));
    opts.push_back(
        app->add_flag("--force", config->force, "Reuse an existing non-empty output folder"));
    app->add_option("--stop-after",
                    config->stop_after,
                    "Stop after this step with a checkpoint (continue later with --resume)")
        ->check(CLI::NonNegativeNumber);
    exclusive_with_resume(*app, resume, opts);
    return [config] {
        pipelines::run_sae_train(*config);
    };
}

}  // namespace evoscope::cli
