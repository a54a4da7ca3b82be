/// @file
/// The Evo 2 (StripedHyena 2) model in libtorch: construction from a state dict in the official
/// vortex layout (docs/evo2-architecture.md §3.3, load transforms §3.5), random init, the
/// parallel forward pass of §2 with named activation sites, and the inverse transforms for
/// saving. Weights are held in the runtime layout (de-interleaved Hyena projections, [Q;K;V]
/// Wqkv); fp32 on CPU, bf16 on CUDA with the fp32 islands of §2.11. Immutable after
/// construction except through the training API (parameters(), forward_train: see
/// model/trainer.hpp); const forward calls may run concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/config.hpp"

namespace evoscope::model {

/// How the Hyena-MR (length 128) and Hyena-LI (length L) convolutions are computed.
/// Fft (the default, as vortex): FFT of length 2L. Direct: explicit causal sums over the
/// taps, O(L * taps), for tests and short sequences.
enum class ConvAlgo { Fft, Direct };

/// The context a model was trained at: tokens per training window (the window's predicted
/// tokens plus one; `model train --window W` trains at W + 1), and where that figure comes from.
/// Commands that run a model take their default window from it (pipelines/torch_model_source.hpp).
struct TrainedContext {
    std::int64_t tokens = 0;
    /// true: the `evoscope.trained_context` metadata of the model file (or set by the trainer);
    /// false: the config's max_seqlen, for files that record no trained context.
    bool recorded = false;
    /// "evoscope.trained_context" or "config max_seqlen", for log lines.
    std::string source() const;
};

class Evo2Model {
public:
    /// Builds the model from tensors named as in the official checkpoints (§3.3), applying
    /// T1 (extras `unembed.weight`, `*._extra_state`, `*.filter.t` ignored, counted and
    /// logged), T3 (dtypes), T4 (Wqkv rows per-head [q,k,v] -> [Q;K;V] when column_split),
    /// T5 (projections / short_filter_weight rows 3c+p -> p*D+c when interleave) once here;
    /// T6/T8 happen in every forward. Accepted stored dtypes: float32, bfloat16, float16.
    /// `inner_mlp_size` is taken from `blocks.0.mlp.l1.weight` when it differs from the config
    /// (the 1M-context checkpoints pad the FFN, §1.1), with an info line; config() reports it.
    /// @param official  name -> tensor, any device, any of the dtypes above (copied)
    /// @param device    "cpu", "cuda" or "cuda:N"
    /// @throws ModelError naming the key and the expected and found shape/dtype for a missing,
    ///         unexpected or mis-shaped tensor; InputError for a bad device string or config;
    ///         DeviceError when CUDA is asked for and unavailable.
    static Evo2Model from_state_dict(ModelConfig config,
                                     const std::map<std::string, at::Tensor>& official,
                                     const std::string& device);

    /// A random model, deterministic in `seed` (CPU generator, so the same on every device):
    /// linears N(0, 0.02) (output projections N(0, 0.02/sqrt(2 num_layers))), biases 0,
    /// norm scales 1, featurizer and HCS taps U(±1/sqrt(taps)), HCM taps N(0, 1/sqrt(128))
    /// times savanna's decay exp(-r t) (r = logspace(-2, 2) over groups, t in [0, 1]),
    /// log_poles = -exp(U(ln 1e-3, 0)), residues N(0, 0.1), D N(0, 0.1), inv_freq from
    /// rotary_emb_base. Tensors are created in the official dtypes (bf16, fp32 for
    /// log_poles/residues/inv_freq), so official_state_dict() returns exactly them.
    static Evo2Model init_random(ModelConfig config, std::uint64_t seed, const std::string& device);

    ~Evo2Model();
    Evo2Model(Evo2Model&&) noexcept;
    Evo2Model& operator=(Evo2Model&&) noexcept;

