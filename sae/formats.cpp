// SAELens, Goodfire and dictionary_learning SAE files (layouts: ../shared/docs/sae-methods.md
// §1.2 and §4; dictionary_learning classes: saprmarks/dictionary_learning dictionary.py and
// trainers/top_k.py, batch_top_k.py).
#include "sae/formats.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <system_error>

#include <ATen/ATen.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <caffe2/serialize/inline_container.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "core/run_info.hpp"
#include "formats/safetensors.hpp"
#include "formats/torch_save.hpp"

namespace evoscope::sae {
namespace fs = std::filesystem;
using json = nlohmann::json;
using TensorList = std::vector<std::pair<std::string, at::Tensor>>;

namespace {

constexpr const char* kSaeLensWeights = "sae_weights.safetensors";
constexpr const char* kSaeLensConfig = "cfg.json";
constexpr const char* kDlWeights = "ae.pt";
constexpr const char* kDlConfig = "config.json";
constexpr int kEvoscopeFormatVersion = 1;

std::string shape_str(at::IntArrayRef shape) {
    return fmt::format("[{}]", fmt::join(shape, ", "));
}

/// SAELens/PyTorch dtype names.
std::string dtype_name(at::ScalarType t) {
    switch (t) {
        case at::kFloat:
            return "float32";
        case at::kDouble:
            return "float64";
        case at::kHalf:
            return "float16";
        case at::kBFloat16:
            return "bfloat16";
        default:
            return c10::toString(t);
    }
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    EVOSCOPE_CHECK_IO(in.good(), "cannot read '{}': {}", path.string(), std::strerror(errno));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EVOSCOPE_CHECK_IO(!in.bad(), "reading '{}' failed", path.string());
    return text;
}

json read_json(const fs::path& path) {
    const std::string text = read_text(path);
    try {
        json j = json::parse(text);
        EVOSCOPE_CHECK_FORMAT(j.is_object(), "'{}': not a JSON object", path.string());
        return j;
    } catch (const json::parse_error& e) {
        throw FormatError(fmt::format("'{}': not valid JSON: {}", path.string(), e.what()));
    }
}

// ---------------------------------------------------------------------------------------------
// .pt state dicts

at::ScalarType scalar_type_of(TorchDtype dtype) {
    switch (dtype) {
        case TorchDtype::Double:
            return at::kDouble;
        case TorchDtype::Float:
            return at::kFloat;
        case TorchDtype::Half:
            return at::kHalf;
        case TorchDtype::BFloat16:
            return at::kBFloat16;
        case TorchDtype::Long:
            return at::kLong;
        case TorchDtype::Int:
            return at::kInt;
        case TorchDtype::Short:
            return at::kShort;
        case TorchDtype::Char:
            return at::kChar;
        case TorchDtype::Byte:
            return at::kByte;
        case TorchDtype::Bool:
            return at::kBool;
        case TorchDtype::ComplexFloat:
            return at::kComplexFloat;
        case TorchDtype::ComplexDouble:
            return at::kComplexDouble;
    }
    EVOSCOPE_ASSERT_MSG(false, "unknown TorchDtype {}", static_cast<int>(dtype));
    return at::kFloat;  // not reached
}

/// A CPU tensor owning a copy of `t` (model/ has the zero-copy adapter, which sae/ may not use).
at::Tensor owned_tensor(const TorchSaveFile& file, const TorchSaveTensor& t) {
    at::Tensor storage =
        at::empty({t.storage_numel}, at::TensorOptions().dtype(scalar_type_of(t.dtype)));
    file.read_storage(t, {static_cast<std::byte*>(storage.data_ptr()), storage.nbytes()});
    return storage.as_strided(t.shape, t.stride, t.storage_offset).clone();
}

/// Strips torch.compile's `_orig_mod.` and DDP's `module.` prefixes (in any order, repeated).
std::string strip_prefixes(std::string key) {
    for (bool changed = true; changed;) {
        changed = false;
        for (const std::string_view prefix : {"_orig_mod.", "module."}) {
            if (key.rfind(prefix, 0) == 0) {
                key.erase(0, prefix.size());
                changed = true;
            }
        }
    }
    return key;
}

std::map<std::string, at::Tensor> stripped_state_dict(const fs::path& path,
                                                      const TensorList& tensors) {
    std::map<std::string, at::Tensor> out;
    for (const auto& [key, t] : tensors) {
        const std::string name = strip_prefixes(key);
        EVOSCOPE_CHECK_FORMAT(
            out.emplace(name, t).second,
            "'{}': two entries are named '{}' once the _orig_mod./module. prefixes are "
            "stripped",
            path.string(),
            name);
    }
    return out;
}

std::string key_list(const std::map<std::string, at::Tensor>& sd) {
    std::vector<std::string> keys;
    for (const auto& [k, t] : sd) {
        keys.push_back(fmt::format("{} {}", k, shape_str(t.sizes())));
    }
    return keys.empty() ? std::string("none") : fmt::format("{}", fmt::join(keys, ", "));
}

std::optional<SaeFormat> format_from_keys(const std::map<std::string, at::Tensor>& sd) {
    if (sd.count("W") != 0 && sd.count("b_enc") != 0 && sd.count("b_dec") != 0) {
        return SaeFormat::Goodfire;
    }
    if (sd.count("encoder.weight") != 0 && sd.count("decoder.weight") != 0) {
        return SaeFormat::DictionaryLearning;
    }
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Checks

const at::Tensor& require_key(const std::map<std::string, at::Tensor>& sd,
                              const std::string& key,
                              const fs::path& path,
                              std::string_view what) {
    const auto it = sd.find(key);
    EVOSCOPE_CHECK_FORMAT(it != sd.end(),
                          "'{}': missing tensor '{}' ({}); found: {}",
                          path.string(),
                          key,
                          what,
                          key_list(sd));
    return it->second;
}

void check_shape(const at::Tensor& t,
                 std::vector<std::int64_t> want,
                 const fs::path& path,
                 const std::string& key,
                 std::string_view meaning) {
    EVOSCOPE_CHECK_FORMAT(t.sizes().vec() == want,
                          "'{}': tensor '{}' has shape {}, expected {} ({})",
                          path.string(),
                          key,
                          shape_str(t.sizes()),
                          shape_str(want),
                          meaning);
}

void check_float(const at::Tensor& t, const fs::path& path, const std::string& key) {
    EVOSCOPE_CHECK_FORMAT(at::isFloatingType(t.scalar_type()),
                          "'{}': tensor '{}' is {}, expected a float dtype",
                          path.string(),
                          key,
                          c10::toString(t.scalar_type()));
    EVOSCOPE_CHECK_FORMAT(at::isfinite(t).all().item<bool>(),
                          "'{}': tensor '{}' holds NaN or Inf values",
                          path.string(),
                          key);
}

void check_d_in(std::int64_t d_in, const fs::path& path, const LoadOptions& options) {
    if (options.expected_d_in <= 0) {
        return;
    }
    EVOSCOPE_CHECK(d_in == options.expected_d_in,
                   "'{}': SAE d_in {} does not match the model's hidden size {}{}",
                   path.string(),
                   d_in,
                   options.expected_d_in,
                   options.site.empty() ? std::string() : fmt::format(" (site {})", options.site));
}

/// W_enc [d_in, d_sae] and W_dec [d_sae, d_in] are one matrix (bit for bit).
bool is_tied(const at::Tensor& W_enc, const at::Tensor& W_dec) {
    return W_enc.scalar_type() == W_dec.scalar_type() && W_enc.sizes() == W_dec.t().sizes() &&
           at::equal(W_enc, W_dec.t());
}

/// k from a Goodfire file name: `..._k_64.pt`, `...-k64.pt`.
std::int64_t k_from_file_name(const fs::path& path) {
    static const std::regex kPattern("(?:^|[^A-Za-z0-9])[kK]_?([0-9]+)(?=$|[^A-Za-z0-9])");
    const std::string stem = path.stem().string();
    std::int64_t k = 0;
    for (auto it = std::sregex_iterator(stem.begin(), stem.end(), kPattern);
         it != std::sregex_iterator();
         ++it) {
        k = std::stoll((*it)[1].str());
    }
    return k;
}

std::int64_t json_int(const json& j, const char* key, const fs::path& path) {
    const auto it = j.find(key);
    EVOSCOPE_CHECK_FORMAT(it != j.end(), "'{}': missing '{}'", path.string(), key);
    EVOSCOPE_CHECK_FORMAT(it->is_number_integer(),
                          "'{}': '{}' is {}, not an integer",
                          path.string(),
                          key,
                          it->dump());
    return it->get<std::int64_t>();
}

std::string json_string(const json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<bool> evoscope_tied(const json& cfg) {
    const auto e = cfg.find("evoscope");
    if (e == cfg.end() || !e->is_object()) {
        return std::nullopt;
    }
    const auto t = e->find("tied");
    if (t == e->end() || !t->is_boolean()) {
        return std::nullopt;
    }
    return t->get<bool>();
}

Sae finish(SaeConfig config,
           const at::Tensor& W_enc,
           const at::Tensor& W_dec,
           const at::Tensor& b_enc,
           const at::Tensor& b_dec,
           const at::Tensor& threshold,
           const fs::path& path,
           const LoadOptions& options) {
    check_d_in(config.d_in, path, options);
    if (options.k_override > 0) {
        config.k = options.k_override;
    }
    try {
        config.validate();
    } catch (const InputError& e) {
        throw InputError(fmt::format("'{}': {}", path.string(), e.what()));
    }
    return Sae::from_tensors(
        config, config.tied ? at::Tensor() : W_enc, W_dec, b_enc, b_dec, threshold, options.device);
}

// ---------------------------------------------------------------------------------------------
// SAELens

at::Tensor safetensors_tensor(const SafetensorsReader& file, const std::string& name) {
    const SafetensorsEntry* e = file.find(name);
    if (e == nullptr) {
        return {};
    }
    at::ScalarType dtype{};
    if (e->dtype == "F32") {
        dtype = at::kFloat;
    } else if (e->dtype == "F64") {
        dtype = at::kDouble;
    } else if (e->dtype == "F16") {
        dtype = at::kHalf;
    } else if (e->dtype == "BF16") {
        dtype = at::kBFloat16;
    } else {
        throw FormatError(fmt::format("'{}': tensor '{}' is {}, expected F32, F64, F16 or BF16",
                                      file.path().string(),
                                      name,
                                      e->dtype));
    }
    at::Tensor t = at::empty(e->shape, at::TensorOptions().dtype(dtype));
    const auto bytes = file.bytes(*e);
    if (!bytes.empty()) {
        std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
    }
    return t;
}

fs::path saelens_folder(const fs::path& path) {
    return fs::is_directory(path) ? path : path.parent_path();
}

Arch saelens_arch(const json& cfg, const fs::path& cfg_path) {
    std::string arch = json_string(cfg, "architecture");
    std::transform(
        arch.begin(), arch.end(), arch.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string activation = json_string(cfg, "activation_fn_str");
    if (activation.empty()) {
        activation = json_string(cfg, "activation_fn");
    }
    if (arch.empty() || arch == "standard" || arch == "relu") {
        // SAELens before v6 stored TopK SAEs as "standard" with activation_fn_str "topk".
        return activation == "topk" ? Arch::TopK : Arch::ReLU;
    }
    if (arch == "topk") {
        return Arch::TopK;
    }
    if (arch == "batchtopk" || arch == "batch_topk") {
        return Arch::BatchTopK;
    }
    if (arch == "jumprelu") {
        return Arch::JumpReLU;
    }
    throw FormatError(
        fmt::format("'{}': architecture '{}' is not supported (expected standard, relu, topk, "
                    "batchtopk or jumprelu)",
                    cfg_path.string(),
                    arch));
}

Sae load_saelens(const fs::path& path, const LoadOptions& options) {
    const fs::path folder = saelens_folder(path);
    const fs::path cfg_path = folder / kSaeLensConfig;
    const fs::path weights_path = folder / kSaeLensWeights;
    EVOSCOPE_CHECK(fs::exists(cfg_path),
                   "'{}': no {} (not a SAELens SAE folder)",
                   folder.string(),
                   kSaeLensConfig);
    EVOSCOPE_CHECK(fs::exists(weights_path), "'{}': no {}", folder.string(), kSaeLensWeights);
    const json cfg = read_json(cfg_path);

    SaeConfig config;
    config.d_in = json_int(cfg, "d_in", cfg_path);
    config.d_sae = json_int(cfg, "d_sae", cfg_path);
    config.arch = saelens_arch(cfg, cfg_path);
    if (cfg.contains("k") && !cfg["k"].is_null()) {
        config.k = json_int(cfg, "k", cfg_path);
    } else if (const auto kw = cfg.find("activation_fn_kwargs");
               kw != cfg.end() && kw->is_object() && kw->contains("k")) {
        config.k = json_int(*kw, "k", cfg_path);
    }
    if (const auto it = cfg.find("apply_b_dec_to_input"); it != cfg.end()) {
        EVOSCOPE_CHECK_FORMAT(it->is_boolean(),
                              "'{}': 'apply_b_dec_to_input' is {}, not true/false",
                              cfg_path.string(),
                              it->dump());
        config.apply_b_dec_to_input = it->get<bool>();
    }
    if (const auto it = cfg.find("normalize_activations"); it != cfg.end() && !it->is_null()) {
        const std::string norm = it->is_string() ? it->get<std::string>() : it->dump();
        EVOSCOPE_CHECK_FORMAT(
            norm == "none",
            "'{}': normalize_activations '{}' is not supported (only 'none'): those "
            "weights expect activations rescaled at run time by a factor SAELens estimates "
            "from data; fold it into the weights before exporting",
            cfg_path.string(),
            norm);
    }
    const std::string dtype = json_string(cfg, "dtype");
    config.dtype = dtype.empty() ? "float32" : dtype;
    if (const auto m = cfg.find("metadata"); m != cfg.end() && m->is_object()) {
        config.model_name = json_string(*m, "model_name");
        config.hook_name = json_string(*m, "hook_name");
    }
    if (config.model_name.empty()) {
        config.model_name = json_string(cfg, "model_name");
    }
    if (config.hook_name.empty()) {
        config.hook_name = json_string(cfg, "hook_name");
    }

    const SafetensorsReader file(weights_path);
    const auto d = config.d_in;
    const auto n = config.d_sae;
    auto get =
        [&](const std::string& key, std::vector<std::int64_t> shape, std::string_view meaning) {
            at::Tensor t = safetensors_tensor(file, key);
            EVOSCOPE_CHECK_FORMAT(
                t.defined(), "'{}': missing tensor '{}' ({})", weights_path.string(), key, meaning);
            check_shape(t, std::move(shape), weights_path, key, meaning);
            check_float(t, weights_path, key);
            return t;
        };
    const at::Tensor W_dec = get("W_dec", {n, d}, "decoder [d_sae, d_in]");
    const at::Tensor b_enc = get("b_enc", {n}, "encoder bias [d_sae]");
    const at::Tensor b_dec = get("b_dec", {d}, "decoder bias [d_in]");
    const at::Tensor W_enc = get("W_enc", {d, n}, "encoder [d_in, d_sae]");
    at::Tensor threshold;
    if (file.find("threshold") != nullptr) {
        threshold = get("threshold", {n}, "per-latent threshold [d_sae]");
    }
    EVOSCOPE_CHECK_FORMAT(config.arch != Arch::JumpReLU || threshold.defined(),
                          "'{}': missing tensor 'threshold' (a jumprelu SAE needs one)",
                          weights_path.string());
    config.tied = evoscope_tied(cfg).value_or(is_tied(W_enc, W_dec));
    return finish(config, W_enc, W_dec, b_enc, b_dec, threshold, weights_path, options);
}

// ---------------------------------------------------------------------------------------------
// Goodfire and dictionary_learning

Sae load_goodfire(const fs::path& path,
                  const std::map<std::string, at::Tensor>& sd,
                  const LoadOptions& options) {
    const at::Tensor& b_dec = require_key(sd, "b_dec", path, "decoder bias [d_in]");
    const at::Tensor& b_enc = require_key(sd, "b_enc", path, "encoder bias [d_sae]");
    const at::Tensor& W = require_key(sd, "W", path, "tied weights [d_in, d_sae]");
    EVOSCOPE_CHECK_FORMAT(b_dec.dim() == 1 && b_enc.dim() == 1,
                          "'{}': b_dec {} and b_enc {} must be vectors",
                          path.string(),
                          shape_str(b_dec.sizes()),
                          shape_str(b_enc.sizes()));
    SaeConfig config;
    config.d_in = b_dec.size(0);
    config.d_sae = b_enc.size(0);
    check_shape(W, {config.d_in, config.d_sae}, path, "W", "tied weights [d_in, d_sae]");
    for (const char* key : {"W", "b_enc", "b_dec"}) {
        check_float(sd.at(key), path, key);
    }
    config.arch = Arch::BatchTopK;
    config.tied = true;
    config.apply_b_dec_to_input = false;
    config.dtype = dtype_name(W.scalar_type());
    config.k = options.k_override > 0 ? options.k_override : k_from_file_name(path);
    check_d_in(config.d_in, path, options);
    EVOSCOPE_CHECK(
        config.k > 0,
        "'{}': a Goodfire SAE file does not store k and its name has no k_N: pass --k (k 64 for "
        "Evo 2's sae-layer26-mixed-expansion_8-k_64.pt)",
        path.string());
    return finish(config, W, W.t(), b_enc, b_dec, at::Tensor(), path, options);
}

Sae load_dictionary_learning(const fs::path& path,
                             const std::map<std::string, at::Tensor>& sd,
                             const LoadOptions& options) {
    const at::Tensor& enc_w = require_key(sd, "encoder.weight", path, "encoder [d_sae, d_in]");
    EVOSCOPE_CHECK_FORMAT(enc_w.dim() == 2,
                          "'{}': tensor 'encoder.weight' has shape {}, expected [d_sae, d_in]",
                          path.string(),
                          shape_str(enc_w.sizes()));
    SaeConfig config;
    config.d_sae = enc_w.size(0);
    config.d_in = enc_w.size(1);
    const auto d = config.d_in;
    const auto n = config.d_sae;
    const at::Tensor& enc_b = require_key(sd, "encoder.bias", path, "encoder bias [d_sae]");
    const at::Tensor& dec_w = require_key(sd, "decoder.weight", path, "decoder [d_in, d_sae]");
    const std::string b_dec_key =
        sd.count("b_dec") == 0 && sd.count("bias") != 0 ? "bias" : "b_dec";
    const at::Tensor& b_dec = require_key(sd, b_dec_key, path, "decoder bias [d_in]");
    check_shape(enc_b, {n}, path, "encoder.bias", "encoder bias [d_sae]");
    check_shape(dec_w, {d, n}, path, "decoder.weight", "decoder, nn.Linear layout [d_in, d_sae]");
    check_shape(b_dec, {d}, path, b_dec_key, "decoder bias [d_in]");
    for (const auto& key : {std::string("encoder.weight"),
                            std::string("encoder.bias"),
                            std::string("decoder.weight"),
                            b_dec_key}) {
        check_float(sd.at(key), path, key);
    }

    json cfg;
    const fs::path cfg_path = path.parent_path() / kDlConfig;
    std::string dict_class;
    if (fs::exists(cfg_path)) {
        cfg = read_json(cfg_path);
        if (const auto t = cfg.find("trainer"); t != cfg.end() && t->is_object()) {
            dict_class = json_string(*t, "dict_class");
            if (t->contains("k") && (*t)["k"].is_number_integer()) {
                config.k = (*t)["k"].get<std::int64_t>();
            }
            config.model_name = json_string(*t, "lm_name");
            config.hook_name = json_string(*t, "submodule_name");
            if (t->contains("activation_dim")) {
                EVOSCOPE_CHECK_FORMAT(
                    json_int(*t, "activation_dim", cfg_path) == d,
                    "'{}': trainer.activation_dim {} does not match encoder.weight {} in '{}'",
                    cfg_path.string(),
                    (*t)["activation_dim"].dump(),
                    shape_str(enc_w.sizes()),
                    path.string());
            }
            if (t->contains("dict_size")) {
                EVOSCOPE_CHECK_FORMAT(
                    json_int(*t, "dict_size", cfg_path) == n,
                    "'{}': trainer.dict_size {} does not match encoder.weight {} in '{}'",
                    cfg_path.string(),
                    (*t)["dict_size"].dump(),
                    shape_str(enc_w.sizes()),
                    path.string());
            }
        }
    }
    const auto k_it = sd.find("k");
    if (k_it != sd.end()) {
        EVOSCOPE_CHECK_FORMAT(
            k_it->second.numel() == 1 && !at::isFloatingType(k_it->second.scalar_type()),
            "'{}': tensor 'k' should be an integer scalar, found {} {}",
            path.string(),
            c10::toString(k_it->second.scalar_type()),
            shape_str(k_it->second.sizes()));
        config.k = k_it->second.item<std::int64_t>();
    }
    at::Tensor threshold;
    const auto th_it = sd.find("threshold");
    if (th_it != sd.end()) {
        threshold = th_it->second;
        EVOSCOPE_CHECK_FORMAT(
            threshold.numel() == 1 || threshold.sizes().vec() == std::vector<std::int64_t>{n},
            "'{}': tensor 'threshold' has shape {}, expected a scalar or [{}]",
            path.string(),
            shape_str(threshold.sizes()),
            n);
        check_float(threshold, path, "threshold");
    }
    if (dict_class.empty()) {
        config.arch = k_it == sd.end()    ? Arch::ReLU
                      : th_it != sd.end() ? Arch::BatchTopK
                                          : Arch::TopK;
    } else if (dict_class == "AutoEncoderTopK") {
        config.arch = Arch::TopK;
    } else if (dict_class == "BatchTopKSAE") {
        config.arch = Arch::BatchTopK;
    } else if (dict_class == "AutoEncoder") {
        config.arch = Arch::ReLU;
    } else {
        throw FormatError(
            fmt::format("'{}': dict_class '{}' is not supported (AutoEncoder, AutoEncoderTopK, "
                        "BatchTopKSAE)",
                        cfg_path.string(),
                        dict_class));
    }
    // dictionary_learning stores -1 for a threshold never estimated (fewer steps than
    // threshold_start_step); ReLU SAEs have none.
    if (config.arch == Arch::ReLU ||
        (threshold.defined() && threshold.numel() == 1 && threshold.item<double>() < 0)) {
        threshold = at::Tensor();
    }
    config.tied = evoscope_tied(cfg).value_or(is_tied(enc_w.t(), dec_w.t()));
    config.apply_b_dec_to_input = true;
    config.dtype = dtype_name(enc_w.scalar_type());
    return finish(config, enc_w.t(), dec_w.t(), enc_b, b_dec, threshold, path, options);
}

fs::path dl_weights_path(const fs::path& path) {
    return fs::is_directory(path) ? path / kDlWeights : path;
}

Sae load_pt(const fs::path& path,
            std::optional<SaeFormat> format,
            const LoadOptions& options,
            SaeFormat* format_used) {
    const auto sd = stripped_state_dict(path, read_state_dict(path));
    const auto detected = format_from_keys(sd);
    if (!format) {
        EVOSCOPE_CHECK_FORMAT(
            detected.has_value(),
            "'{}': not a Goodfire (W, b_enc, b_dec) or dictionary_learning (encoder.weight, "
            "decoder.weight, ...) SAE; keys found: {}",
            path.string(),
            key_list(sd));
        format = detected;
    }
    if (format_used != nullptr) {
        *format_used = *format;
    }
    if (*format == SaeFormat::Goodfire) {
        return load_goodfire(path, sd, options);
    }
    return load_dictionary_learning(path, sd, options);
}

// ---------------------------------------------------------------------------------------------
// Writing

void check_output(const fs::path& path, bool overwrite) {
    EVOSCOPE_CHECK(overwrite || !fs::exists(path),
                   "output '{}' exists (use --force to overwrite)",
                   path.string());
}

std::span<const std::byte> bytes_of(const at::Tensor& t) {
    return {static_cast<const std::byte*>(t.data_ptr()), t.nbytes()};
}

std::map<std::string, at::Tensor> tensors_by_name(const Sae& sae) {
    std::map<std::string, at::Tensor> out;
    for (auto& [name, t] : sae.saelens_tensors()) {
        out.emplace(name, t);
    }
    return out;
}

json evoscope_section(const SaeConfig& config, Normalization folded) {
    return json{{"version", version_string()},
                {"format_version", kEvoscopeFormatVersion},
                {"tied", config.tied},
                {"normalization_folded", normalization_name(folded)}};
}

/// A folder written beside `path` under a temporary name, renamed into place by commit().
class TempFolder {
public:
    explicit TempFolder(const fs::path& path) : path_(path), temp_(temp_path_for(path)) {
        const auto parent = path_.parent_path();
        EVOSCOPE_CHECK_IO(parent.empty() || fs::is_directory(parent),
                          "cannot write '{}': directory '{}' does not exist",
                          path_.string(),
                          parent.string());
        std::error_code ec;
        fs::create_directory(temp_, ec);
        EVOSCOPE_CHECK_IO(!ec, "cannot create '{}': {}", temp_.string(), ec.message());
    }

    ~TempFolder() {
        if (!committed_) {
            std::error_code ec;
            fs::remove_all(temp_, ec);
        }
    }

    TempFolder(const TempFolder&) = delete;
    TempFolder& operator=(const TempFolder&) = delete;

    const fs::path& path() const { return temp_; }

    /// Renames the folder into place; an existing `path` is moved aside first and removed after.
    void commit() {
        std::error_code ec;
        fs::path old;
        if (fs::exists(fs::symlink_status(path_))) {
            old = temp_path_for(path_);
            fs::rename(path_, old, ec);
            EVOSCOPE_CHECK_IO(!ec, "cannot replace '{}': {}", path_.string(), ec.message());
        }
        fs::rename(temp_, path_, ec);
        if (ec) {
            std::error_code ignored;
            if (!old.empty()) {
                fs::rename(old, path_, ignored);
            }
            throw IoError(fmt::format(
                "cannot move output into place at '{}': {}", path_.string(), ec.message()));
        }
        committed_ = true;
        if (!old.empty()) {
            fs::remove_all(old, ec);
        }
    }

private:
    fs::path path_;
    fs::path temp_;
    bool committed_ = false;
};

void write_json(const fs::path& path, const json& j) {
    write_file_atomic(path, j.dump(2) + "\n");
}

void save_saelens(const Sae& sae, Normalization folded, const fs::path& path) {
    const SaeConfig& c = sae.config();
    const auto tensors = sae.saelens_tensors();
    std::vector<SafetensorsTensor> raw;
    for (const auto& [name, t] : tensors) {
        raw.push_back(SafetensorsTensor{
            .name = name, .dtype = "F32", .shape = t.sizes().vec(), .data = bytes_of(t)});
    }
    json cfg{{"architecture", c.arch == Arch::ReLU ? "standard" : arch_name(c.arch)},
             {"d_in", c.d_in},
             {"d_sae", c.d_sae},
             {"dtype", "float32"},
             {"device", "cpu"},
             {"apply_b_dec_to_input", c.apply_b_dec_to_input},
             {"normalize_activations", "none"}};
    if ((c.arch == Arch::TopK || c.arch == Arch::BatchTopK) && c.k > 0) {
        cfg["k"] = c.k;
    }
    cfg["metadata"] = json{{"model_name", c.model_name}, {"hook_name", c.hook_name}};
    cfg["evoscope"] = evoscope_section(c, folded);

    TempFolder folder(path);
    write_safetensors(folder.path() / kSaeLensWeights,
                      raw,
                      {{"format", "pt"}, {"evoscope.version", version_string()}});
    write_json(folder.path() / kSaeLensConfig, cfg);
    folder.commit();
}

}  // namespace

// Like torch::pickle_save, but with the pickler's type tags off: pickle_save wraps a typed dict in
// torch.jit._pickle.restore_type_tag(dict, "Dict[str, Tensor]"), which torch.load evaluates but
// other readers (formats/torch_save.hpp, weights-only unpicklers) do not know.
void write_state_dict(const fs::path& path, const TensorList& tensors) {
    c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
    for (const auto& [name, t] : tensors) {
        EVOSCOPE_CHECK(t.defined(), "'{}': tensor '{}' is undefined", path.string(), name);
        dict.insert(name, t.to(at::kCPU).contiguous());
    }
    std::vector<char> pickle;
    torch::jit::Pickler pickler(
        [&](const char* data, std::size_t n) { pickle.insert(pickle.end(), data, data + n); },
        nullptr,
        nullptr,
        nullptr,
        nullptr,
        /*tag_aggregates=*/false);
    pickler.protocol();
    pickler.pushIValue(dict);
    pickler.stop();
    OutputFile out(path.string());
    caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, std::size_t n) {
        out.write(std::string_view(static_cast<const char*>(data), n));
        return n;
    });
    torch::jit::writeArchiveAndTensors(
        "data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
    writer.writeEndOfFile();
    out.commit();
}

namespace {

void save_goodfire(const Sae& sae, const fs::path& path) {
    const SaeConfig& c = sae.config();
    EVOSCOPE_CHECK(
        c.tied && !c.apply_b_dec_to_input,
        "cannot write '{}' as a Goodfire .pt: that format holds one matrix W used as encoder and "
        "(transposed) decoder and encodes without subtracting b_dec; this SAE is {}{} (write "
        "saelens "
        "or dictionary_learning instead)",
        path.string(),
        c.tied ? "tied" : "untied",
        c.apply_b_dec_to_input ? " and subtracts b_dec before encoding" : "");
    EVOSCOPE_CHECK(c.arch == Arch::BatchTopK,
                   "cannot write '{}' as a Goodfire .pt: readers of that format apply ReLU then "
                   "batch top-k, but "
                   "this SAE is {}",
                   path.string(),
                   arch_name(c.arch));
    if (sae.has_threshold()) {
        EVOSCOPE_LOG_WARN(
            "{}: a Goodfire .pt has no place for the BatchTopK threshold; it is not written",
            path.string());
    }
    if (k_from_file_name(path) != c.k) {
        EVOSCOPE_LOG_WARN(
            "{}: a Goodfire .pt does not store k ({}); readers take it from a file name "
            "ending in _k_{} or from --k",
            path.string(),
            c.k,
            c.k);
    }
    auto t = tensors_by_name(sae);
    write_state_dict(path,
                     {{"W", t.at("W_enc")}, {"b_enc", t.at("b_enc")}, {"b_dec", t.at("b_dec")}});
}

void save_dictionary_learning(const Sae& sae,
                              Normalization folded,
                              const fs::path& path,
                              bool overwrite) {
    const SaeConfig& c = sae.config();
    EVOSCOPE_CHECK(
        c.arch != Arch::JumpReLU,
        "cannot write '{}' as dictionary_learning: its JumpReluAutoEncoder uses another layout "
        "(W_enc, W_dec) and rescales features by decoder norms; write saelens instead",
        path.string());
    const bool topk = c.arch == Arch::TopK || c.arch == Arch::BatchTopK;
    EVOSCOPE_CHECK(!topk || c.k > 0,
                   "cannot write '{}' as dictionary_learning: the {} SAE's k is unknown (pass --k)",
                   path.string(),
                   arch_name(c.arch));
    const fs::path weights =
        fs::is_directory(path) || path.extension() != ".pt" ? path / kDlWeights : path;
    const fs::path cfg_path = weights.parent_path() / kDlConfig;
    check_output(weights, overwrite);
    check_output(cfg_path, overwrite);
    // dictionary_learning keeps one SAE per folder (ae.pt + config.json): create it.
    if (!weights.parent_path().empty()) {
        std::error_code ec;
        fs::create_directories(weights.parent_path(), ec);
        EVOSCOPE_CHECK_IO(
            !ec, "cannot create '{}': {}", weights.parent_path().string(), ec.message());
    }

    auto t = tensors_by_name(sae);
    at::Tensor b_enc = t.at("b_enc");
    bool folded_b_dec = false;
    if (!c.apply_b_dec_to_input) {
        // dictionary_learning encodes relu((x - b_dec) W_enc + b_enc'): b_enc' = b_enc + b_dec
        // W_enc, summed in float64 so the only error is the final rounding to float32.
        b_enc = (b_enc.to(at::kDouble) +
                 at::matmul(t.at("b_dec").to(at::kDouble), t.at("W_enc").to(at::kDouble)))
                    .to(at::kFloat)
                    .contiguous();
        folded_b_dec = true;
        EVOSCOPE_LOG_WARN(
            "{}: dictionary_learning subtracts b_dec before encoding and this SAE does not: "
            "encoder.bias = b_enc + b_dec·W_enc (equal up to float32 rounding)",
            path.string());
    }
    const char* dict_class = c.arch == Arch::TopK        ? "AutoEncoderTopK"
                             : c.arch == Arch::BatchTopK ? "BatchTopKSAE"
                                                         : "AutoEncoder";
    TensorList tensors{{"encoder.weight", t.at("W_enc").t().contiguous()},
                       {"encoder.bias", b_enc},
                       {"decoder.weight", t.at("W_dec").t().contiguous()},
                       {c.arch == Arch::ReLU ? "bias" : "b_dec", t.at("b_dec")}};
    if (topk) {
        tensors.emplace_back("k", at::scalar_tensor(c.k, at::kInt));
        at::Tensor threshold = at::scalar_tensor(-1.0, at::kFloat);
        if (const auto it = t.find("threshold"); it != t.end()) {
            const at::Tensor& th = it->second;
            threshold = at::equal(th, th[0].expand_as(th)) ? th[0].clone() : th;
        }
        tensors.emplace_back("threshold", threshold);
    }
    json trainer{{"dict_class", dict_class},
                 {"activation_dim", c.d_in},
                 {"dict_size", c.d_sae},
                 {"lm_name", c.model_name},
                 {"submodule_name", c.hook_name}};
    if (topk) {
        trainer["k"] = c.k;
    }
    json evoscope = evoscope_section(c, folded);
    evoscope["folded_b_dec_into_encoder_bias"] = folded_b_dec;
    write_state_dict(weights, tensors);
    write_json(cfg_path, json{{"trainer", trainer}, {"evoscope", evoscope}});
}

}  // namespace

const char* format_name(SaeFormat format) {
    switch (format) {
        case SaeFormat::SaeLens:
            return "saelens";
        case SaeFormat::Goodfire:
            return "goodfire";
        case SaeFormat::DictionaryLearning:
            return "dictionary_learning";
    }
    return "?";
}

SaeFormat parse_format(std::string_view name) {
    for (const SaeFormat f :
         {SaeFormat::SaeLens, SaeFormat::Goodfire, SaeFormat::DictionaryLearning}) {
        if (name == format_name(f)) {
            return f;
        }
    }
    throw InputError(fmt::format(
        "unknown SAE format '{}': expected saelens, goodfire or dictionary_learning", name));
}

TensorList read_state_dict(const fs::path& path) {
    EVOSCOPE_CHECK(
        fs::is_regular_file(path), "'{}' does not exist or is not a file", path.string());
    const TorchSaveFile file({path});
    TensorList out;
    out.reserve(file.tensors().size());
    for (const TorchSaveTensor& t : file.tensors()) {
        out.emplace_back(t.name, owned_tensor(file, t));
    }
    return out;
}

SaeFormat detect_sae_format(const fs::path& path) {
    EVOSCOPE_CHECK(fs::exists(path), "SAE '{}' does not exist", path.string());
    if (fs::is_directory(path)) {
        if (fs::exists(path / kSaeLensConfig)) {
            return SaeFormat::SaeLens;
        }
        if (fs::exists(path / kDlWeights)) {
            return SaeFormat::DictionaryLearning;
        }
        throw FormatError(
            fmt::format("'{}': a folder with neither {} (SAELens) nor {} (dictionary_learning)",
                        path.string(),
                        kSaeLensConfig,
                        kDlWeights));
    }
    if (path.filename() == kSaeLensConfig || path.extension() == ".safetensors") {
        EVOSCOPE_CHECK_FORMAT(fs::exists(path.parent_path() / kSaeLensConfig),
                              "'{}': no {} beside it (SAELens keeps one next to the weights)",
                              path.string(),
                              kSaeLensConfig);
        return SaeFormat::SaeLens;
    }
    const auto sd = stripped_state_dict(path, read_state_dict(path));
    const auto format = format_from_keys(sd);
    EVOSCOPE_CHECK_FORMAT(
        format.has_value(),
        "'{}': not a Goodfire (W, b_enc, b_dec) or dictionary_learning (encoder.weight, "
        "decoder.weight, ...) SAE; keys found: {}",
        path.string(),
        key_list(sd));
    return *format;
}

Sae load_sae(const fs::path& path, const LoadOptions& options, SaeFormat* format_used) {
    torch::NoGradGuard no_grad;
    EVOSCOPE_CHECK(fs::exists(path), "SAE '{}' does not exist", path.string());
    std::optional<SaeFormat> format = options.format;
    if (fs::is_directory(path) || path.filename() == kSaeLensConfig ||
        path.extension() == ".safetensors") {
        if (!format) {
            format = detect_sae_format(path);
        }
        if (*format == SaeFormat::SaeLens) {
            if (format_used != nullptr) {
                *format_used = SaeFormat::SaeLens;
            }
            return load_saelens(path, options);
        }
        return load_pt(dl_weights_path(path), format, options, format_used);
    }
    EVOSCOPE_CHECK(format != SaeFormat::SaeLens,
                   "'{}': a SAELens SAE is a folder with {} and {}",
                   path.string(),
                   kSaeLensWeights,
                   kSaeLensConfig);
    return load_pt(path, format, options, format_used);
}

void save_sae(const Sae& sae, const fs::path& path, SaeFormat format, bool overwrite) {
    torch::NoGradGuard no_grad;
    check_output(path, overwrite);
    const Normalization folded = sae.config().normalization;
    Sae copy = sae.clone();
    copy.fold_normalization();
    switch (format) {
        case SaeFormat::SaeLens:
            save_saelens(copy, folded, path);
            break;
        case SaeFormat::Goodfire:
            save_goodfire(copy, path);
            break;
        case SaeFormat::DictionaryLearning:
            save_dictionary_learning(copy, folded, path, overwrite);
            break;
    }
}

}  // namespace evoscope::sae
