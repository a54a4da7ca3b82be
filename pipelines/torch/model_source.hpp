/// @file
/// Opens the model named by the CLI's --model/--config/--device options.
#pragma once

#include <string>

#include "model/evo2_model.hpp"
#include "pipelines/torch/model_options.hpp"

namespace evoscope::pipelines {

/// Loads the weights, with the config from --config or the file's metadata.
model::Evo2Model open_model(const ModelSourceOptions& options);

}  // namespace evoscope::pipelines
