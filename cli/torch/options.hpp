/// @file
/// CLI11 option groups shared by the libtorch commands (the options structs they fill live in
/// pipelines/torch/).
#pragma once

#include "cli/options.hpp"
#include "pipelines/torch/model_options.hpp"
#include "pipelines/torch/sae_options.hpp"

namespace CLI {
class App;
}  // namespace CLI

namespace evoscope::cli {

/// -m/--model, --config, --device.
void add_model_source_options(CLI::App& app, pipelines::ModelSourceOptions& options);

/// --acts, or (with `allow_model`) -m/--layer plus the window-source options (on-the-fly
/// activations).
void add_activation_input_options(CLI::App& app,
                                  pipelines::ActivationInputOptions& options,
                                  bool allow_model);

}  // namespace evoscope::cli
