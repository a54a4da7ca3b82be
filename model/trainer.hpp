/// @file
/// Causal next-base training of an Evo2Model: the learning-rate schedule (linear warmup, cosine
/// decay), a hand-written AdamW with fp32 master weights whose whole state can be saved and
/// restored bit-exactly, gradient clipping by global norm, one training step on a batch of
/// token windows, held-out evaluation, and a counter-based window sampler (draw i depends only
/// on the seed and i, so a resumed run sees the same data order). No genomics types: sequences
/// arrive as token vectors or strings.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/evo2_model.hpp"
#include "model/tokenizer.hpp"

namespace evoscope::model {

/// Optimiser and schedule settings. Steps count optimizer updates, 0-based inside formulas.
struct TrainConfig {
    double lr = 3e-4;                 ///< peak learning rate (after warmup)
    double min_lr = 3e-5;             ///< floor reached at the last step
    std::int64_t warmup_steps = 100;  ///< linear warmup from lr/warmup to lr
    std::int64_t total_steps = 1000;  ///< length of the cosine decay (warmup included)
    double weight_decay = 0.1;        ///< decoupled; matrices only (see AdamW)
    double beta1 = 0.9;
    double beta2 = 0.95;
    double eps = 1e-8;
    double grad_clip = 1.0;  ///< max global gradient L2 norm; <= 0 disables
};

/// Learning rate of update `step` (0-based): lr*(step+1)/warmup during warmup, then
/// min_lr + (lr-min_lr)/2 * (1 + cos(pi * p)), p = (step-warmup)/(total-warmup) clamped to 1.
double scheduled_lr(const TrainConfig& config, std::int64_t step);

/// AdamW as torch.optim.AdamW (decoupled decay p *= 1 - lr*wd, bias-corrected moments,
/// denominator sqrt(v_hat) + eps). Keeps an fp32 master copy of every parameter that is not
/// fp32 (bf16 on CUDA) and writes the rounded value back after each update. Decay applies to
/// 2-D `*weight` tensors except the featurizer taps (`short_filter_weight`).
class AdamW {
public:
    /// @param params  named live tensors (Evo2Model::parameters()), any device
    AdamW(std::vector<std::pair<std::string, at::Tensor>> params, const TrainConfig& config);

    /// One update with each parameter's .grad() (parameters without a gradient are skipped).
    void step(double lr);
    /// Clears every parameter's gradient.
    void zero_grad();

    std::int64_t n_steps() const { return n_steps_; }

    /// The full state, CPU tensors: "step" (int64 [1]) and per parameter "master.<name>",
    /// "exp_avg.<name>", "exp_avg_sq.<name>" (fp32, runtime layout).
    std::vector<std::pair<std::string, at::Tensor>> state() const;
    /// Restores state() output exactly (masters copied into the parameters too).
    /// @throws ModelError naming a missing or mis-shaped entry.
    void load_state(const std::vector<std::pair<std::string, at::Tensor>>& state);

private:
    struct Slot {
        std::string name;
        at::Tensor param;
        at::Tensor master;  // == param when param is fp32
        at::Tensor exp_avg;
        at::Tensor exp_avg_sq;
        bool decay = false;
    };

    std::vector<Slot> slots_;
    TrainConfig config_;
    std::int64_t n_steps_ = 0;
};

/// Scales all gradients so that their global L2 norm is at most `max_norm` (when it is > 0).
/// @return the norm before clipping
double clip_grad_norm(std::span<const at::Tensor> params, double max_norm);

/// Mean cross-entropy (nats) of predicting ids[:, 1:] from ids[:, :-1], with autograd.
/// @param ids  [B, W+1] token ids, W >= 1
/// @return scalar fp32 tensor on the model's device
at::Tensor next_token_loss(Evo2Model& model, const at::Tensor& ids);

struct StepResult {
    double loss = 0;       ///< mean nats per predicted token, before the update
    double grad_norm = 0;  ///< before clipping
    double lr = 0;
};

/// Owns the optimizer; drives one model, which must outlive it. Not thread-safe.
class Trainer {
public:
    /// Marks the model's parameters trainable (Evo2Model::parameters()).
    /// @throws InputError for an invalid config (learning rates, betas, eps, steps).
    Trainer(Evo2Model& model, const TrainConfig& config);

