#include "pipelines/cmd_model.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>

#include "core/check.hpp"
#include "core/log.hpp"

namespace evoscope::pipelines {
namespace {

void add_model_source_options(CLI::App& app, ModelSourceOptions& o) {
    app.add_option("-m,--model", o.model, "Model weights (.safetensors, official key layout)")->required();
    app.add_option("--config", o.config_yaml, "Model YAML config (default: the one stored in the weights file)");
    app.add_option("--device", o.device, "cpu, cuda or cuda:N [cpu]");
}


}  // namespace

std::vector<Command> register_model_commands(CLI::App& root, const TorchRunners* torch) {
    // Without libtorch in this process, every model command re-runs in evoscope-torch.
    const auto runner = [torch](auto config, auto member) { return torch_runner(torch, config, member); };
    std::vector<Command> commands;

    auto* model = root.add_subcommand("model", "Model utilities (init, train)");
    model->require_subcommand(1);
    {
        auto config = std::make_shared<ModelInitConfig>();
        auto* app = model->add_subcommand("init", "Write a randomly initialised model in the official layout");
        app->footer("Example:\n  evoscope model init --config tiny.yml --seed 1 -o tiny.safetensors");
        app->add_option("--config", config->config_yaml, "Model YAML config (official field names)")->required();
        app->add_option("--seed", config->seed, "Random seed [0]");
        app->add_option("-o,--output", config->output, "Output .safetensors")->required();
        app->add_flag("--force", config->force, "Overwrite an existing output");
        add_common_options(*app, config->common);
        commands.push_back(Command{app, runner(config, &TorchRunners::model_init), "model-init"});
    }
    {
        auto config = std::make_shared<ModelTrainConfig>();
        auto* app = model->add_subcommand("train", "Causal next-base training on FASTA sequences");
        app->footer(
            "Examples:\n"
            "  evoscope model train --config tiny.yml -f lambda.fa --holdout-fraction 0.1 -w 256 -b 8 --steps 500 -o run/\n"
            "  evoscope model train --resume run/            (continues from run/'s latest checkpoint)\n"
            "Windows of --window bases (plus one: --window predicted tokens) are drawn uniformly from the training\n"
            "regions (default: every contig; with --genome-weights, first a FASTA by weight, then a start in it), on\n"
            "both strands, upper-cased; --holdout regions are removed from them\n"
            "and scored every --eval-every steps. Output: DIR/model.safetensors, DIR/train_log.tsv, DIR/loss.svg,\n"
            "DIR/checkpoints/step-N/{model,optimizer}.safetensors + state.json.");
        auto* resume = app->add_option("--resume", config->resume,
                                       "Continue the run in this output folder from its latest checkpoint "
                                       "(every other setting comes from it)");
        std::vector<CLI::Option*> opts;
        opts.push_back(app->add_option("--config", config->config_yaml, "Model YAML config: train a new random model"));
        opts.push_back(app->add_option("--init-from", config->init_from, "Start from these weights (.safetensors)"));
        opts.push_back(app->add_option("-f,--fasta", config->fastas, "FASTA to train on; repeatable"));
        opts.push_back(app->add_option("--genome-weights", config->genome_weights,
                                       "Sampling weight of each -f FASTA, in -f order (e.g. 1,1,2,0.5): a window "
                                       "comes from FASTA i with probability w_i / sum(w) [by training length]")
                           ->delimiter(',')
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("-r,--region", config->regions,
                                       "Training region (1-based inclusive); repeatable [whole genomes]"));
        opts.push_back(app->add_option("-R,--regions-file", config->regions_bed, "BED file of training regions"));
        opts.push_back(app->add_option("--holdout", config->holdout,
                                       "Held-out region (contig:begin-end) or BED file; repeatable; never trained on"));
        opts.push_back(app->add_option("--holdout-fraction", config->holdout_fraction,
                                       "Hold out the last fraction F of every training region (as `markov`)"));
        opts.push_back(app->add_option("-w,--window", config->window, "Predicted bases per window [1024]")
                           ->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("-b,--batch", config->batch, "Windows per step [8]")->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--steps", config->steps, "Optimizer steps [1000]")->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--lr", config->lr, "Peak learning rate [3e-4]")->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--min-lr", config->min_lr, "Final learning rate of the cosine decay [3e-5]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("--warmup", config->warmup, "Linear warmup steps [100]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("--weight-decay", config->weight_decay, "AdamW decoupled weight decay [0.1]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("--grad-clip", config->grad_clip, "Max global gradient norm, 0 = off [1]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("--eval-every", config->eval_every, "Held-out evaluation interval [100]")
                           ->check(CLI::PositiveNumber));
        opts.push_back(app->add_option("--checkpoint-every", config->checkpoint_every,
                                       "Checkpoint interval, 0 = only at the end [0]")
                           ->check(CLI::NonNegativeNumber));
        opts.push_back(app->add_option("--seed", config->seed, "Seed of the initial weights and the data order [0]"));
        opts.push_back(app->add_option("--strand", config->strand, "Strands to train on: both, + [both]")
                           ->check(CLI::IsMember({"both", "+"})));
        opts.push_back(app->add_option("-o,--output", config->output_dir, "Output folder"));
        opts.push_back(app->add_flag("--force", config->force, "Reuse an existing non-empty output folder"));
        exclusive_with_resume(*app, resume, opts);
        app->add_option("--device", config->device, "cpu, cuda or cuda:N [cpu]");
        app->add_option("--stop-after", config->stop_after,
                        "Stop after this step with a checkpoint (resume later with --resume)")
            ->check(CLI::NonNegativeNumber);
        add_common_options(*app, config->common);
        commands.push_back(Command{app, runner(config, &TorchRunners::train), "model-train"});
    }
    {
        auto config = std::make_shared<ConvertConfig>();
        auto* app = root.add_subcommand("convert", "Convert an official torch.save checkpoint to safetensors");
        app->footer(
            "Example:\n"
            "  evoscope convert --config evo2-7b-262k.yml --checkpoint evo2_7b_262k.pt -o evo2_7b_262k.safetensors\n"
            "  evoscope convert --config evo2-40b-1m.yml --checkpoint evo2_40b.pt.part0 evo2_40b.pt.part1 ... -o out.safetensors\n"
            "Non-tensor entries (Transformer Engine _extra_state blobs) are skipped and counted.");
        app->add_option("--config", config->config_yaml, "Model YAML config, stored in the output's metadata")
            ->required();
        app->add_option("--checkpoint", config->checkpoint_parts,
                        "The .pt file, or its parts in order (they are read as one concatenated file)")
            ->required()
            ->take_all();
        app->add_option("-o,--output", config->output, "Output .safetensors")->required();
        app->add_flag("--force", config->force, "Overwrite an existing output");
        add_common_options(*app, config->common);
        commands.push_back(Command{app, runner(config, &TorchRunners::convert), "convert"});
    }
    {
        auto config = std::make_shared<ScoreConfig>();
        auto* app = root.add_subcommand("score", "Teacher-forced log-likelihood of regions under the model");
        app->footer(
            "Example:\n"
            "  evoscope score -m model.safetensors -f genome.fa -r chr1:10,001-18,192 --per-base lp.tsv\n"
            "Each region (default: every contig) is upper-cased and scored on its own from its first base. The\n"
            "summary line gives the mean loss in nats and bits per base over the scored positions (all but the\n"
            "first base of each region, unless --prepend-eod).\n"
            "A region longer than --window tokens (default: the context the model was trained at, from its\n"
            "evoscope.trained_context metadata, else its config's max_seqlen; at most 8192) is scored in\n"
            "windows overlapping by window - stride tokens, each base taken from the earliest window that\n"
            "has it past its first window - stride tokens (the most preceding context, as embed stitches).");
        add_model_source_options(*app, config->model);
        app->add_option("-f,--fasta", config->fasta, "Reference FASTA")->required();
        app->add_option("-r,--region", config->regions, "Region (1-based inclusive); repeatable [every contig]")
            ->take_all();
        app->add_option("-R,--regions-file", config->regions_bed, "BED file of regions");
        app->add_option("--rename-contigs", config->rename_contigs, "Contig alias file");
        app->add_option("--logits", config->logits_npy, "Write float32 logits [L, vocab] (.npy; one region)");
        app->add_option("--per-base", config->per_base_tsv,
                        "Write contig, 1-based position, base, log-probability (nats) of that base given the prefix");
        app->add_flag("--prepend-eod", config->prepend_eod,
                      "Score the first base too, conditioned on the end-of-document token (Evo 2 prepend_bos)");
        app->add_option("-w,--window", config->window,
                        "Tokens per scoring window, 0 = the model's trained context (at most 8192) [0]")
            ->check(CLI::NonNegativeNumber);
        app->add_option("-s,--stride", config->stride, "Tokens between scoring windows [window / 2]")
            ->check(CLI::NonNegativeNumber);
        app->add_flag("--no-tiling", config->no_tiling,
                      "Score each region in one pass, however long (warns past the trained context)");
        app->add_flag("--force", config->force, "Overwrite existing outputs");
        add_common_options(*app, config->common);
        commands.push_back(Command{app, runner(config, &TorchRunners::score), "score"});
    }
    {
        auto config = std::make_shared<EmbedConfig>();
        auto* app = root.add_subcommand("embed", "Capture a model layer's activations over a genome or regions");
        app->footer(
            "Examples:\n"
            "  evoscope embed -m model.safetensors --layer blocks.4 -f genome.fa -w 8192 -s 4096 -o acts/\n"
            "  evoscope embed -m model.safetensors --layer blocks.2.mlp.l3 -f genome.fa -r ctg:1-20,000 --npy x.npy\n"
            "Sites: embedding, blocks.N (residual stream after block N), blocks.N.mlp.l3, blocks.N.pre_norm,\n"
            "final_norm. Output: DIR/<site>/manifest.json + shard-NNNNN.npy, one row per position and strand.\n"
            "Stitching: overlapping windows are causal, so each position is taken from the window that gives it\n"
            "the most context: on '+' the earliest window covering it, on '-' (reverse complement) the latest.");
        add_model_source_options(*app, config->model);
        app->add_option("-l,--layer", config->sites, "Activation site; repeatable")->required()->take_all();
        add_window_source_options(*app, config->source, true);
        app->add_option("-o,--output", config->output_dir, "Output folder (one store per site inside)");
        app->add_option("--npy", config->npy, "Instead: one float32 [L, d_model] array for a single region and site");
        app->add_option("--dtype", config->dtype, "Stored dtype: float32 or bfloat16 [float32]")
            ->check(CLI::IsMember({"float32", "bfloat16", "fp32", "bf16"}));
        app->add_option("-b,--batch", config->batch, "Windows per forward pass [4]")->check(CLI::PositiveNumber);
        app->add_option("--shard-rows", config->rows_per_shard, "Rows per shard file [262144]")
            ->check(CLI::PositiveNumber);
        app->add_flag("--force", config->force, "Overwrite existing outputs");
        add_common_options(*app, config->common);
        commands.push_back(Command{app, runner(config, &TorchRunners::embed), "embed"});
    }
    return commands;
}

}  // namespace evoscope::pipelines
