/// @file
/// The model commands' run functions. They need libtorch, so they live in
/// evoscope_pipelines_torch and run in the `evoscope-torch` binary.
#pragma once

#include "pipelines/cli.hpp"
#include "pipelines/cmd_model.hpp"
#include "pipelines/cmd_sae.hpp"

namespace evoscope::pipelines {

int run_model_init(const ModelInitConfig& config);
int run_convert(const ConvertConfig& config);
int run_score(const ScoreConfig& config);
int run_embed(const EmbedConfig& config);
int run_model_train(const ModelTrainConfig& config);
int run_train_sae(const TrainSaeConfig& config);
int run_eval_sae(const EvalSaeConfig& config);
int run_encode(const EncodeConfig& config);
int run_convert_sae(const ConvertSaeConfig& config);

/// The runner table `evoscope-torch` passes to main_entry.
TorchRunners torch_runners();

}  // namespace evoscope::pipelines
