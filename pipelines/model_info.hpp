/// @file
/// The `model info` stage: what a model file holds, read from its safetensors header and
/// metadata alone (no libtorch, no tensor bytes): name, size, the context it was trained at.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace evoscope::pipelines {

struct ModelInfoOptions {
    std::string model;         ///< .safetensors model file
    std::string output = "-";  ///< TSV (key, value), - for stdout
    bool force = false;        ///< overwrite an existing output
};

struct ModelInfo {
    std::string model_name;  ///< config model_name, or the file name
    std::int64_t n_tensors = 0;
    /// Elements of every tensor in the file; a model's parameter count can be smaller
    /// (buffers such as precomputed filters are stored too).
    std::int64_t n_elements = 0;
    std::map<std::string, std::int64_t> dtype_elements;  ///< elements per dtype code
    std::int64_t hidden_size = 0;                        ///< 0 when the config does not say
    std::int64_t num_layers = 0;
    std::int64_t max_seqlen = 0;
    std::int64_t trained_context = 0;    ///< tokens; 0 when nothing records it
    std::string trained_context_source;  ///< metadata key, "config max_seqlen" or "unknown"
    std::string config_yaml;             ///< the evoscope.config metadata (empty if absent)
};

/// Reads the header and metadata. @throws FormatError/IoError naming the file.
ModelInfo read_model_info(const std::string& model);

/// Reads the header and writes `key<TAB>value` lines. @throws FormatError/IoError naming the file.
ModelInfo run_model_info(const ModelInfoOptions& options);

}  // namespace evoscope::pipelines
