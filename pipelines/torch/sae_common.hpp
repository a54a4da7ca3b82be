/// @file
/// Pieces shared by the SAE commands (sae train, sae eval, sae encode): opening the activation input
/// (--acts store or .npy, or a model over FASTA windows) and opening an SAE file of any format.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "pipelines/torch/model_rows.hpp"
#include "pipelines/torch/sae_options.hpp"
#include "sae/sae.hpp"
#include "store/row_source.hpp"

namespace evoscope::pipelines {

struct ActivationInput {
    std::shared_ptr<const sae::RowReader> rows;
    std::shared_ptr<ModelActivationRows> model_rows;  ///< set for -m input
    std::string model_name;  ///< model file the activations come from ("" when unknown: .npy)
    std::string hook_name;   ///< site
    bool is_store = false;   ///< --acts is an activation store (rows carry genomic coordinates)
};

/// @throws UsageError when neither or both of --acts and -m are given; the readers' errors.
ActivationInput open_activation_input(const ActivationInputOptions& options,
                                      std::int64_t batch_windows = 4);

/// Loads an SAE of any supported format (libtorch's state-dict reader replaced by the model
/// module's own pickle reader, which also reads Python state_dict() OrderedDicts).
sae::Sae open_sae(const std::string& path,
                  std::int64_t k_override,
                  const std::string& device,
                  std::int64_t expected_d_in,
                  const std::string& site);

}  // namespace evoscope::pipelines
