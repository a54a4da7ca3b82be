/// @file
/// Options of the SAE stages (`evoscope sae train|eval|encode|convert`); the stages are declared in
/// pipelines/torch/stages.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipelines/window_source.hpp"

namespace evoscope::pipelines {

/// Where activations come from: a store/.npy (--acts) or a model run over FASTA windows.
struct ActivationInputOptions {
    std::string acts;            ///< activation store folder or .npy [N, d_in]
    std::string model;           ///< -m: model weights (on-the-fly activations)
    std::string model_config;    ///< --model-config: overrides the config in the weights
    std::string layer;           ///< --layer: activation site (on the fly)
    WindowSourceOptions source;  ///< -f, -r, -R, --window, --stride, --strand, ...
    std::string device = "cpu";
};

/// `evoscope sae train` (stage: pipelines/torch/sae_train.cpp).
struct SaeTrainOptions {
    ActivationInputOptions input;
    std::string arch = "topk";
    std::int64_t d_sae = 0;
    double expansion = 0;  ///< alternative to --d-sae: d_sae = expansion * d_in
    std::int64_t k = 32;
    bool tied = false;
    bool no_b_dec_input = false;  ///< do not subtract b_dec from the input (Goodfire)
    std::string normalize = "none";
    double l1_coeff = 5.0;     ///< ReLU: decoder-norm-weighted L1
    double l0_coeff = 1.0;     ///< JumpReLU: L0 coefficient
    double bandwidth = 0.001;  ///< JumpReLU straight-through bandwidth
    double jumprelu_init_threshold = 0.001;
    std::int64_t aux_k = 0;  ///< 0: d_in / 2
    double aux_coeff = 1.0 / 32.0;
    std::int64_t dead_tokens = 0;        ///< 0: min(10M, tokens / 5)
    bool no_unit_norm = false;           ///< do not constrain decoder rows to unit norm
    std::string decoder = "auto";        ///< sparse, dense, auto
    bool geometric_median_init = false;  ///< b_dec init from the geometric median of a sample
    std::int64_t batch = 4096;           ///< tokens per step
    std::int64_t steps = 0;              ///< 0: from --tokens
    std::int64_t tokens = 0;
    double lr = 0;                       ///< 0: 2e-4 / sqrt(d_sae / 2^14)
    std::int64_t warmup = 0;             ///< 0: 5% of the steps
    double decay_fraction = 0.2;         ///< linear decay to 0 over the last fraction of steps
    std::int64_t buffer_rows = 1 << 16;  ///< shuffle buffer
    double eval_fraction = 0.05;         ///< last fraction of the rows held out
    std::int64_t eval_every = 0;         ///< 0: 10 evaluations
    std::int64_t eval_rows = 65536;
    std::int64_t checkpoint_every = 0;
    std::int64_t stop_after = 0;
    std::uint64_t seed = 0;
    std::string output_dir;
    std::string resume;
    bool force = false;
};

/// `evoscope sae eval` (stage: pipelines/torch/sae_eval.cpp).
struct SaeEvalOptions {
    std::string sae;
    std::int64_t k = 0;
    ActivationInputOptions input;
    std::string rows;  ///< --rows B:E (0-based half-open) of --acts
    std::int64_t max_rows = 1 << 20;
    bool loss_recovered = false;  ///< needs -m and FASTA input
    std::int64_t batch = 4096;
    std::string output_dir;
    bool force = false;
};

/// `evoscope sae encode` (stage: pipelines/torch/sae_encode.cpp).
struct SaeEncodeOptions {
    std::string sae;
    std::int64_t k = 0;
    std::string mode = "default";  ///< default, threshold, batchtopk
    ActivationInputOptions input;
    std::int64_t drop_first = 0;  ///< drop the first N positions of every window
    std::int64_t batch = 4;       ///< windows per forward pass
    std::string output_dir;       ///< feature store
    std::string npz;              ///< indices/values for .npy input
    bool force = false;
};

/// `evoscope sae convert` (stage: pipelines/torch/sae_convert.cpp).
struct SaeConvertOptions {
    std::string input;
    std::string from = "auto";  ///< auto, saelens, goodfire, dictionary_learning
    std::string to = "saelens";
    std::int64_t k = 0;
    std::int64_t d_model = 0;  ///< check d_in against this
    std::string model;         ///< or take d_model (and the model name) from this file
    std::string hook;
    std::string output;
    bool force = false;
};

}  // namespace evoscope::pipelines