    /// The tensors in the official layout and names (§3.3), inverse transforms applied
    /// (T5⁻¹, T4⁻¹), each in the dtype it was loaded with (init_random: official dtypes),
    /// CPU, contiguous. Order: embedding, blocks in index order, norm. Bit-exact to the input of
    /// from_state_dict for every consumed key when the runtime dtype can hold the stored one
    /// (always on CPU; on CUDA for bf16/fp16-stored keys and fp32 log_poles/residues/inv_freq).
    std::vector<std::pair<std::string, at::Tensor>> official_state_dict() const;

    /// Next-token logits.
    /// @param ids  [B, L] integer token ids in 0..vocab_size-1, any device, L >= 1
    /// @return [B, L, vocab_size] float32 on CPU
    /// @throws InputError for a bad shape, dtype or id
    at::Tensor logits(const at::Tensor& ids) const;

    /// Runs the forward pass and returns the requested activation sites (see check_site) and,
    /// when `want_logits`, "logits". Stops after the deepest block any site needs when no
    /// logits are wanted. Every returned tensor is [B, L, hidden_size] (logits: vocab_size)
    /// float32 on CPU, contiguous.
    /// @throws InputError for a bad site (listing the valid forms) or bad ids.
    std::map<std::string, at::Tensor> run(const at::Tensor& ids,
                                          const std::vector<std::string>& sites,
                                          bool want_logits) const;

    /// Next-token logits [B, L, vocab] (float32, CPU) with the activation at `site` replaced by
    /// `replace(activation)`: the activation arrives as [B, L, hidden] float32 on the CPU and the
    /// result must have the same shape (it is moved back to the model's device and dtype). Used
    /// to splice an SAE reconstruction into the model (loss recovered).
    /// @throws InputError for a bad site or ids, or a replacement of the wrong shape.
    at::Tensor logits_with_replacement(
        const at::Tensor& ids,
        const std::string& site,
        const std::function<at::Tensor(const at::Tensor&)>& replace) const;
    /// Validates an activation site name: `embedding`, `blocks.N` (residual stream after block
    /// N), `blocks.N.mlp.l3` (MLP branch output before the residual add), `blocks.N.pre_norm`
    /// (pre-norm output), `final_norm`; N in 0..num_layers-1.
    /// @throws InputError naming the site and listing the valid forms.
    static void check_site(const std::string& site, std::int64_t num_layers);

    const ModelConfig& config() const;
    /// Canonical device string, e.g. "cpu" or "cuda:0".
    std::string device() const;
    /// Parameter count (tied embedding counted once; inv_freq buffers not counted).
    std::int64_t n_params() const;
    /// The trained context: the recorded one (set_trained_context, or the file's
    /// `evoscope.trained_context` metadata via load_model), else the config's max_seqlen.
    TrainedContext trained_context() const;
    /// Records the context the weights were trained at (tokens per training window, >= 2);
    /// save_model writes it to the file's metadata.
    /// @throws InputError when tokens < 2
    void set_trained_context(std::int64_t tokens);
    /// Hyena-MR/LI convolution algorithm (default Fft). Not thread-safe with running forwards.
    void set_conv_algo(ConvAlgo algo);

    // --- training (model/trainer.hpp) ---------------------------------------------------------

    /// The trainable tensors in the runtime layout (the live tensors the forward reads, not
    /// copies), named as the official keys they are saved under; inv_freq buffers excluded.
    /// Marks them requires_grad, so forward_train builds a graph; in-place updates (under
    /// NoGradGuard) change what logits(), run() and official_state_dict() see. The inference
    /// API is unaffected (it runs without gradients). Not thread-safe with running forwards.
    std::vector<std::pair<std::string, at::Tensor>> parameters();

    /// Next-token logits with autograd: the same computation as logits(), without the no-grad
    /// guard and the copy to CPU. Marks the weights requires_grad as parameters() does.
    /// @param ids  [B, L] integer token ids in 0..vocab_size-1, any device, L >= 1
    /// @return [B, L, vocab_size] in the activation dtype (fp32 on CPU, bf16 on CUDA) on the
    ///         model's device
    /// @throws InputError for a bad shape, dtype or id
    at::Tensor forward_train(const at::Tensor& ids);

    struct Impl;

private:
    explicit Evo2Model(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace evoscope::model
