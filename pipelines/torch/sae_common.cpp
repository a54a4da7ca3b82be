#include "pipelines/torch/sae_common.hpp"

#include <filesystem>

#include "core/check.hpp"
#include "sae/formats.hpp"
#include "store/activation_store.hpp"

namespace evoscope::pipelines {

ActivationInput open_activation_input(const ActivationInputOptions& options,
                                      std::int64_t batch_windows) {
    ActivationInput in;
    EVOSCOPE_CHECK_USAGE(options.acts.empty() != options.model.empty(),
                         "give exactly one activation input: --acts STORE_OR.npy, or -m MODEL "
                         "--layer SITE -f FASTA");
    if (!options.acts.empty()) {
        in.rows = sae::open_rows(options.acts);
        if (std::filesystem::is_directory(options.acts)) {
            const sae::ActivationStore store(options.acts);
            in.model_name = store.manifest().model_path;
            in.hook_name = store.manifest().site;
            in.is_store = true;
        }
        return in;
    }
    in.model_rows = std::make_shared<ModelActivationRows>(options, batch_windows);
    in.rows = in.model_rows;
    in.model_name = options.model;
    in.hook_name = options.layer;
    return in;
}

sae::Sae open_sae(const std::string& path,
                  std::int64_t k_override,
                  const std::string& device,
                  std::int64_t expected_d_in,
                  const std::string& site) {
    sae::LoadOptions o;
    o.k_override = k_override;
    o.device = device;
    o.expected_d_in = expected_d_in;
    o.site = site;
    return sae::load_sae(path, o);
}

}  // namespace evoscope::pipelines
