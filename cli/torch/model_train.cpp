#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/torch/options.hpp"
#include "pipelines/torch/stages.hpp"

namespace evoscope::cli {

RunFn setup_model_train(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::ModelTrainOptions>();
    app->footer(
        "Examples:\n"
        "  evoscope model train --config tiny.yml -f lambda.fa --holdout-fraction 0.1 -w 256 -b 8 "
        "--steps 500 -o run/\n"
        "  evoscope model train --resume run/            (continues from run/'s latest "
        "checkpoint)\n"
        "Windows of --window bases (plus one: --window predicted tokens) are drawn uniformly from "
        "the training\n"
        "regions (default: every contig; with --genome-weights, first a FASTA by weight, then a "
        "start in it), on\n"
        "both strands, upper-cased; --holdout regions are removed from them\n"
        "and scored every --eval-every steps. Output: DIR/model.safetensors, DIR/train_log.tsv, "
        "DIR/loss.svg,\n"
        "DIR/checkpoints/step-N/{model,optimizer}.safetensors + state.json.");
    auto* resume =
        app->add_option("--resume",
                        config->resume,
                        "Continue the run in this output folder from its latest checkpoint "
                        "(every other setting comes from it)");
    std::vector<CLI::Option*> opts;
    opts.push_back(app->add_option(
        "--config", config->config_yaml, "Model YAML config: train a new random model"));
    opts.push_back(app->add_option(
        "--init-from", config->init_from, "Start from these weights (.safetensors)"));
    opts.push_back(app->add_option("-f,--fasta", config->fastas, "FASTA to train on; repeatable"));
    opts.push_back(
        app->add_option(
               "--genome-weights",
               config->genome_weights,
               "Sampling weight of each -f FASTA, in -f order (e.g. 1,1,2,0.5): a window "
               "comes from FASTA i with probability w_i / sum(w) (default: by training length)")
            ->delimiter(',')
            ->check(CLI::NonNegativeNumber));
    opts.push_back(app->add_option(
        "-r,--region",
        config->regions,
        "Training region (1-based inclusive); repeatable (default: whole genomes)"));
    opts.push_back(
        app->add_option("-R,--regions-file", config->regions_bed, "BED file of training regions"));
    opts.push_back(app->add_option(
        "--holdout",
        config->holdout,
        "Held-out region (contig:begin-end) or BED file; repeatable; never trained on"));
    opts.push_back(
        app->add_option("--holdout-fraction",
                        config->holdout_fraction,
                        "Hold out the last fraction F of every training region (as `markov`)"));
    opts.push_back(app->add_option("-w,--window", config->window, "Predicted bases per window")
                       ->check(CLI::PositiveNumber));
    opts.push_back(app->add_option("-b,--batch", config->batch, "Windows per step")
                       ->check(CLI::PositiveNumber));
    opts.push_back(
        app->add_option("--steps", config->steps, "Optimizer steps")->check(CLI::PositiveNumber));
    opts.push_back(
        app->add_option("--lr", config->lr, "Peak learning rate")->check(CLI::PositiveNumber));
    opts.push_back(
        app->add_option("--min-lr", config->min_lr, "Final learning rate of the cosine decay")
            ->check(CLI::NonNegativeNumber));
    opts.push_back(app->add_option("--warmup", config->warmup, "Linear warmup steps")
                       ->check(CLI::NonNegativeNumber));
    opts.push_back(
        app->add_option("--weight-decay", config->weight_decay, "AdamW decoupled weight decay")
            ->check(CLI::NonNegativeNumber));
    opts.push_back(
        app->add_option("--grad-clip", config->grad_clip, "Max global gradient norm, 0 = off")
            ->check(CLI::NonNegativeNumber));
    opts.push_back(
        app->add_option("--eval-every", config->eval_every, "Held-out evaluation interval")
            ->check(CLI::PositiveNumber));
    opts.push_back(app->add_option("--checkpoint-every",
                                   config->checkpoint_every,
                                   "Checkpoint interval, 0 = only at the end")
                       ->check(CLI::NonNegativeNumber));
    opts.push_back(
        app->add_option("--seed", config->seed, "Seed of the initial weights and the data order"));
    opts.push_back(app->add_option("--strand", config->strand, "Strands to train on: both, +")
                       ->check(CLI::IsMember({"both", "+"})));
    opts.push_back(app->add_option("-o,--output", config->output_dir, "Output folder"));
    opts.push_back(
        app->add_flag("--force", config->force, "Reuse an existing non-empty output folder"));
    exclusive_with_resume(*app, resume, opts);
    app->add_option("--device", config->device, "cpu, cuda or cuda:N");
    app->add_option("--stop-after",
                    config->stop_after,
                    "Stop after this step with a checkpoint (resume later with --resume)")
        ->check(CLI::NonNegativeNumber);
    return [config] {
        pipelines::run_model_train(*config);
    };
}

}  // namespace evoscope::cli
