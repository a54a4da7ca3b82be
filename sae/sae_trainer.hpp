/// @file
/// SAE training: losses with hand-written gradients (no autograd), Adam, the learning-rate
/// schedule, dead-latent tracking, AuxK, the BatchTopK inference threshold, and a state that
/// can be saved and restored bit-exactly.
///
/// Losses (B rows per batch, x the normalised input, x̂ its reconstruction):
///   mse      = (1/B) Σ_b ||x̂_b - x_b||²
///   relu     + λ1 (1/B) Σ_b Σ_i f_bi ||W_dec,i||      (decoder-norm-weighted L1, Anthropic 2024)
///   jumprelu + λ0 (1/B) Σ_b Σ_i H(pre_bi - θ_i)       (L0 with rectangle-kernel straight-through
///                                                      pseudo-derivatives, Rajamanoharan et al.
///                                                      2024 eq. 11-12)
///   topk / batchtopk + α AuxK: the aux_k largest pre-activations among dead latents reconstruct
///                      the residual x - x̂; loss ||ê - (x - x̂)||² / ||(x - x̂) - mean||²
///                      (Gao et al. 2024 §A.2; α = 1/32)
/// Sparse path (topk/batchtopk): decoding, the W_dec gradient, the code gradient and the W_enc
/// gradient touch only the active latents (sae/sparse_ops.hpp): O(B·k·d_in) instead of
/// O(B·d_sae·d_in); only the encoder's forward GEMM stays dense. Dense path: plain GEMMs (for
/// comparison, and for relu/jumprelu, whose codes are not bounded).
/// Unit-norm decoder: the component of each W_dec row's gradient parallel to the row is removed
/// before the update and rows are renormalised after it (Gao et al. 2024).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "sae/sae.hpp"

namespace evoscope::sae {

enum class DecoderPath : std::uint8_t { Sparse, Dense };

struct SaeTrainOptions {
    double lr = 4e-4;
    std::int64_t total_steps = 1000;
    std::int64_t warmup_steps = 50;  ///< linear warmup from lr/warmup
    double decay_fraction = 0.2;     ///< linear decay to 0 over the last fraction of the steps
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 6.25e-10;     ///< Gao et al. 2024
    double l1_coeff = 5.0;     ///< relu
    double l0_coeff = 1.0;     ///< jumprelu
    double bandwidth = 0.001;  ///< jumprelu ε
    std::int64_t aux_k = 0;    ///< 0: d_in / 2
    double aux_coeff = 1.0 / 32.0;
    std::int64_t dead_tokens = 10'000'000;  ///< dead after this many tokens without firing
    bool unit_norm_decoder = true;
    DecoderPath decoder = DecoderPath::Sparse;
    double theta_beta = 0.999;          ///< BatchTopK θ: EMA of the smallest selected activation
                                        ///< (a plain running mean for its first 1/(1-β) updates)
    std::int64_t theta_start_step = 0;  ///< θ estimation starts here (dictionary_learning: 1000)
};

/// lr·(step+1)/warmup during warmup, lr until the decay, then linear to 0 at the last step.
double sae_scheduled_lr(const SaeTrainOptions& options, std::int64_t step);

struct SaeStepStats {
    double loss = 0;      ///< total
    double mse = 0;       ///< (1/B) Σ ||x̂ - x||² (normalised space)
    double fvu = 0;       ///< mse / batch variance: 1 - explained variance of this batch
    double aux = 0;       ///< AuxK loss (before its coefficient)
    double sparsity = 0;  ///< relu: weighted L1; jumprelu: L0 term (before the coefficient)
    double l0 = 0;        ///< mean active latents per row
    double dead_fraction = 0;
    double lr = 0;
};

/// Gradients of one batch, in the layout of Sae::Params (W_encT and W_dec separate even when
/// tied: the trainer adds them). threshold: d loss / d θ (jumprelu only).
struct SaeGrads {
    at::Tensor W_encT, W_dec, b_enc, b_dec, threshold;
    SaeStepStats stats;
};

class SaeTrainer {
public:
    /// @param sae  trained in place; its normalisation must already be set (fit_normalization)
    SaeTrainer(Sae& sae, SaeTrainOptions options);

    /// Loss and gradients of raw rows [B, d_in] (no update; dead counters untouched).
    SaeGrads loss_and_grads(const at::Tensor& x) const;
    /// One Adam update on raw rows [B, d_in]; updates dead counters and θ.
    SaeStepStats step(const at::Tensor& x);

    std::int64_t n_steps() const { return step_; }

    std::int64_t tokens_seen() const { return tokens_; }

    /// Latents that have not fired in the last dead_tokens tokens.
    at::Tensor dead_mask() const;
    double dead_fraction() const;

    const SaeTrainOptions& options() const { return options_; }

    /// Everything an exact resume needs (CPU tensors): "step", "tokens", "since_fired",
    /// "theta", "adam.m.<name>", "adam.v.<name>".
    std::vector<std::pair<std::string, at::Tensor>> state() const;
    /// @throws FormatError naming a missing or mis-shaped entry.
    void load_state(const std::vector<std::pair<std::string, at::Tensor>>& state);

private:
    Sae& sae_;
    SaeTrainOptions options_;
    std::int64_t step_ = 0;
    std::int64_t tokens_ = 0;
    at::Tensor since_fired_;    ///< int64 [d_sae]
    double theta_ = -1;         ///< BatchTopK θ estimate (< 0: not started)
    at::Tensor log_threshold_;  ///< jumprelu: the trained parameter log θ
    std::vector<std::pair<std::string, at::Tensor>> m_, v_;
};

}  // namespace evoscope::sae
