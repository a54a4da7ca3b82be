/// @file
/// Activation rows computed on the fly: a sae::RowReader whose rows are the activations of one
/// model site over the windows of a FASTA (model + SAE in one process, no activation files).
/// Row r is position r - start(w) of window w, windows in stream order (region, begin, strand),
/// each window's rows in window (reading) order. Windows are computed when a read needs them,
/// in batches of equal-length windows, and the last batch is cached, so the sequential block
/// reads of sae::ShuffledRows compute each window once per epoch.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "genomics/interval.hpp"
#include "pipelines/torch/sae_options.hpp"
#include "store/row_source.hpp"

namespace evoscope::pipelines {

class ModelActivationRows : public sae::RowReader {
public:
    /// Opens the model (-m, --model-config, --device) and lists the windows of the source
    /// options. @throws InputError (no --layer, bad site, no windows), IoError, FormatError.
    explicit ModelActivationRows(const ActivationInputOptions& options,
                                 std::int64_t batch_windows = 4);
    ~ModelActivationRows() override;

    std::int64_t n_rows() const override;
    std::int64_t d() const override;
    void read_rows(std::int64_t row, std::int64_t n, std::span<float> out) const override;
    std::string describe() const override;

    const std::string& model_path() const;
    const std::string& site() const;
    std::int64_t n_windows() const;
    /// The window options in use: the given ones with --window 0 resolved from the model's
    /// trained context (pipelines/torch/model_source.hpp).
    const WindowSourceOptions& source_options() const;
    /// Token ids of window `i` (for loss-recovered evaluation).
    std::vector<std::int64_t> window_tokens(std::int64_t i) const;
    /// The model's next-base cross-entropy (nats per predicted base) over windows [w0, w1) when
    /// the activation at the site is replaced by `replace(acts)` (acts [L, d] fp32 in reading
    /// order); `replace` empty: the clean model. Exposed for `sae eval --loss-recovered`.
    struct Impl;

    Impl& impl() const { return *impl_; }

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace evoscope::pipelines
