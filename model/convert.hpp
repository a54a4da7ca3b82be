/// @file
/// `evoscope convert`: an official `torch.save` checkpoint (one file or byte-split parts) to
/// the native safetensors format, keeping the official key names, shapes, dtypes and row
/// layouts (no load transforms: the model loader applies those, spec §3.5). Tensors stream
/// from the memory-mapped input straight into the output, so peak memory stays near the size
/// of the largest tensor, not of the checkpoint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace evoscope::model {

struct ConvertOptions {
    /// Drop the spec §3.4 extras no Evo 2 runtime reads: every `*._extra_state` (TE FP8 state,
    /// tensor or not), every `*.filter.t` (savanna's HCL time buffer, recomputed at run time)
    /// and `unembed.weight` when it is bit-identical to `embedding_layer.weight` (a copy the
    /// converters write; with tied embeddings it is unused). A differing `unembed.weight` is
    /// always kept. With false, only non-tensor entries are left out.
    bool drop_extra = true;
    /// Refuse to replace an existing output file.
    bool overwrite = false;
};

struct ConvertSummary {
    std::int64_t n_tensors = 0;  ///< tensors written
    std::int64_t n_skipped_non_tensor =
        0;  ///< entries whose value is not a tensor (BytesIO, str, int...)
    std::int64_t n_dropped_extra = 0;  ///< tensors dropped by ConvertOptions::drop_extra
    std::uint64_t bytes_written = 0;   ///< size of the output file
    std::vector<std::string> skipped;  ///< keys of the non-tensor entries
    std::vector<std::string> dropped;  ///< keys of the dropped extra tensors
};

/// Converts `parts` (one `.pt` file, or `.pt.part0`, `.pt.part1`, ... in order) to
/// safetensors at `out`, atomically. Metadata: `evoscope.config` = `config_yaml_text`
/// verbatim, `evoscope.source` = the input file names joined by ',', `format` = "pt", and
/// `evoscope.trained_context` = the YAML's max_seqlen when it has one (an official checkpoint's
/// last training stage ran at that length).
/// @throws InputError (config not a YAML mapping, output exists without `overwrite`,
///         a tensor dtype safetensors cannot hold), plus whatever TorchCheckpoint and the
///         writer throw (IoError, FormatError). No output file is left behind on failure.
ConvertSummary convert_checkpoint(const std::vector<std::filesystem::path>& parts,
                                  const std::string& config_yaml_text,
                                  const std::filesystem::path& out,
                                  const ConvertOptions& options = {});

}  // namespace evoscope::model