    /// One update on `ids` [B, W+1] at lr scheduled_lr(config, n_steps()).
    StepResult step(const at::Tensor& ids);

    std::int64_t n_steps() const { return optimizer_.n_steps(); }

    /// Writes the optimizer state (AdamW::state) to a safetensors file (atomic).
    void save_optimizer(const std::filesystem::path& path) const;
    /// Reads it back. @throws IoError/FormatError/ModelError
    void load_optimizer(const std::filesystem::path& path);

    Evo2Model& model() { return model_; }

private:
    Evo2Model& model_;
    TrainConfig config_;
    std::vector<at::Tensor> params_;
    AdamW optimizer_;
};

struct EvalResult {
    double nats_per_token = 0;
    std::int64_t n_predicted = 0;
};

/// Held-out loss of `model` on `sequences` (no gradients): each sequence is cut into chunks of
/// at most window+1 tokens overlapping by one, so every token but a sequence's first is
/// predicted exactly once, with up to `window` tokens of context; equal-length chunks run in
/// batches of `batch`. Sequences shorter than 2 tokens contribute nothing.
EvalResult evaluate(const Evo2Model& model,
                    std::span<const std::vector<TokenId>> sequences,
                    std::int64_t window,
                    std::int64_t batch);

/// Where one training window comes from.
struct WindowDraw {
    std::size_t segment = 0;  ///< index into the segment list
    std::int64_t offset = 0;  ///< 0-based start inside the segment (forward-strand coordinates)
    bool reverse = false;     ///< take the reverse complement
};

/// Uniform draws of windows of `length` bases over segments (every valid start equally likely,
/// so segments are weighted by their number of starts), each strand with probability 1/2 when
/// `both_strands`. Counter-based (SplitMix64 of seed and index): draw(i) depends only on the
/// seed and i, and is the same on every platform.
class WindowSampler {
public:
    /// @throws InputError when no segment is at least `length` long (naming the longest).
    WindowSampler(std::vector<std::int64_t> segment_lengths,
                  std::int64_t length,
                  bool both_strands,
                  std::uint64_t seed);
    /// Weighted groups (genomes): segment s belongs to group `group_of[s]`; a draw first picks a
    /// group with probability weight / sum(weights), then a start uniformly among that group's
    /// starts. Groups of weight 0 are never drawn.
    /// @throws InputError when a group with a positive weight has no start of `length` bases
    ///         (naming `group_names[g]`), or when the weights are negative, not finite or all 0.
    WindowSampler(std::vector<std::int64_t> segment_lengths,
                  std::vector<std::size_t> group_of,
                  std::vector<double> group_weights,
                  std::vector<std::string> group_names,
                  std::int64_t length,
                  bool both_strands,
                  std::uint64_t seed);
    WindowDraw draw(std::uint64_t index) const;

    /// Total number of distinct window starts.
    std::int64_t n_starts() const { return cumulative_.empty() ? 0 : cumulative_.back(); }

    /// Expected fraction of windows from each group (one entry per group; {1} when ungrouped).
    std::vector<double> group_shares() const;

private:
    std::vector<std::int64_t> lengths_;
    std::vector<std::int64_t> cumulative_;  // running sum of starts per segment
    std::int64_t length_;
    bool both_strands_;
    std::uint64_t seed_;
    // Weighted mode only (empty otherwise).
    std::vector<double> group_cdf_;                         // cumulative normalised group weights
    std::vector<std::vector<std::size_t>> group_segments_;  // segment indices of each group
    std::vector<std::vector<std::int64_t>> group_cumulative_;  // running starts within each group
    std::size_t last_drawable_group_ = 0;                      // the last group of positive weight
};

}  // namespace evoscope::model
