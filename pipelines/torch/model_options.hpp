/// @file
/// Options of the model stages (`evoscope model init|train|convert|score|embed`); the stages are
/// declared in pipelines/torch/stages.hpp. Torch-free, so the defaults here are what --help shows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipelines/window_source.hpp"

namespace evoscope::pipelines {

struct ModelInitOptions {
    std::string config_yaml;
    std::uint64_t seed = 0;
    std::string output;
    bool force = false;
};

struct ModelConvertOptions {
    std::string config_yaml;
    std::vector<std::string> checkpoint_parts;
    std::string output;
    bool force = false;
};

/// Where the model comes from, shared by score and embed.
struct ModelSourceOptions {
    std::string model;        ///< safetensors file
    std::string config_yaml;  ///< overrides the config in the file's metadata
    std::string device = "cpu";
};

struct ModelScoreOptions {
    ModelSourceOptions model;
    std::string fasta;
    std::vector<std::string> regions;
    std::string regions_bed;
    std::string rename_contigs;
    std::string logits_npy;
    std::string per_base_tsv;
    bool prepend_eod = false;
    std::int64_t window =
        0;  ///< tokens per scoring window; 0 = from the model (pipelines/torch/model_source.hpp)
    std::int64_t stride = 0;  ///< tokens between window starts; 0 = window / 2
    bool no_tiling = false;   ///< score each region in one pass
    bool force = false;
};

struct ModelEmbedOptions {
    ModelSourceOptions model;
    WindowSourceOptions source;
    std::vector<std::string> sites;
    std::string output_dir;
    std::string npy;
    std::string dtype = "float32";
    std::int64_t batch = 4;
    std::int64_t rows_per_shard = 1 << 18;
    bool force = false;
};

/// `evoscope model train` (stage: pipelines/torch/model_train.cpp).
struct ModelTrainOptions {
    std::string config_yaml;             ///< --config: new random model
    std::string init_from;               ///< --init-from: start from these weights (fine-tuning)
    std::vector<std::string> fastas;     ///< -f, repeatable
    std::vector<double> genome_weights;  ///< one per -f: share of windows (default: by length)
    std::vector<std::string> regions;    ///< -r training regions (default: whole genomes)
    std::string regions_bed;             ///< -R
    std::vector<std::string> holdout;    ///< region strings or BED files
    double holdout_fraction = 0;         ///< last F of each training region held out
    std::int64_t window = 1024;
    std::int64_t batch = 8;
    std::int64_t steps = 1000;
    double lr = 3e-4;
    double min_lr = 3e-5;
    std::int64_t warmup = 100;
    double weight_decay = 0.1;
    double grad_clip = 1.0;
    std::int64_t eval_every = 100;
    std::int64_t checkpoint_every = 0;  ///< 0: only at the end
    std::int64_t stop_after = 0;  ///< stop (with a checkpoint) after this step; 0: run to --steps
    std::uint64_t seed = 0;
    std::string strand = "both";
    std::string device = "cpu";
    std::string output_dir;
    std::string resume;  ///< output folder of an interrupted run
    bool force = false;
};

}  // namespace evoscope::pipelines
