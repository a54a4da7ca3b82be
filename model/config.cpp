#include "model/config.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/check.hpp"
#include "core/log.hpp"

namespace evoscope::model {

std::string_view block_type_name(BlockType type) {
    switch (type) {
        case BlockType::HyenaSE:
            return "hcs";
        case BlockType::HyenaMR:
            return "hcm";
        case BlockType::HyenaLI:
            return "hcl";
        case BlockType::Attention:
            return "attn";
    }
    return "?";
}

namespace {

// Every field name of the official files (spec §1.3) that the runtime reads or writes back.
// Fields not listed are ignored with a debug line (e.g. use_flash_attn, prefill_style).
struct Reader {
    const YAML::Node& root;
    const std::string& source;
    std::set<std::string> seen;

    YAML::Node node(const std::string& key, bool required) {
        seen.insert(key);
        const YAML::Node n = root[key];
        if (!n.IsDefined() || n.IsNull()) {
            EVOSCOPE_CHECK_FORMAT(
                !required, "model config {}: required field '{}' is missing", source, key);
            return YAML::Node();
        }
        return n;
    }

    template <typename T>
    void get(const std::string& key, T& out, bool required) {
        const YAML::Node n = node(key, required);
        if (!n.IsDefined() || n.IsNull()) {
            return;
        }
        try {
            out = n.as<T>();
        } catch (const YAML::Exception& e) {
            throw FormatError(
                fmt::format("model config {}: field '{}' has value '{}' of the wrong type ({})",
                            source,
                            key,
                            YAML::Dump(n),
                            e.what()));
        }
    }

    void get_opt(const std::string& key, std::optional<double>& out) {
        const YAML::Node n = node(key, false);
        if (!n.IsDefined() || n.IsNull()) {
            out.reset();
            return;
        }
        double v = 0.0;
        get(key, v, false);
        out = v;
    }
};

// Doubles with a '.' so that PyYAML (YAML 1.1, used by vortex) also reads them as floats.
std::string format_double(double v) {
    std::string s = fmt::format("{}", v);
    if (s.find_first_of(".ne") == std::string::npos) {
        s += ".0";
    } else if (s.find('.') == std::string::npos && s.find('e') != std::string::npos) {
        s.insert(s.find('e'), ".0");
    }
    return s;
}

std::string format_list(const std::vector<std::int64_t>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
        s += fmt::format("{}{}", i ? "," : "", v[i]);
    }
    return s + "]";
}

const char* format_bool(bool b) {
    return b ? "True" : "False";
}

}  // namespace

