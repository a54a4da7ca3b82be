/// @file
/// The Evo 2 / StripedHyena 2 model configuration, read from the official vortex YAML files
/// (field names exactly as there: docs/evo2-architecture.md §1.3) and written back by
/// to_yaml() (the text stored under the safetensors metadata key `evoscope.config`).
/// Invariant after validate(): every block index 0..num_layers-1 is in exactly one of the
/// four *_layer_idxs lists and all sizes divide as the architecture needs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evoscope::model {

/// Block kinds of StripedHyena 2 (spec §1.2): S = Hyena-SE (`hcs`), D = Hyena-MR (`hcm`),
/// H = Hyena-LI (`hcl`), * = attention.
enum class BlockType { HyenaSE, HyenaMR, HyenaLI, Attention };

/// "hcs", "hcm", "hcl" or "attn".
std::string_view block_type_name(BlockType type);

/// Every field the runtime reads, with the YAML field name as the member name. Fields of the
/// official files that vortex does not use (mlp_init_method, use_flash_attn, ...) are kept
/// where they are listed in §1.3 so that to_yaml() writes a file vortex can also read.
struct ModelConfig {
    std::string model_name;                     ///< optional
    std::int64_t vocab_size = 512;              ///< required
    std::int64_t hidden_size = 0;               ///< required: D
    std::int64_t num_filters = 0;               ///< optional, default D; D % num_filters == 0
    std::int64_t num_layers = 0;                ///< required
    std::vector<std::int64_t> attn_layer_idxs;  ///< required (may be empty)
    std::vector<std::int64_t> hcl_layer_idxs;   ///< required (may be empty)
    std::vector<std::int64_t> hcm_layer_idxs;   ///< required (may be empty)
    std::vector<std::int64_t> hcs_layer_idxs;   ///< required (may be empty)
    std::int64_t hcm_filter_length = 128;       ///< required; must be >= 128 (§2.5)
    std::int64_t hcl_filter_groups = 0;         ///< optional, not read by vortex; default D
    std::int64_t hcm_filter_groups = 0;         ///< required: G_m
    std::int64_t hcs_filter_groups = 0;         ///< required: G_s
    std::int64_t hcs_filter_length = 7;         ///< required; must be < 128
    std::int64_t short_filter_length = 3;       ///< required (featurizer taps)
    std::int64_t num_attention_heads = 0;       ///< required: H
    bool short_filter_bias = false;             ///< must be false (no such Evo 2 tensor)
    double eps = 1e-6;                          ///< RMSNorm eps, added to the RMS (§2.2)
    std::int64_t state_size = 16;               ///< required: S, HCL modes per channel
    double rotary_emb_base = 10000.0;  ///< used only by init (checkpoint inv_freq wins, T7)
    std::optional<double> rotary_emb_scaling_factor;  ///< linear position divisor when enabled
    bool use_interpolated_rotary_pos_emb = false;
    std::int64_t make_vocab_size_divisible_by = 8;  ///< unused
    std::int64_t inner_size_multiple_of = 16;       ///< unused
    std::int64_t inner_mlp_size = 0;         ///< required: I (a checkpoint's tensor shape wins)
    std::int64_t proj_groups = 1;            ///< must be 1 (no GQA)
    std::int64_t hyena_filter_groups = 1;    ///< unused
    bool column_split_hyena = false;         ///< must be false
    bool column_split = true;                ///< T4 Wqkv row permutation at load
    bool interleave = true;                  ///< T5 Hyena de-interleave at load
    bool evo2_style_activations = true;      ///< MLP activation in block 0 only (§2.9)
    bool tie_embeddings = true;              ///< must be true
    bool mha_out_proj_bias = true;           ///< attention out_proj has a bias
    bool hyena_out_proj_bias = true;         ///< Hyena out_filter_dense has a bias
    bool hyena_flip_x1x2 = false;            ///< swaps post- and pre-gate thirds
    bool qkv_proj_bias = false;              ///< must be false
    bool use_fp8_input_projections = false;  ///< recorded only: no FP8 emulation (§5.2)
    std::int64_t max_seqlen = 8192;          ///< KV-cache size in vortex; unused here
    std::int64_t max_batch_size = 1;         ///< unused
    bool final_norm = true;                  ///< RMSNorm before the unembedding
    std::string mlp_activation = "gelu";     ///< "gelu" (exact erf form) or "identity"

    /// Parses YAML text. `source` (a file name or "<metadata>") names the origin in errors.
    /// Unknown fields are ignored with a debug log line. Required fields (marked above) must be
    /// present; the others default to the values above. The result is validated.
    /// @throws FormatError naming `source` and the field: not YAML, not a mapping, a missing
    ///         required field, a value of the wrong type, or a validate() failure.
    static ModelConfig from_yaml(const std::string& text, const std::string& source);
    /// Reads and parses a file. @throws IoError when unreadable, else as from_yaml.
    static ModelConfig from_yaml_file(const std::filesystem::path& path);
    /// YAML text with every field above, in the order of the official files; from_yaml of it
    /// gives back an equal config.
    std::string to_yaml() const;

    /// Checks the invariants (block lists partition 0..num_layers-1, D % H == 0, head dim even,
    /// D % groups == 0, supported flag values, positive sizes).
    /// @throws InputError listing every problem found.
    void validate() const;

    /// Block type per index, from the four *_layer_idxs lists. Requires a valid config.
    std::vector<BlockType> block_types() const;
    /// The compact pattern string of §1.2, e.g. "SDH*SDH".
    std::string pattern() const;

    std::int64_t head_dim() const { return hidden_size / num_attention_heads; }

    bool operator==(const ModelConfig&) const = default;
};

}  // namespace evoscope::model
