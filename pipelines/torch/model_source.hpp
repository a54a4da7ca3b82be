/// @file
/// Opens the model named by the CLI's --model/--config/--device options, and fits the windows of
/// the commands that run it to the context it was trained at.
///
/// Windows and the trained context C (model::TrainedContext: tokens per training window; a
/// training window of C tokens runs the model on its first C - 1 and predicts its last C - 1):
/// - model embed, sae encode -m, sae train -m, sae eval -m run the model on windows of bases, one token per
///   base. Default window: min(C - 1, 8192) bases, the forward-pass length of training.
/// - score runs windows of tokens (the bases, plus the end-of-document token with --prepend-eod),
///   each predicting all but its first token. Default window: min(C, 8192) tokens.
/// A larger explicit window is allowed, with one warning naming the model and C.
#pragma once

#include <cstdint>
#include <string>

#include "model/evo2_model.hpp"
#include "pipelines/torch/model_options.hpp"
#include "pipelines/window_source.hpp"

namespace evoscope::pipelines {

/// Largest default window, whatever the trained context (bases or tokens).
inline constexpr std::int64_t kMaxDefaultModelWindow = 8192;

/// Loads the weights, with the config from --config or the file's metadata; logs the model and
/// its trained context (and where that figure comes from).
model::Evo2Model open_model(const ModelSourceOptions& options);

/// The window in bases of a command that runs the model on windows of bases: `requested` when
/// > 0 (a warning when it exceeds C - 1), else min(C - 1, 8192).
std::int64_t model_window_bases(const model::Evo2Model& model,
                                const std::string& model_path,
                                std::int64_t requested);

/// The window in tokens of `score`: `requested` when > 0 (a warning when it exceeds C), else
/// min(C, 8192).
std::int64_t model_window_tokens(const model::Evo2Model& model,
                                 const std::string& model_path,
                                 std::int64_t requested);

/// `options` with window_bp resolved by model_window_bases (stride 0 still means = window).
WindowSourceOptions with_model_window(WindowSourceOptions options,
                                      const model::Evo2Model& model,
                                      const std::string& model_path);

/// The warning printed when `length` tokens (or bases, see `unit`) exceed the trained context:
/// "window 8192 exceeds the 1025-token context model M was trained at; results past it are
/// unreliable" (`what` = "window 8192"), plus `detail` in parentheses when not empty.
void warn_past_context(const model::Evo2Model& model,
                       const std::string& model_path,
                       const std::string& what,
                       const std::string& detail = {});

}  // namespace evoscope::pipelines