ModelConfig ModelConfig::from_yaml(const std::string& text, const std::string& source) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw FormatError(fmt::format("model config {}: not valid YAML: {}", source, e.what()));
    }
    EVOSCOPE_CHECK_FORMAT(
        root.IsMap(), "model config {}: expected a YAML mapping of fields", source);

    ModelConfig c;
    Reader r{root, source, {}};
    r.get("model_name", c.model_name, false);
    r.get("vocab_size", c.vocab_size, true);
    r.get("hidden_size", c.hidden_size, true);
    c.num_filters = c.hidden_size;
    r.get("num_filters", c.num_filters, false);
    r.get("attn_layer_idxs", c.attn_layer_idxs, true);
    r.get("hcl_layer_idxs", c.hcl_layer_idxs, true);
    r.get("hcm_layer_idxs", c.hcm_layer_idxs, true);
    r.get("hcs_layer_idxs", c.hcs_layer_idxs, true);
    r.get("hcm_filter_length", c.hcm_filter_length, true);
    c.hcl_filter_groups = c.hidden_size;
    r.get("hcl_filter_groups", c.hcl_filter_groups, false);
    r.get("hcm_filter_groups", c.hcm_filter_groups, true);
    r.get("hcs_filter_groups", c.hcs_filter_groups, true);
    r.get("hcs_filter_length", c.hcs_filter_length, true);
    r.get("num_layers", c.num_layers, true);
    r.get("short_filter_length", c.short_filter_length, true);
    r.get("num_attention_heads", c.num_attention_heads, true);
    r.get("short_filter_bias", c.short_filter_bias, false);
    r.get("eps", c.eps, true);
    r.get("state_size", c.state_size, true);
    r.get("rotary_emb_base", c.rotary_emb_base, false);
    r.get_opt("rotary_emb_scaling_factor", c.rotary_emb_scaling_factor);
    r.get("use_interpolated_rotary_pos_emb", c.use_interpolated_rotary_pos_emb, false);
    r.get("make_vocab_size_divisible_by", c.make_vocab_size_divisible_by, false);
    r.get("inner_size_multiple_of", c.inner_size_multiple_of, false);
    r.get("inner_mlp_size", c.inner_mlp_size, true);
    r.get("proj_groups", c.proj_groups, false);
    r.get("hyena_filter_groups", c.hyena_filter_groups, false);
    r.get("column_split_hyena", c.column_split_hyena, false);
    r.get("column_split", c.column_split, false);
    r.get("interleave", c.interleave, false);
    r.get("evo2_style_activations", c.evo2_style_activations, false);
    r.get("tie_embeddings", c.tie_embeddings, false);
    r.get("mha_out_proj_bias", c.mha_out_proj_bias, false);
    r.get("hyena_out_proj_bias", c.hyena_out_proj_bias, false);
    r.get("hyena_flip_x1x2", c.hyena_flip_x1x2, false);
    r.get("qkv_proj_bias", c.qkv_proj_bias, false);
    r.get("use_fp8_input_projections", c.use_fp8_input_projections, false);
    r.get("max_seqlen", c.max_seqlen, false);
    r.get("max_batch_size", c.max_batch_size, false);
    r.get("final_norm", c.final_norm, false);
    r.get("mlp_activation", c.mlp_activation, false);

    for (auto it = root.begin(); it != root.end(); ++it) {
        const auto key = it->first.as<std::string>();
        if (!r.seen.contains(key)) {
            EVOSCOPE_LOG_DEBUG(
                "model config {}: field '{}' is not used by evoscope, ignored", source, key);
        }
    }
    try {
        c.validate();
    } catch (const InputError& e) {
        throw FormatError(fmt::format("model config {}: {}", source, e.what()));
    }
    return c;
}

ModelConfig ModelConfig::from_yaml_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    EVOSCOPE_CHECK_IO(in.good(), "cannot open model config {}", path.string());
    std::ostringstream text;
    text << in.rdbuf();
    EVOSCOPE_CHECK_IO(!in.bad(), "cannot read model config {}", path.string());
    return from_yaml(text.str(), path.string());
}

