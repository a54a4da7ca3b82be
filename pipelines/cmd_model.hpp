/// @file
/// Model subcommands: `evoscope model init`, `evoscope convert`, `evoscope score` and
/// `evoscope embed` (their options; the code that runs them is in torch_commands.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipelines/cli.hpp"
#include "pipelines/cmd_windows.hpp"

namespace evoscope::pipelines {

struct ModelInitConfig {
    CommonOptions common;
    std::string config_yaml;
    std::uint64_t seed = 0;
    std::string output;
    bool force = false;
};

struct ConvertConfig {
    CommonOptions common;
    std::string config_yaml;
    std::vector<std::string> checkpoint_parts;
    std::string output;
    bool force = false;
};

/// Where the model comes from, shared by score and embed.
struct ModelSourceOptions {
    std::string model;        ///< safetensors file
    std::string config_yaml;  ///< overrides the config in the file's metadata
    std::string device = "cpu";
};

struct ScoreConfig {
    CommonOptions common;
    ModelSourceOptions model;
    std::string fasta;
    std::vector<std::string> regions;
    std::string regions_bed;
    std::string rename_contigs;
    std::string logits_npy;
    std::string per_base_tsv;
    bool prepend_eod = false;
    bool force = false;
};

struct EmbedConfig {
    CommonOptions common;
    ModelSourceOptions model;
    WindowSourceOptions source;
    std::vector<std::string> sites;
    std::string output_dir;
    std::string npy;
    std::string dtype = "float32";
    std::int64_t batch = 4;
    std::int64_t rows_per_shard = 1 << 18;
    bool force = false;
};

/// Registers `model init`, `convert`, `score` and `embed`. Their run functions need libtorch and
/// live in evoscope_pipelines_torch (pipelines/torch_commands.hpp); with `torch` == nullptr the
/// commands re-execute this command line in `evoscope-torch`.
std::vector<Command> register_model_commands(CLI::App& root, const TorchRunners* torch);

}  // namespace evoscope::pipelines
