/// @file
/// SAE files of other tools, read and written bit-exactly (fp32):
///   SaeLens             folder: sae_weights.safetensors (W_enc [d_in, d_sae], W_dec [d_sae, d_in],
///                       b_enc, b_dec, threshold) + cfg.json; what `train-sae` writes.
///   Goodfire            Evo 2 SAE .pt (torch.save of {W [d_in, d_sae], b_enc, b_dec}, keys may
///                       carry `_orig_mod.`/`module.`): tied, no b_dec subtraction, BatchTopK.
///   DictionaryLearning  saprmarks/dictionary_learning ae.pt (nn.Linear layout: encoder.weight
///                       [d_sae, d_in], encoder.bias, decoder.weight [d_in, d_sae], b_dec, buffers
///                       k and threshold) + optional config.json beside it.
/// See ../shared/docs/sae-methods.md §1.2 and §4.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "sae/sae.hpp"

namespace evoscope::sae {

enum class SaeFormat : std::uint8_t { SaeLens, Goodfire, DictionaryLearning };

/// "saelens", "goodfire", "dictionary_learning".
const char* format_name(SaeFormat format);
/// The names above. @throws InputError listing them.
SaeFormat parse_format(std::string_view name);

/// The format of `path`: a folder holding cfg.json (or a file beside one) is SaeLens; a folder
/// holding ae.pt is DictionaryLearning; a .pt file whose keys (after stripping `_orig_mod.` and
/// `module.`) are W, b_enc, b_dec is Goodfire, one with encoder.weight and decoder.weight is
/// DictionaryLearning.
/// @throws InputError (path missing), FormatError listing the keys found otherwise.
SaeFormat detect_sae_format(const std::filesystem::path& path);

struct LoadOptions {
    std::optional<SaeFormat> format;  ///< nullopt: detect_sae_format
    std::int64_t k_override = 0;      ///< > 0: replaces the stored k (Goodfire files have none)
    std::string device = "cpu";
    std::int64_t expected_d_in = 0;  ///< > 0: the model's hidden size, checked against d_in
    std::string site;                ///< activation site named in the d_in error, e.g. "blocks.4"
};

/// Loads an SAE (weights copied to fp32 on `options.device`). Goodfire files need k from
/// `k_override` or from the file name (`..._k_64.pt`, `k64`). A dictionary_learning file's
/// architecture comes from config.json's trainer.dict_class when present, else BatchTopK when it
/// has buffers k and threshold, TopK with k alone, ReLU without k; a threshold < 0 (never
/// estimated) is dropped. Tied: config's "evoscope.tied" when present, else W_enc == W_decᵀ bit
/// for bit.
/// `format_used`, when given, receives the format read (detected or as asked).
/// @throws InputError (missing file, k unknown, d_in != expected_d_in), FormatError (missing
///         keys, wrong shapes, NaN/Inf, bad cfg.json), each naming the file and the key.
Sae load_sae(const std::filesystem::path& path,
             const LoadOptions& options = {},
             SaeFormat* format_used = nullptr);

/// Writes `sae` (normalisation folded into a copy first) atomically:
///   SaeLens: the folder `path` (built in a temporary folder, then renamed);
///   Goodfire: a .pt; only for tied SAEs that do not subtract b_dec (else InputError);
///   DictionaryLearning: ae.pt at `path` when it ends in .pt, else in the folder `path`, plus
///   config.json beside it (the folder is created). dictionary_learning always
///   subtracts b_dec before encoding: for SAEs that do not, b_dec·W_enc is folded into
///   encoder.bias (exact up to fp32 rounding; logged). JumpReLU has no such layout (InputError).
/// .pt files are torch.save-compatible zip archives of a plain dict (torch.load reads them).
/// @throws InputError (exists and !overwrite, format cannot hold this SAE), IoError.
void save_sae(const Sae& sae,
              const std::filesystem::path& path,
              SaeFormat format,
              bool overwrite = false);

/// Reads the tensors of a torch.save state dict as (key, CPU tensor owning its memory), in file
/// order, non-tensor entries skipped, through formats/torch_save.hpp (plain dicts and Python
/// `module.state_dict()` OrderedDicts alike). @throws IoError, FormatError naming the file.
std::vector<std::pair<std::string, at::Tensor>> read_state_dict(const std::filesystem::path& path);

/// Writes `tensors` (copied to CPU, contiguous) as a torch.save-compatible zip of a plain dict
/// {name: tensor}, atomically, overwriting. torch.load, formats/torch_save.hpp and
/// torch::pickle_load read it. @throws InputError (undefined tensor), IoError.
void write_state_dict(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors);

}  // namespace evoscope::sae