std::string ModelConfig::to_yaml() const {
    std::string s;
    auto line = [&s](std::string_view key, const std::string& value) {
        s += fmt::format("{}: {}\n", key, value);
    };
    if (!model_name.empty()) {
        // Double-quoted so names like "1e5" or "True" stay strings.
        std::string quoted = "\"";
        for (const char ch : model_name) {
            if (ch == '"' || ch == '\\') {
                quoted += '\\';
            }
            quoted += ch;
        }
        line("model_name", quoted + "\"");
    }
    line("vocab_size", std::to_string(vocab_size));
    line("hidden_size", std::to_string(hidden_size));
    line("num_filters", std::to_string(num_filters));
    line("hcl_layer_idxs", format_list(hcl_layer_idxs));
    line("hcm_layer_idxs", format_list(hcm_layer_idxs));
    line("hcs_layer_idxs", format_list(hcs_layer_idxs));
    line("attn_layer_idxs", format_list(attn_layer_idxs));
    line("hcm_filter_length", std::to_string(hcm_filter_length));
    line("hcl_filter_groups", std::to_string(hcl_filter_groups));
    line("hcm_filter_groups", std::to_string(hcm_filter_groups));
    line("hcs_filter_groups", std::to_string(hcs_filter_groups));
    line("hcs_filter_length", std::to_string(hcs_filter_length));
    line("num_layers", std::to_string(num_layers));
    line("short_filter_length", std::to_string(short_filter_length));
    line("num_attention_heads", std::to_string(num_attention_heads));
    line("short_filter_bias", format_bool(short_filter_bias));
    line("eps", format_double(eps));
    line("state_size", std::to_string(state_size));
    line("rotary_emb_base", format_double(rotary_emb_base));
    if (rotary_emb_scaling_factor) {
        line("rotary_emb_scaling_factor", format_double(*rotary_emb_scaling_factor));
    }
    line("use_interpolated_rotary_pos_emb", format_bool(use_interpolated_rotary_pos_emb));
    line("make_vocab_size_divisible_by", std::to_string(make_vocab_size_divisible_by));
    line("inner_size_multiple_of", std::to_string(inner_size_multiple_of));
    line("inner_mlp_size", std::to_string(inner_mlp_size));
    line("proj_groups", std::to_string(proj_groups));
    line("hyena_filter_groups", std::to_string(hyena_filter_groups));
    line("column_split_hyena", format_bool(column_split_hyena));
    line("column_split", format_bool(column_split));
    line("interleave", format_bool(interleave));
    line("evo2_style_activations", format_bool(evo2_style_activations));
    line("tie_embeddings", format_bool(tie_embeddings));
    line("mha_out_proj_bias", format_bool(mha_out_proj_bias));
    line("hyena_out_proj_bias", format_bool(hyena_out_proj_bias));
    line("hyena_flip_x1x2", format_bool(hyena_flip_x1x2));
    line("qkv_proj_bias", format_bool(qkv_proj_bias));
    line("use_fp8_input_projections", format_bool(use_fp8_input_projections));
    line("max_seqlen", std::to_string(max_seqlen));
    line("max_batch_size", std::to_string(max_batch_size));
    line("final_norm", format_bool(final_norm));
    line("mlp_activation", mlp_activation);
    return s;
}

