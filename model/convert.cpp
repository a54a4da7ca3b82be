#include "model/convert.hpp"

#include <cstring>
#include <map>
#include <optional>

#include <fmt/ranges.h>
#include <torch/torch.h>

#include <yaml-cpp/yaml.h>

#include "core/check.hpp"
#include "model/checkpoint.hpp"
#include "model/safetensors.hpp"
#include "model/torch_checkpoint.hpp"

namespace evoscope::model {
namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// True when both tensors have the same dtype, shape and bytes (NaN payloads included).
bool bit_identical(const at::Tensor& a, const at::Tensor& b) {
    if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) {
        return false;
    }
    const at::Tensor ca = a.contiguous();
    const at::Tensor cb = b.contiguous();
    const auto n = static_cast<std::size_t>(ca.numel()) * ca.element_size();
    return n == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), n) == 0;
}

/// `t` for writing out: a raw view of the mapped bytes when the tensor is contiguous and lies
/// in one mapping (no copy even when misaligned: only its bytes are read, by the writer or
/// memcmp), else TorchCheckpoint::tensor (a strided view, or a copy across part boundaries).
at::Tensor bytes_view(const TorchCheckpoint& checkpoint, const CheckpointTensor& t) {
    if (t.is_contiguous()) {
        if (const std::byte* data = checkpoint.mapped_data(t)) {
            return at::from_blob(const_cast<std::byte*>(data),
                                 t.shape,
                                 at::TensorOptions().dtype(scalar_type(t.dtype)).device(at::kCPU));
        }
    }
    return checkpoint.tensor(t);
}

}  // namespace

ConvertSummary convert_checkpoint(const std::vector<std::filesystem::path>& parts,
                                  const std::string& config_yaml_text,
                                  const std::filesystem::path& out,
                                  const ConvertOptions& options) {
    // An official checkpoint was trained (its last stage) at the config's max_seqlen.
    std::optional<std::int64_t> max_seqlen;
    try {
        const YAML::Node config = YAML::Load(config_yaml_text);
        EVOSCOPE_CHECK(config.IsMap(), "the model config is not a YAML mapping");
        if (config["max_seqlen"]) {
            max_seqlen = config["max_seqlen"].as<std::int64_t>();
            EVOSCOPE_CHECK(*max_seqlen >= 2,
                           "the model config's max_seqlen must be at least 2, got {}",
                           *max_seqlen);
        }
    } catch (const YAML::Exception& e) {
        throw InputError(fmt::format("the model config is not valid YAML: {}", e.what()));
    }
    EVOSCOPE_CHECK(options.overwrite || !std::filesystem::exists(out),
                   "output '{}' exists (use --force to overwrite)",
                   out.string());

    const TorchCheckpoint checkpoint(parts);
    ConvertSummary summary;
    summary.skipped = checkpoint.skipped();
    summary.n_skipped_non_tensor = static_cast<std::int64_t>(summary.skipped.size());

    std::vector<const CheckpointTensor*> kept;
    const CheckpointTensor* embedding = checkpoint.find("embedding_layer.weight");
    for (const CheckpointTensor& t : checkpoint.tensors()) {
        bool drop = false;
        if (options.drop_extra) {
            drop = ends_with(t.name, "._extra_state") || ends_with(t.name, ".filter.t");
            if (t.name == "unembed.weight" && embedding != nullptr) {
                drop = bit_identical(bytes_view(checkpoint, t), bytes_view(checkpoint, *embedding));
            }
        }
        if (drop) {
            summary.dropped.push_back(t.name);
        } else {
            kept.push_back(&t);
        }
    }
    summary.n_dropped_extra = static_cast<std::int64_t>(summary.dropped.size());

    std::vector<TensorSpec> specs;
    specs.reserve(kept.size());
    for (const CheckpointTensor* t : kept) {
        try {
            safetensors_dtype(scalar_type(t->dtype));
        } catch (const InputError& e) {
            throw InputError(
                fmt::format("'{}': tensor '{}': {}", checkpoint.describe(), t->name, e.what()));
        }
        specs.push_back(
            TensorSpec{.name = t->name, .dtype = scalar_type(t->dtype), .shape = t->shape});
    }

    std::vector<std::string> sources;
    for (const auto& p : parts) {
        sources.push_back(p.filename().string());
    }
    std::map<std::string, std::string> metadata{
        {"format", "pt"},
        {kConfigMetadataKey, config_yaml_text},
        {"evoscope.source", fmt::format("{}", fmt::join(sources, ","))},
    };
    if (max_seqlen) {
        metadata[kTrainedContextMetadataKey] = std::to_string(*max_seqlen);
    }

    // Tensors are zero-copy views of the mapping; once a tensor is written its storage pages
    // are evicted so the resident set holds about one tensor (page cache aside).
    std::optional<std::size_t> previous;
    auto tensor_at = [&](std::size_t i) {
        if (previous) {
            checkpoint.evict(*kept[*previous]);
        }
        previous = i;
        return bytes_view(checkpoint, *kept[i]);
    };
    write_safetensors(out, specs, tensor_at, metadata);
    if (previous) {
        checkpoint.evict(*kept[*previous]);
    }

    summary.n_tensors = static_cast<std::int64_t>(kept.size());
    summary.bytes_written = std::filesystem::file_size(out);
    return summary;
}

}  // namespace evoscope::model
