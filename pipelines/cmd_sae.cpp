#include "pipelines/cmd_sae.hpp"

#include <CLI/CLI.hpp>

#include <memory>

namespace evoscope::pipelines {
namespace {

/// --acts, or -m/--layer plus the window-source options (on-the-fly activations).
void add_activation_input_options(CLI::App& app, ActivationInputOptions& o, bool allow_model) {
    app.add_option("--acts", o.acts,
                   "Activations: a store folder written by `evoscope embed` or a .npy [N, d_in] (float32, "
                   "float16, float64, or uint16 read as bfloat16)");
    if (!allow_model) {
        return;
    }
    app.add_option("-m,--model", o.model, "Instead of --acts: run this model (.safetensors) over FASTA windows");
    app.add_option("--model-config", o.model_config, "Model YAML config (default: the one stored in the weights)");
    app.add_option("-l,--layer", o.layer, "Activation site for -m, e.g. blocks.4");
    app.add_option("--device", o.device, "cpu, cuda or cuda:N [cpu]");
    add_window_source_options(app, o.source, false);
}

}  // namespace

std::vector<Command> register_sae_commands(CLI::App& root, const TorchRunners* torch) {
    std::vector<Command> commands;
    {
        auto config = std::make_shared<TrainSaeConfig>();
        auto* app = root.add_subcommand("train-sae", "Train a sparse autoencoder on activations");
        app->footer(
            "Examples:\n"
            "  evoscope train-sae --acts acts/blocks.4 --arch batchtopk --d-sae 4096 --k 32 --tokens 20M -o sae/\n"
            "  evoscope train-sae -m model.safetensors -l blocks.4 -f genome.fa --arch topk --expansion 8 --k 32 -o sae/\n"
            "  evoscope train-sae --resume sae/\n"
            "Output (SAELens layout): DIR/sae_weights.safetensors (W_enc [d_in, d_sae], W_dec [d_sae, d_in],\n"
            "b_enc, b_dec, threshold), DIR/cfg.json, DIR/train_log.tsv, DIR/curves.svg, DIR/checkpoints/step-N/.\n"
            "The input normalisation is folded into the saved weights: they take raw activations.");
        auto* resume = app->add_option("--resume", config->resume,
                                       "Continue the run in this output folder from its latest checkpoint");
        std::vector<CLI::Option*> opts;
        add_activation_input_options(*app, config->input, true);
        opts.push_back(app->add_option("--arch", config->arch, "topk, batchtopk, relu or jumprelu [topk]")
                           ->check(CLI::IsMember({"topk", "batchtopk", "relu", "jumprelu"})));
        opts.push_back(app->add_option("--d-sae", config->d_sae, "Number of latents")->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--expansion", config->expansion, "Or: d_sae = expansion x d_in")
                           ->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("-k,--k", config->k, "Active latents per token (topk, batchtopk) [32]")
                           ->check(CLI::PositiveNumber));
        opts.push_back(app->add_flag("--tied", config->tied, "One matrix: W_dec = W_enc transposed"));
        opts.push_back(app->add_flag("--no-b-dec-input", config->no_b_dec_input,
                                     "Do not subtract b_dec from the input before encoding (as Goodfire's Evo 2 SAE)"));
        opts.push_back(app->add_option("--normalize", config->normalize,
                                       "Input normalisation: none, mean (mean-centring), norm (scale to mean norm "
                                       "sqrt(d_in)), mean+norm [none]")
                           ->check(CLI::IsMember({"none", "mean", "norm", "mean+norm"})));
        opts.push_back(app->add_option("--l1", config->l1_coeff, "relu: L1 coefficient (decoder-norm weighted) [5]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("--l0", config->l0_coeff, "jumprelu: L0 coefficient [1]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("--bandwidth", config->bandwidth,
                                       "jumprelu: straight-through estimator bandwidth [0.001]")
                           ->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--init-threshold", config->jumprelu_init_threshold,
                                       "jumprelu: initial threshold [0.001]")
                           ->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--aux-k", config->aux_k, "AuxK latents for dead-latent loss [d_in/2]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("--aux-coeff", config->aux_coeff, "AuxK loss coefficient [1/32]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("--dead-tokens", config->dead_tokens,
                                       "A latent is dead after this many tokens without firing [min(10M, tokens/5)]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_flag("--no-unit-norm", config->no_unit_norm,
                                     "Do not keep decoder rows at unit norm (default for relu: weighted L1 instead)"));
        opts.push_back(app->add_option("--decoder", config->decoder,
                                       "Decoder path: sparse (gather k rows), dense (matmul), auto [auto]")
                           ->check(CLI::IsMember({"auto", "sparse", "dense"})));
        opts.push_back(app->add_flag("--geometric-median-init", config->geometric_median_init,
                                     "Initialise b_dec at the geometric median of a sample (Gao et al. 2024)"));
        opts.push_back(app->add_option("-b,--batch", config->batch, "Tokens per step [4096]")->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--steps", config->steps, "Optimizer steps")->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--tokens", config->tokens, "Or: training tokens (steps = tokens / batch)")
                           ->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--lr", config->lr, "Adam learning rate [2e-4 / sqrt(d_sae / 16384)]")
                           ->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--warmup", config->warmup, "Linear warmup steps [5% of steps]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("--decay-fraction", config->decay_fraction,
                                       "Linear decay to 0 over this last fraction of the steps [0.2]")
                           ->check(CLI::Range(0.0, 1.0)));
        opts.push_back(app->add_option("--buffer-rows", config->buffer_rows, "Shuffle buffer rows [65536]")
                           ->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--eval-fraction", config->eval_fraction,
                                       "Hold out the last fraction of --acts rows for evaluation [0.05]")
                           ->check(CLI::Range(0.0, 0.9)));
        opts.push_back(app->add_option("--eval-every", config->eval_every, "Evaluation interval in steps [steps/10]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("--eval-rows", config->eval_rows, "Held-out rows per evaluation [65536]")
                           ->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--checkpoint-every", config->checkpoint_every,
                                       "Checkpoint interval in steps, 0 = only at the end [0]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("--seed", config->seed, "Seed of the initial weights and the data order [0]"));
        opts.push_back(app->add_option("-o,--output", config->output_dir, "Output folder"));
        opts.push_back(app->add_flag("--force", config->force, "Reuse an existing non-empty output folder"));
        app->add_option("--stop-after", config->stop_after,
                        "Stop after this step with a checkpoint (continue later with --resume)")
            ->check(CLI::NonNegativeNumber);
        exclusive_with_resume(*app, resume, opts);
        add_common_options(*app, config->common);
        commands.push_back(Command{app, torch_runner(torch, config, &TorchRunners::train_sae), "train-sae"});
    }
    {
        auto config = std::make_shared<EvalSaeConfig>();
        auto* app = root.add_subcommand("eval-sae", "Evaluate a sparse autoencoder on held-out activations");
        app->footer(
            "Examples:\n"
            "  evoscope eval-sae --sae sae/ --acts acts/blocks.4 --rows 950000: -o eval/\n"
            "  evoscope eval-sae --sae sae/ -m model.safetensors -l blocks.4 -f genome.fa -r chr:1-100,000 \\\n"
            "      --loss-recovered -o eval/\n"
            "Output: DIR/metrics.tsv (explained variance, normalised MSE, L0, dead and dense fractions, cosine,\n"
            "and with --loss-recovered the clean, spliced and zero-ablated next-base cross-entropy),\n"
            "DIR/feature_density.tsv and DIR/feature_density.svg (log10 firing frequency per latent).");
        app->add_option("--sae", config->sae,
                        "SAE: a SAELens folder, a Goodfire .pt or a dictionary_learning ae.pt")
            ->required();
        app->add_option("-k,--k", config->k, "k for files that do not store it (Goodfire: from the file name)");
        add_activation_input_options(*app, config->input, true);
        app->add_option("--rows", config->rows, "Rows B:E of --acts (0-based, half-open; either side may be empty)");
        app->add_option("--max-rows", config->max_rows, "At most this many rows [1048576]")
            ->check(CLI::PositiveNumber);
        app->add_flag("--loss-recovered", config->loss_recovered,
                      "Splice the reconstruction into the model at its site and compare next-base cross-entropy "
                      "(needs -m and FASTA input)");
        app->add_option("-b,--batch", config->batch, "Rows per batch [4096]")->check(CLI::PositiveNumber);
        app->add_option("-o,--output", config->output_dir, "Output folder")->required();
        app->add_flag("--force", config->force, "Overwrite existing outputs");
        add_common_options(*app, config->common);
        commands.push_back(Command{app, torch_runner(torch, config, &TorchRunners::eval_sae), "eval-sae"});
    }
    {
        auto config = std::make_shared<EncodeConfig>();
        auto* app = root.add_subcommand("encode", "Write an SAE's feature activations per genomic position");
        app->footer(
            "Examples:\n"
            "  evoscope encode --sae sae/ -m model.safetensors -l blocks.4 -f genome.fa -w 8192 -s 4096 -o features/\n"
            "  evoscope encode --sae sae-layer26-mixed-expansion_8-k_64.pt --k 64 --acts acts/blocks.26 -o features/\n"
            "  evoscope encode --sae sae/ --acts x.npy --npz codes.npz\n"
            "The feature store holds, per position and strand, the nonzero (feature, value) pairs, in compressed\n"
            "chunks indexed by contig and coordinate. Overlapping windows are stitched as in `embed`: on '+' each\n"
            "position comes from the earliest window covering it, on '-' from the latest (the most context);\n"
            "--drop-first N never takes a window's first N positions when another window covers them.");
        app->add_option("--sae", config->sae,
                        "SAE: a SAELens folder, a Goodfire .pt or a dictionary_learning ae.pt")
            ->required();
        app->add_option("-k,--k", config->k, "k for files that do not store it (Goodfire: k 64)");
        app->add_option("--mode", config->mode,
                        "default; threshold (BatchTopK with θ); batchtopk (top k x positions per window, as "
                        "Goodfire's notebook) [default]")
            ->check(CLI::IsMember({"default", "threshold", "batchtopk"}));
        add_activation_input_options(*app, config->input, true);
        app->add_option("--drop-first", config->drop_first,
                        "Drop the first N positions of every window (activation spike, evo2 issue #223) [0]")
            ->check(CLI::NonNegativeNumber);
        app->add_option("-b,--batch", config->batch, "Windows per forward pass [4]")->check(CLI::PositiveNumber);
        app->add_option("-o,--output", config->output_dir, "Output feature store folder");
        app->add_option("--npz", config->npz,
                        "For .npy input: write indices [N, k] int32 and values [N, k] float32 (.npz)");
        app->add_flag("--force", config->force, "Overwrite existing outputs");
        add_common_options(*app, config->common);
        commands.push_back(Command{app, torch_runner(torch, config, &TorchRunners::encode), "encode"});
    }
    {
        auto config = std::make_shared<ConvertSaeConfig>();
        auto* app = root.add_subcommand("convert-sae", "Convert an SAE between SAELens, Goodfire and dictionary_learning");
        app->footer(
            "Examples:\n"
            "  evoscope convert-sae sae-layer26-mixed-expansion_8-k_64.pt --k 64 --hook blocks.26 -o goodfire-l26/\n"
            "  evoscope convert-sae sae/ --to dictionary_learning -o ae.pt\n"
            "Formats: saelens (folder: sae_weights.safetensors + cfg.json), goodfire (.pt: W [d_in, d_sae], b_enc,\n"
            "b_dec; tied, ReLU then batch top-k), dictionary_learning (ae.pt: encoder.weight, encoder.bias,\n"
            "decoder.weight, b_dec, k, threshold).");
        app->add_option("input", config->input, "SAE to convert")->required();
        app->add_option("--from", config->from, "auto, saelens, goodfire, dictionary_learning [auto]")
            ->check(CLI::IsMember({"auto", "saelens", "goodfire", "dictionary_learning"}));
        app->add_option("--to", config->to, "saelens, goodfire, dictionary_learning [saelens]")
            ->check(CLI::IsMember({"saelens", "goodfire", "dictionary_learning"}));
        app->add_option("-k,--k", config->k, "k for files that do not store it");
        app->add_option("--d-model", config->d_model, "Check that d_in equals this");
        app->add_option("-m,--model", config->model, "Or check d_in against this model's hidden size");
        app->add_option("--hook", config->hook, "Activation site to record in cfg.json (e.g. blocks.26)");
        app->add_option("-o,--output", config->output, "Output folder (saelens) or .pt file")->required();
        app->add_flag("--force", config->force, "Overwrite an existing output");
        add_common_options(*app, config->common);
        commands.push_back(Command{app, torch_runner(torch, config, &TorchRunners::convert_sae), "convert-sae"});
    }
    return commands;
}

}  // namespace evoscope::pipelines
