/// @file
/// ModelActivationRows's state, shared by the commands that also need the model itself
/// (`sae eval --loss-recovered`, `sae encode`). Internal to evoscope_pipelines_torch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "genomics/window.hpp"
#include "model/evo2_model.hpp"
#include "pipelines/torch/model_rows.hpp"

namespace evoscope::pipelines {

struct ModelActivationRows::Impl {
    Impl(const ActivationInputOptions& options, std::int64_t batch);

    model::Evo2Model model;
    std::string model_path;
    std::string site;
    std::int64_t batch_windows = 4;
    WindowSourceOptions source_options;  ///< the window options, --window resolved from the model
    std::vector<genomics::Window> windows;  ///< in stream order, with their sequences
    std::vector<std::int64_t> offsets;      ///< first row of each window; back() = total rows
    std::int64_t d = 0;
    std::map<std::int64_t, at::Tensor> cache;  ///< window -> [len, d], the last batch computed

    /// The window holding row `row`.
    std::int64_t window_of(std::int64_t row) const;
    /// Token ids [w1 - w0, L] of windows [w0, w1) (equal lengths).
    at::Tensor ids_of(std::int64_t w0, std::int64_t w1) const;
    /// End of the batch starting at w0: up to batch_windows windows of w0's length.
    std::int64_t batch_end(std::int64_t w0) const;
    /// Activations [len, d] of window w (computes its batch when not cached).
    const at::Tensor& activations(std::int64_t w);
};

}  // namespace evoscope::pipelines
