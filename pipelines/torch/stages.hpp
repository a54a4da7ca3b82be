/// @file
/// The libtorch stages: one library function per model or SAE command, taking its options
/// struct (pipelines/torch/model_options.hpp, sae_options.hpp) and returning what it did. They
/// live in evoscope_pipelines_torch and run in the `evoscope-torch` binary; the command files in
/// cli/torch/ only fill the options and call them. Each throws evoscope::Error on bad input and
/// leaves no half-written output behind.
#pragma once

#include <cstdint>
#include <filesystem>

#include "pipelines/torch/model_options.hpp"
#include "pipelines/torch/sae_options.hpp"

namespace evoscope::pipelines {

struct ModelInitResult {
    std::int64_t n_params = 0;
};

ModelInitResult run_model_init(const ModelInitOptions& options);

struct ModelConvertResult {
    std::int64_t n_tensors = 0;
    std::int64_t n_skipped_non_tensor = 0;
};

ModelConvertResult run_model_convert(const ModelConvertOptions& options);

struct ModelScoreResult {
    std::int64_t n_regions = 0;
    std::int64_t n_scored = 0;  ///< positions scored
    double mean_nats = 0.0;     ///< mean negative log-likelihood per scored position
    double bits_per_base() const;
};

ModelScoreResult run_model_score(const ModelScoreOptions& options);

struct ModelEmbedResult {
    std::int64_t n_windows = 0;
    std::int64_t n_tokens = 0;
    std::int64_t n_rows = 0;  ///< rows per site
};

ModelEmbedResult run_model_embed(const ModelEmbedOptions& options);

struct ModelTrainResult {
    std::int64_t steps_done = 0;  ///< the step the run stopped at
    bool finished = false;        ///< reached --steps (model.safetensors written)
    std::filesystem::path model;  ///< OUT/model.safetensors when finished
};

ModelTrainResult run_model_train(const ModelTrainOptions& options);

struct SaeTrainResult {
    std::int64_t steps_done = 0;
    bool finished = false;          ///< reached the last step (sae_weights.safetensors written)
    std::filesystem::path weights;  ///< OUT/sae_weights.safetensors when finished
};

SaeTrainResult run_sae_train(const SaeTrainOptions& options);

struct SaeEvalResult {
    std::int64_t n_rows = 0;
    double explained_variance = 0.0;
    double l0 = 0.0;
    std::filesystem::path metrics_tsv;
};

SaeEvalResult run_sae_eval(const SaeEvalOptions& options);

struct SaeEncodeResult {
    std::int64_t n_positions = 0;
    std::int64_t n_nonzero = 0;  ///< active (position, feature) pairs
};

SaeEncodeResult run_sae_encode(const SaeEncodeOptions& options);

struct SaeConvertResult {
    std::filesystem::path output;
};

SaeConvertResult run_sae_convert(const SaeConvertOptions& options);

}  // namespace evoscope::pipelines