void ModelConfig::validate() const {
    std::vector<std::string> problems;
    auto need = [&problems](bool ok, std::string what) {
        if (!ok) {
            problems.push_back(std::move(what));
        }
    };
    need(vocab_size > 0, fmt::format("vocab_size must be positive (got {})", vocab_size));
    need(hidden_size > 0, fmt::format("hidden_size must be positive (got {})", hidden_size));
    need(num_layers > 0, fmt::format("num_layers must be positive (got {})", num_layers));
    need(num_attention_heads > 0,
         fmt::format("num_attention_heads must be positive (got {})", num_attention_heads));
    need(inner_mlp_size > 0,
         fmt::format("inner_mlp_size must be positive (got {})", inner_mlp_size));
    need(state_size > 0, fmt::format("state_size must be positive (got {})", state_size));
    need(eps >= 0.0, fmt::format("eps must not be negative (got {})", eps));
    need(short_filter_length > 0,
         fmt::format("short_filter_length must be positive (got {})", short_filter_length));
    need(hcs_filter_length > 0 && hcs_filter_length < 128,
         fmt::format("hcs_filter_length must be in 1..127 (got {})", hcs_filter_length));
    // Below 128 vortex silently builds an HCS-like block without D (spec §2.5).
    need(hcm_filter_length >= 128,
         fmt::format("hcm_filter_length must be >= 128 (got {}; spec §2.5)", hcm_filter_length));
    if (hidden_size > 0) {
        if (num_attention_heads > 0) {
            need(hidden_size % num_attention_heads == 0,
                 fmt::format("hidden_size {} is not divisible by num_attention_heads {}",
                             hidden_size,
                             num_attention_heads));
            need(hidden_size % num_attention_heads != 0 ||
                     (hidden_size / num_attention_heads) % 2 == 0,
                 "the attention head dim must be even (rotary halves)");
        }
        need(
            hcm_filter_groups > 0 && hidden_size % hcm_filter_groups == 0,
            fmt::format(
                "hcm_filter_groups {} must divide hidden_size {}", hcm_filter_groups, hidden_size));
        need(
            hcs_filter_groups > 0 && hidden_size % hcs_filter_groups == 0,
            fmt::format(
                "hcs_filter_groups {} must divide hidden_size {}", hcs_filter_groups, hidden_size));
        need(num_filters > 0 && hidden_size % num_filters == 0,
             fmt::format("num_filters {} must divide hidden_size {}", num_filters, hidden_size));
    }
    need(!short_filter_bias, "short_filter_bias: True is not supported (Evo 2 has no such bias)");
    need(!qkv_proj_bias,
         "qkv_proj_bias: True is not supported (Evo 2 has no Wqkv/projections bias)");
    need(!column_split_hyena, "column_split_hyena: True is not supported");
    need(tie_embeddings, "tie_embeddings: False is not supported (Evo 2 ties the unembedding)");
    need(proj_groups == 1, fmt::format("proj_groups must be 1 (got {}; no GQA)", proj_groups));
    need(mlp_activation == "gelu" || mlp_activation == "identity",
         fmt::format("mlp_activation '{}' is not supported (gelu or identity)", mlp_activation));
    need(!rotary_emb_scaling_factor || *rotary_emb_scaling_factor > 0.0,
         "rotary_emb_scaling_factor must be positive");

    // Each block index in exactly one list ([V:vortex/model/model.py] get_block).
    std::vector<int> count(static_cast<std::size_t>(std::max<std::int64_t>(num_layers, 0)), 0);
    const std::pair<const char*, const std::vector<std::int64_t>*> lists[] = {
        {"attn_layer_idxs", &attn_layer_idxs},
        {"hcl_layer_idxs", &hcl_layer_idxs},
        {"hcm_layer_idxs", &hcm_layer_idxs},
        {"hcs_layer_idxs", &hcs_layer_idxs}};
    for (const auto& [name, list] : lists) {
        for (const std::int64_t i : *list) {
            if (i < 0 || i >= num_layers) {
                problems.push_back(
                    fmt::format("{} has index {} outside 0..{}", name, i, num_layers - 1));
            } else {
                ++count[static_cast<std::size_t>(i)];
            }
        }
    }
    for (std::size_t i = 0; i < count.size(); ++i) {
        need(count[i] == 1,
             fmt::format("block {} appears in {} of the *_layer_idxs lists (must be exactly one)",
                         i,
                         count[i]));
    }
    if (!problems.empty()) {
        std::string msg = "invalid model config:";
        for (const auto& p : problems) {
            msg += "\n  - " + p;
        }
        throw InputError(msg);
    }
}

std::vector<BlockType> ModelConfig::block_types() const {
    std::vector<BlockType> types(static_cast<std::size_t>(num_layers), BlockType::HyenaSE);
    auto mark = [&types](const std::vector<std::int64_t>& list, BlockType t) {
        for (const std::int64_t i : list) {
            EVOSCOPE_ASSERT(i >= 0 && static_cast<std::size_t>(i) < types.size());
            types[static_cast<std::size_t>(i)] = t;
        }
    };
    mark(hcs_layer_idxs, BlockType::HyenaSE);
    mark(hcm_layer_idxs, BlockType::HyenaMR);
    mark(hcl_layer_idxs, BlockType::HyenaLI);
    mark(attn_layer_idxs, BlockType::Attention);
    return types;
}

std::string ModelConfig::pattern() const {
    std::string s;
    for (const BlockType t : block_types()) {
        switch (t) {
            case BlockType::HyenaSE:
                s += 'S';
                break;
            case BlockType::HyenaMR:
                s += 'D';
                break;
            case BlockType::HyenaLI:
                s += 'H';
                break;
            case BlockType::Attention:
                s += '*';
                break;
        }
    }
    return s;
}

}  // namespace evoscope::model
