#include "pipelines/torch/model_rows.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "genomics/window.hpp"
#include "model/evo2_model.hpp"
#include "model/tokenizer.hpp"
#include "pipelines/torch/model_rows_impl.hpp"
#include "pipelines/torch/model_source.hpp"
#include "pipelines/window_source.hpp"

namespace evoscope::pipelines {

ModelActivationRows::Impl::Impl(const ActivationInputOptions& options, std::int64_t batch)
    : model([&] {
          EVOSCOPE_CHECK_USAGE(!options.model.empty(),
                               "give --acts, or -m MODEL with --layer and FASTA input");
          EVOSCOPE_CHECK_USAGE(!options.layer.empty(),
                               "-m needs --layer (the activation site, e.g. blocks.4)");
          EVOSCOPE_CHECK_USAGE(!options.source.fasta.empty(), "-m needs -f FASTA");
          ModelSourceOptions m;
          m.model = options.model;
          m.config_yaml = options.model_config;
          m.device = options.device;
          return open_model(m);
      }()),
      model_path(options.model),
      site(options.layer),
      batch_windows(std::max<std::int64_t>(1, batch)) {
    model::Evo2Model::check_site(site, model.config().num_layers);
    source_options = with_model_window(options.source, model, options.model);
    const WindowSource source(source_options);
    auto stream = source.stream();
    offsets.push_back(0);
    while (auto w = stream.next()) {
        offsets.push_back(offsets.back() + static_cast<std::int64_t>(w->sequence.size()));
        windows.push_back(std::move(*w));
    }
    EVOSCOPE_CHECK(!windows.empty(),
                   "no windows: the regions of {} are empty or were all skipped",
                   options.source.fasta);
    d = model.config().hidden_size;
}

std::int64_t ModelActivationRows::Impl::window_of(std::int64_t row) const {
    const auto it = std::upper_bound(offsets.begin(), offsets.end(), row);
    return static_cast<std::int64_t>(it - offsets.begin()) - 1;
}

at::Tensor ModelActivationRows::Impl::ids_of(std::int64_t w0, std::int64_t w1) const {
    const auto len =
        static_cast<std::int64_t>(windows[static_cast<std::size_t>(w0)].sequence.size());
    std::vector<model::TokenId> ids;
    for (std::int64_t w = w0; w < w1; ++w) {
        model::Tokenizer::tokenize_into(windows[static_cast<std::size_t>(w)].sequence, ids);
    }
    return at::from_blob(ids.data(), {w1 - w0, len}, at::kInt).to(at::kLong);
}

std::int64_t ModelActivationRows::Impl::batch_end(std::int64_t w0) const {
    const auto len = windows[static_cast<std::size_t>(w0)].sequence.size();
    std::int64_t w1 = w0 + 1;
    while (w1 < static_cast<std::int64_t>(windows.size()) && w1 - w0 < batch_windows &&
           windows[static_cast<std::size_t>(w1)].sequence.size() == len) {
        ++w1;
    }
    return w1;
}

const at::Tensor& ModelActivationRows::Impl::activations(std::int64_t w) {
    if (const auto it = cache.find(w); it != cache.end()) {
        return it->second;
    }
    cache.clear();
    const std::int64_t w1 = batch_end(w);
    const auto out = model.run(ids_of(w, w1), {site}, false).at(site);  // [B, L, d] fp32 CPU
    EVOSCOPE_CHECK_MODEL(at::isfinite(out).all().item<bool>(),
                         "the model produced NaN/Inf activations at {} in {}",
                         site,
                         genomics::format_region_1b(windows[static_cast<std::size_t>(w)].interval));
    for (std::int64_t i = w; i < w1; ++i) {
        cache.emplace(i, out[i - w].contiguous());
    }
    return cache.at(w);
}

ModelActivationRows::ModelActivationRows(const ActivationInputOptions& options,
                                         std::int64_t batch_windows)
    : impl_(std::make_unique<Impl>(options, batch_windows)) {
    EVOSCOPE_LOG_INFO("on-the-fly activations: {} at {}, {} windows, {} rows of {}",
                      impl_->model_path,
                      impl_->site,
                      impl_->windows.size(),
                      impl_->offsets.back(),
                      impl_->d);
}

ModelActivationRows::~ModelActivationRows() = default;

std::int64_t ModelActivationRows::n_rows() const {
    return impl_->offsets.back();
}

std::int64_t ModelActivationRows::d() const {
    return impl_->d;
}

const std::string& ModelActivationRows::model_path() const {
    return impl_->model_path;
}

const std::string& ModelActivationRows::site() const {
    return impl_->site;
}

const WindowSourceOptions& ModelActivationRows::source_options() const {
    return impl_->source_options;
}

std::int64_t ModelActivationRows::n_windows() const {
    return static_cast<std::int64_t>(impl_->windows.size());
}

std::string ModelActivationRows::describe() const {
    return fmt::format("{} at {} over {} windows ({} rows x {})",
                       impl_->model_path,
                       impl_->site,
                       impl_->windows.size(),
                       n_rows(),
                       impl_->d);
}

void ModelActivationRows::read_rows(std::int64_t row, std::int64_t n, std::span<float> out) const {
    EVOSCOPE_CHECK(row >= 0 && n >= 0 && row + n <= n_rows(),
                   "rows [{}, {}) outside the {} on-the-fly rows",
                   row,
                   row + n,
                   n_rows());
    EVOSCOPE_CHECK(static_cast<std::int64_t>(out.size()) == n * impl_->d,
                   "row buffer has the wrong size");
    std::int64_t r = row;
    while (r < row + n) {
        const std::int64_t w = impl_->window_of(r);
        const at::Tensor& a = impl_->activations(w);
        const std::int64_t in_window = r - impl_->offsets[static_cast<std::size_t>(w)];
        const std::int64_t take =
            std::min(row + n - r, impl_->offsets[static_cast<std::size_t>(w) + 1] - r);
        std::memcpy(out.data() + (r - row) * impl_->d,
                    a.data_ptr<float>() + in_window * impl_->d,
                    static_cast<std::size_t>(take * impl_->d) * sizeof(float));
        r += take;
    }
}

}  // namespace evoscope::pipelines
