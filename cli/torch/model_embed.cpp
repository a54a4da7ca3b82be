#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/torch/options.hpp"
#include "pipelines/torch/stages.hpp"

namespace evoscope::cli {

RunFn setup_model_embed(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::ModelEmbedOptions>();
    app->footer(
        "Examples:\n"
        "  evoscope model embed -m model.safetensors --layer blocks.4 -f genome.fa -w 8192 -s 4096 "
        "-o acts/\n"
        "  evoscope model embed -m model.safetensors --layer blocks.2.mlp.l3 -f genome.fa -r "
        "ctg:1-20,000 --npy x.npy\n"
        "Sites: embedding, blocks.N (residual stream after block N), blocks.N.mlp.l3, "
        "blocks.N.pre_norm,\n"
        "final_norm. Output: DIR/<site>/manifest.json + shard-NNNNN.npy, one row per position and "
        "strand.\n"
        "Stitching: overlapping windows are causal, so each position is taken from the window that "
        "gives it\n"
        "the most context: on '+' the earliest window covering it, on '-' (reverse complement) the "
        "latest.");
    add_model_source_options(*app, config->model);
    app->add_option("-l,--layer", config->sites, "Activation site; repeatable")
        ->required()
        ->take_all();
    add_window_source_options(*app, config->source, true);
    app->add_option("-o,--output", config->output_dir, "Output folder (one store per site inside)");
    app->add_option("--npy",
                    config->npy,
                    "Instead: one float32 [L, d_model] array for a single region and site");
    app->add_option("--dtype", config->dtype, "Stored dtype: float32 or bfloat16")
        ->check(CLI::IsMember({"float32", "bfloat16", "fp32", "bf16"}));
    app->add_option("-b,--batch", config->batch, "Windows per forward pass")
        ->check(CLI::PositiveNumber);
    app->add_option("--shard-rows", config->rows_per_shard, "Rows per shard file")
        ->check(CLI::PositiveNumber);
    app->add_flag("--force", config->force, "Overwrite existing outputs");
    return [config] {
        pipelines::run_model_embed(*config);
    };
}

}  // namespace evoscope::cli
