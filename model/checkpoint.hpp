/// @file
/// Evo 2 model files: safetensors with the official key names, shapes, dtypes and row layouts
/// (docs/evo2-architecture.md §3.3; load transforms are applied by Evo2Model), plus metadata
/// `evoscope.config` (the model config YAML text), `evoscope.format_version` and, for trained
/// models, `evoscope.trained_context` (decimal tokens per training window). Also a cheap content
/// hash for provenance manifests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "model/evo2_model.hpp"

namespace evoscope::model {

/// Metadata keys and the format version written by save_model.
inline constexpr const char* kConfigMetadataKey = "evoscope.config";
inline constexpr const char* kFormatVersionMetadataKey = "evoscope.format_version";
inline constexpr const char* kFormatVersion = "1";
/// Tokens per training window the weights were trained at (`model train --window W`: W + 1;
/// `convert`: the YAML's max_seqlen). Absent from `model init` output (untrained weights).
inline constexpr const char* kTrainedContextMetadataKey = "evoscope.trained_context";

/// Loads a model from a safetensors file. The config comes from `config_yaml` when given
/// (it wins over the file's), else from the file's `evoscope.config` metadata. The file's
/// `evoscope.trained_context`, when present, becomes the model's recorded trained context
/// (Evo2Model::trained_context; without it that falls back to the config's max_seqlen).
/// @param device  "cpu", "cuda" or "cuda:N"
/// @throws InputError when neither config source exists; IoError/FormatError from reading the
///         file or the YAML; ModelError for key/shape/dtype mismatches (see Evo2Model);
///         DeviceError when CUDA is unavailable.
Evo2Model load_model(const std::filesystem::path& safetensors,
                     const std::optional<std::filesystem::path>& config_yaml,
                     const std::string& device);

/// Writes `model` in the official layout (Evo2Model::official_state_dict) with the metadata
/// above (`evoscope.trained_context` only when the model has a recorded one), atomically.
/// save_model(load_model(f)) reproduces every consumed tensor of f bit-exactly.
/// @throws IoError
void save_model(const Evo2Model& model, const std::filesystem::path& path);

/// A 64-bit FNV-1a content hash for manifests, cheap for 14 GB files: it covers the file size,
/// the first 1 MiB (for safetensors: the whole JSON header of any model file) and 64 evenly
/// spaced 64 KiB samples of the rest (about 5 MiB read in all); files up to 8 MiB are hashed
/// whole. Returned as "fnv1a64s:<16 hex digits>". Detects any header change and almost every
/// weight change, but not an edit confined to unsampled bytes.
/// @throws IoError when the file cannot be read.
std::string content_hash(const std::filesystem::path& path);

}  // namespace evoscope::model
