/// @file
/// Sparse autoencoders: the four architectures (TopK, BatchTopK, ReLU + L1, JumpReLU), their
/// parameters, encoding and decoding. Training lives in sae/sae_trainer.hpp, file formats in
/// sae/formats.hpp.
///
/// Parameters (fp32, any device), SAELens names and meaning:
///   W_enc [d_in, d_sae]  encoder (kept internally as its transpose W_encT [d_sae, d_in], the
///                        dictionary_learning `encoder.weight` layout, so that the rows of the
///                        active latents are contiguous for sparse gradients)
///   W_dec [d_sae, d_in]  decoder; tied SAEs (Goodfire's Evo 2 SAE) use W_dec = W_encT
///   b_enc [d_sae], b_dec [d_in]
///   threshold [d_sae]    JumpReLU: per-latent threshold; BatchTopK: the inference threshold θ
///                        estimated during training (the same value for every latent)
///
/// Encoding (x: raw activations [N, d_in]):
///   x' = normalise(x)                         (see Normalization; identity when folded)
///   u  = apply_b_dec_to_input ? x' - b_dec : x'
///   pre = u W_enc + b_enc
///   TopK:      keep the k largest of relu(pre) per row
///   BatchTopK: training: keep the k·N largest of relu(pre) over the whole batch (Bussmann et al.
///              2024, arXiv 2412.06410); inference: relu(pre) where pre > θ (EncodeMode::Threshold)
///              or, as in Goodfire's notebook, batch-level top k·N (EncodeMode::BatchTopK)
///   ReLU:      relu(pre)
///   JumpReLU:  pre where pre > threshold (Rajamanoharan et al. 2024, arXiv 2407.14435)
///   x̂' = f W_dec + b_dec, x̂ = denormalise(x̂')
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace evoscope::sae {

enum class Arch : std::uint8_t { TopK, BatchTopK, ReLU, JumpReLU };
/// "topk", "batchtopk", "relu", "jumprelu".
const char* arch_name(Arch arch);
/// Accepts the names above (any case, also "batch_topk", "standard" for relu).
/// @throws InputError listing the valid names.
Arch parse_arch(std::string_view name);

/// Input normalisation applied before encoding (statistics estimated from the training data
/// before the first step and kept in the SAE):
///   None
///   MeanCenter    x' = x - mean                      (removes outlier directions that kill
///                                                     latents; Simon et al. 2026)
///   ConstantNorm  x' = x * scale, scale = sqrt(d_in) / E[||x||]   (SAELens
///                                                     "expected_average_only_in")
///   MeanCenterConstantNorm  both: x' = (x - mean) * scale
/// Every normalisation is affine, so it can be folded into the weights (fold_normalization),
/// which is how SAEs are exported: the saved SAE takes raw activations.
enum class Normalization : std::uint8_t { None, MeanCenter, ConstantNorm, MeanCenterConstantNorm };
const char* normalization_name(
    Normalization n);  ///< none, mean_center, constant_norm, mean_center_constant_norm
Normalization parse_normalization(std::string_view name);

struct SaeConfig {
    std::int64_t d_in = 0;
    std::int64_t d_sae = 0;
    Arch arch = Arch::TopK;
    std::int64_t k = 0;                ///< TopK/BatchTopK; 0 = unknown (Goodfire files: pass --k)
    bool tied = false;                 ///< W_dec = W_encT (one matrix)
    bool apply_b_dec_to_input = true;  ///< Goodfire's Evo 2 SAE: false
    Normalization normalization = Normalization::None;
    // Provenance (cfg.json metadata).
    std::string model_name;         ///< model file or name the SAE was trained on
    std::string hook_name;          ///< activation site, e.g. "blocks.26"
    std::string dtype = "float32";  ///< dtype the weights are stored in

    /// @throws InputError naming the field (d_in/d_sae < 1, k outside 1..d_sae for TopK, ...).
    void validate() const;
};

/// Active latents of N rows in CSR form (CPU): row n owns entries [row_ptr[n], row_ptr[n+1]).
struct SparseCodes {
    at::Tensor row_ptr;  ///< int64 [N + 1]
    at::Tensor ids;      ///< int64 [nnz], ascending within a row is NOT guaranteed
    at::Tensor values;   ///< float32 [nnz], nonzero
    std::int64_t n_rows() const;
    std::int64_t nnz() const;
};

enum class EncodeMode : std::uint8_t {
    Default,    ///< TopK: per-row top k; BatchTopK: threshold θ when the SAE has one, else
                ///< batch-level top k·N; ReLU/JumpReLU: their activation
    Threshold,  ///< BatchTopK: relu(pre) where pre > θ (needs θ)
    BatchTopK,  ///< BatchTopK: top k·N over the rows given together (window-dependent)
};

class Sae {
public:
    /// A fresh SAE for training (CPU generator, deterministic in `seed` on every device):
    /// W_dec rows drawn N(0, 1) and scaled to norm `dec_init_norm` (SAELens default 0.1; 1 for
    /// unit-norm training), W_encT = W_dec (tied initialisation, Gao et al. 2024), b_enc = 0,
    /// b_dec = 0, JumpReLU threshold = `jumprelu_init_threshold`, BatchTopK θ unset.
    static Sae init(const SaeConfig& config,
                    std::uint64_t seed,
                    const std::string& device,
                    double dec_init_norm = 0.1,
                    double jumprelu_init_threshold = 0.001);
    /// From tensors in SAELens layout (any dtype, copied to fp32 on `device`). `W_enc` may be
    /// undefined for tied SAEs (then W_enc = W_decᵀ); `threshold` may be undefined.
    /// @throws InputError naming the tensor and the expected and found shape.
    static Sae from_tensors(const SaeConfig& config,
                            const at::Tensor& W_enc,
                            const at::Tensor& W_dec,
                            const at::Tensor& b_enc,
                            const at::Tensor& b_dec,
                            const at::Tensor& threshold,
                            const std::string& device);
    ~Sae();
    Sae(Sae&&) noexcept;
    Sae& operator=(Sae&&) noexcept;
    Sae clone() const;

    const SaeConfig& config() const;
    std::string device() const;
    bool has_threshold() const;

    /// Normalisation statistics: `mean` [d_in] (MeanCenter*) and `scale` (ConstantNorm*).
    void set_normalization(Normalization n, const at::Tensor& mean, double scale);
    const at::Tensor& norm_mean() const;  ///< undefined when not mean-centring
    double norm_scale() const;            ///< 1 when not scaling
    /// Folds the normalisation into W_enc/b_enc/W_dec/b_dec (exact in real arithmetic) and sets
    /// it to None: the SAE then takes raw activations. Used before export.
    void fold_normalization();
    /// Estimates the statistics of `normalization` from sample rows [N, d_in] and sets them.
    void fit_normalization(Normalization n, const at::Tensor& sample);

    /// SAELens-layout tensors, CPU fp32 contiguous: W_enc [d_in, d_sae], W_dec [d_sae, d_in],
    /// b_enc, b_dec, and threshold [d_sae] when there is one. Call fold_normalization() first
    /// for a file that takes raw activations.
    std::vector<std::pair<std::string, at::Tensor>> saelens_tensors() const;

    /// Applies the input normalisation to raw rows (moved to the SAE's device, fp32).
    at::Tensor normalize_input(const at::Tensor& x) const;
    /// Inverse of normalize_input.
    at::Tensor denormalize_output(const at::Tensor& y) const;

    // --- inference (no gradients) --------------------------------------------------------------
    /// Pre-activations u W_enc + b_enc of raw rows [N, d_in] (normalised first). [N, d_sae]
    at::Tensor pre_activations(const at::Tensor& x) const;
    /// Feature activations as a dense [N, d_sae] tensor on the SAE's device.
    at::Tensor encode_dense(const at::Tensor& x, EncodeMode mode = EncodeMode::Default) const;
    /// Feature activations as CSR on the CPU. `k_override` > 0 replaces k (files without k).
    SparseCodes encode(const at::Tensor& x,
                       EncodeMode mode = EncodeMode::Default,
                       std::int64_t k_override = 0) const;
    /// Reconstruction in the raw activation space from dense codes [N, d_sae].
    at::Tensor decode_dense(const at::Tensor& f) const;
    /// Reconstruction from sparse codes.
    at::Tensor decode(const SparseCodes& codes) const;
    /// decode(encode(x)) in one go (dense or sparse path by architecture). [N, d_in]
    at::Tensor reconstruct(const at::Tensor& x, EncodeMode mode = EncodeMode::Default) const;

    // --- access for training and formats --------------------------------------------------------
    struct Params {
        at::Tensor W_encT;     ///< [d_sae, d_in]; aliases W_dec when tied
        at::Tensor W_dec;      ///< [d_sae, d_in]
        at::Tensor b_enc;      ///< [d_sae]
        at::Tensor b_dec;      ///< [d_in]
        at::Tensor threshold;  ///< [d_sae] or undefined
    };

    Params& params();
    const Params& params() const;
    /// Sets the BatchTopK inference threshold θ (every latent) or a JumpReLU vector.
    void set_threshold(const at::Tensor& threshold);

    struct Impl;

private:
    explicit Sae(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace evoscope::sae
