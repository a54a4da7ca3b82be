// Evo 2 / StripedHyena 2 forward pass and weight handling. Section numbers (§) refer to
// docs/evo2-architecture.md; [V:...] to the vortex reference it cites. Activations are kept in
// the (B, L, C) layout everywhere, so the Hyena convolutions run along dim 1 and no transposes
// are needed between the GEMMs.
#include "model/evo2_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>
#include <torch/fft.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "core/check.hpp"
#include "core/log.hpp"

namespace evoscope::model {

namespace {

// ---------------------------------------------------------------------------------------------
// Weights in the runtime layout.

struct Slots {
    // globals
    at::Tensor embedding;  // [V, D]
    at::Tensor norm;       // [D]
    // per block
    at::Tensor pre_norm;   // [D]
    at::Tensor post_norm;  // [D]
    at::Tensor proj;       // [3D, D], rows p*D + c (T5 applied)
    at::Tensor short_w;    // [3D, K_sf], rows p*D + c (T5 applied), xcorr orientation
    at::Tensor h;          // HCS [G_s, 7] xcorr orientation; HCM [G_m, 128] conv orientation
    at::Tensor d_skip;     // [D] HCM/HCL gated skip
    at::Tensor log_poles;  // [D, S] fp32
    at::Tensor residues;   // [D, S] fp32
    at::Tensor out_w;      // [D, D]
    at::Tensor out_b;      // [D]
    at::Tensor wqkv;       // [3D, D], rows [Q; K; V] x (head, dim) (T4 applied)
    at::Tensor inv_freq;   // [hd/2] fp32
    at::Tensor l1, l2;     // [I, D]
    at::Tensor l3;         // [D, I]
};

enum class Layout { Plain, Deinterleave, Wqkv };

// One tensor of the official checkpoint (§3.3) and where it lives at runtime.
struct KeySpec {
    std::string name;
    std::vector<std::int64_t> shape;  // official shape
    std::int64_t block = -1;          // -1: global
    at::Tensor Slots::*slot = nullptr;
    Layout layout = Layout::Plain;
    int squeeze_dim = -1;      // official has an extra size-1 dim here
    bool fp32_island = false;  // kept fp32 at runtime on every device (T3)
};

std::vector<KeySpec> key_specs(const ModelConfig& c) {
    const std::int64_t D = c.hidden_size;
    const std::int64_t I = c.inner_mlp_size;
    std::vector<KeySpec> specs;
    specs.push_back({"embedding_layer.weight", {c.vocab_size, D}, -1, &Slots::embedding});
    const auto types = c.block_types();
    for (std::size_t b = 0; b < types.size(); ++b) {
        const auto i = static_cast<std::int64_t>(b);
        const std::string p = fmt::format("blocks.{}.", b);
        auto add = [&](std::string name,
                       std::vector<std::int64_t> shape,
                       at::Tensor Slots::*slot,
                       Layout layout = Layout::Plain,
                       int squeeze = -1,
                       bool fp32 = false) {
            specs.push_back({p + name, std::move(shape), i, slot, layout, squeeze, fp32});
        };
        add("pre_norm.scale", {D}, &Slots::pre_norm);
        if (types[b] == BlockType::Attention) {
            add("inner_mha_cls.Wqkv.weight",
                {3 * D, D},
                &Slots::wqkv,
                c.column_split ? Layout::Wqkv : Layout::Plain);
            add("inner_mha_cls.out_proj.weight", {D, D}, &Slots::out_w);
            if (c.mha_out_proj_bias) {
                add("inner_mha_cls.out_proj.bias", {D}, &Slots::out_b);
            }
            add("inner_mha_cls.rotary_emb.inv_freq",
                {c.head_dim() / 2},
                &Slots::inv_freq,
                Layout::Plain,
                -1,
                true);
        } else {
            const Layout il = c.interleave ? Layout::Deinterleave : Layout::Plain;
            add("projections.weight", {3 * D, D}, &Slots::proj, il);
            add("filter.short_filter_weight",
                {3 * D, 1, c.short_filter_length},
                &Slots::short_w,
                il,
                1);
            if (types[b] == BlockType::HyenaSE) {
                add("filter.h",
                    {c.hcs_filter_groups, 1, c.hcs_filter_length},
                    &Slots::h,
                    Layout::Plain,
                    1);
            } else if (types[b] == BlockType::HyenaMR) {
                add("filter.h",
                    {c.hcm_filter_groups, 1, c.hcm_filter_length},
                    &Slots::h,
                    Layout::Plain,
                    1);
                add("filter.D", {D}, &Slots::d_skip);
            } else {
                add("filter.log_poles",
                    {D, c.state_size, 1},
                    &Slots::log_poles,
                    Layout::Plain,
                    2,
                    true);
                add("filter.residues",
                    {D, c.state_size},
                    &Slots::residues,
                    Layout::Plain,
                    -1,
                    true);
                add("filter.D", {D}, &Slots::d_skip);
            }
            add("out_filter_dense.weight", {D, D}, &Slots::out_w);
            if (c.hyena_out_proj_bias) {
                add("out_filter_dense.bias", {D}, &Slots::out_b);
            }
        }
        add("post_norm.scale", {D}, &Slots::post_norm);
        add("mlp.l1.weight", {I, D}, &Slots::l1);
        add("mlp.l2.weight", {I, D}, &Slots::l2);
        add("mlp.l3.weight", {D, I}, &Slots::l3);
    }
    if (c.final_norm) {
        specs.push_back({"norm.scale", {D}, -1, &Slots::norm});
    }
    return specs;
}

// T1: keys present in official files that the model does not consume (§3.4).
bool is_ignorable_key(const std::string& name) {
    auto ends_with = [&name](std::string_view s) {
        return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    return name == "unembed.weight" || ends_with("._extra_state") || ends_with(".filter.t");
}

std::string shape_str(at::IntArrayRef shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        s += fmt::format("{}{}", i ? ", " : "", shape[i]);
    }
    return s + "]";
}

std::string dtype_str(c10::ScalarType t) {
    switch (t) {
        case at::kFloat:
            return "float32";
        case at::kBFloat16:
            return "bfloat16";
        case at::kHalf:
            return "float16";
        case at::kDouble:
            return "float64";
        case at::kLong:
            return "int64";
        case at::kInt:
            return "int32";
        case at::kShort:
            return "int16";
        case at::kChar:
            return "int8";
        case at::kByte:
            return "uint8";
        case at::kBool:
            return "bool";
        default:
            return c10::toString(t);
    }
}

bool accepted_dtype(c10::ScalarType t) {
    return t == at::kFloat || t == at::kBFloat16 || t == at::kHalf;
}

// T5: rows 3c+p (file) <-> p*D+c (runtime), for any trailing dims.
at::Tensor deinterleave_rows(const at::Tensor& t, std::int64_t D) {
    auto sizes = t.sizes().vec();
    std::vector<std::int64_t> v{D, 3};
    v.insert(v.end(), sizes.begin() + 1, sizes.end());
    return t.reshape(v).transpose(0, 1).reshape(sizes);
}

at::Tensor interleave_rows(const at::Tensor& t, std::int64_t D) {
    auto sizes = t.sizes().vec();
    std::vector<std::int64_t> v{3, D};
    v.insert(v.end(), sizes.begin() + 1, sizes.end());
    return t.reshape(v).transpose(0, 1).reshape(sizes);
}

// T4: file rows (H, 3, hd) -> runtime rows (3, H, hd) (§3.5).
at::Tensor wqkv_to_runtime(const at::Tensor& t, std::int64_t H, std::int64_t hd) {
    return t.reshape({H, 3, hd, t.size(1)}).permute({1, 0, 2, 3}).reshape(t.sizes());
}

at::Tensor wqkv_to_official(const at::Tensor& t, std::int64_t H, std::int64_t hd) {
    return t.reshape({3, H, hd, t.size(1)}).permute({1, 0, 2, 3}).reshape(t.sizes());
}

c10::Device parse_device(const std::string& device) {
    if (device == "cpu") {
        return c10::Device(c10::kCPU);
    }
    if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
        int index = 0;
        if (device.size() > 4) {
            const std::string digits = device.substr(5);
            EVOSCOPE_CHECK(!digits.empty() && digits.size() < 4 &&
                               std::all_of(digits.begin(),
                                           digits.end(),
                                           [](char ch) { return ch >= '0' && ch <= '9'; }),
                           "invalid device '{}': expected cpu, cuda or cuda:N",
                           device);
            index = std::stoi(digits);
        }
        EVOSCOPE_CHECK_AS(DeviceError,
                          torch::cuda::is_available(),
                          "device '{}' requested but CUDA is not available (this libtorch {} {})",
                          device,
                          TORCH_VERSION,
                          torch::cuda::device_count() == 0
                              ? "sees no CUDA device or was built CPU-only"
                              : "cannot use CUDA");
        const auto n = static_cast<int>(torch::cuda::device_count());
        EVOSCOPE_CHECK_AS(DeviceError,
                          index < n,
                          "device '{}' requested but only {} CUDA device(s) exist",
                          device,
                          n);
        return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
    }
    throw InputError(fmt::format("invalid device '{}': expected cpu, cuda or cuda:N", device));
}

// ---------------------------------------------------------------------------------------------
// Forward-pass building blocks.

// §2.2: y = scale * x / (||x||_2 * D^(-1/2) + eps), each op in x's dtype as vortex does.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& scale, double eps) {
    const auto d = static_cast<double>(x.size(-1));
    const at::Tensor rms = at::norm(x, 2, {-1}, true) * (1.0 / std::sqrt(d));
    return scale * (x / (rms + eps));
}

// Causal convolution along dim 1 of x [B, L, C] (fp32) with per-channel taps [C, K] in
// convolution orientation: y[t, c] = sum_k taps[c, k] * x[t - k, c], zeros before t = 0.
// Cross-correlation filters (featurizer, HCS: last tap on the current token) pass taps.flip(1).
at::Tensor causal_conv_direct(const at::Tensor& x, const at::Tensor& taps) {
    const std::int64_t L = x.size(1);
    const std::int64_t K = std::min(taps.size(1), L);
    at::Tensor y = x * taps.select(1, 0);
    for (std::int64_t k = 1; k < K; ++k) {
        y.slice(1, k, L).addcmul_(x.slice(1, 0, L - k), taps.select(1, k));
    }
    return y;
}

// Same result via FFT of length 2L (§2.5/§2.6; any n >= 2L-1 is exact, vortex uses 2L).
// taps [C, K] with K <= L.
at::Tensor causal_conv_fft(const at::Tensor& x, const at::Tensor& taps) {
    const std::int64_t L = x.size(1);
    const std::int64_t n = 2 * L;
    const at::Tensor xf = torch::fft::rfft(x, n, 1);         // [B, L+1, C]
    const at::Tensor kf = torch::fft::rfft(taps.t(), n, 0);  // [L+1, C]
    return torch::fft::irfft(xf * kf, n, 1).slice(1, 0, L);
}

// §2.6: h[c, t] = sum_n R[c, n] exp(lambda[c, n] t), fp32, returned as [D, L].
at::Tensor modal_filter(const at::Tensor& log_poles, const at::Tensor& residues, std::int64_t L) {
    const at::Tensor t = at::arange(L, log_poles.options().dtype(at::kFloat));  // [L]
    at::Tensor h = at::zeros({log_poles.size(0), L}, t.options());
    for (std::int64_t s = 0; s < log_poles.size(1); ++s) {
        h.addcmul_(at::exp(log_poles.select(1, s).unsqueeze(1) * t.unsqueeze(0)),
                   residues.select(1, s).unsqueeze(1));
    }
    return h;
}

// Parsed activation site.
struct Site {
    enum class Kind { Embedding, Block, MlpL3, PreNorm, FinalNorm } kind;
    std::int64_t block = -1;
};

std::optional<Site> parse_site(const std::string& s) {
    if (s == "embedding") {
        return Site{Site::Kind::Embedding, -1};
    }
    if (s == "final_norm") {
        return Site{Site::Kind::FinalNorm, -1};
    }
    const std::string prefix = "blocks.";
    if (s.rfind(prefix, 0) != 0) {
        return std::nullopt;
    }
    std::size_t pos = prefix.size();
    std::size_t end = pos;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') {
        ++end;
    }
    if (end == pos || end - pos > 6 || (s[pos] == '0' && end - pos > 1)) {
        return std::nullopt;
    }
    const std::int64_t n = std::stoll(s.substr(pos, end - pos));
    const std::string rest = s.substr(end);
    if (rest.empty()) {
        return Site{Site::Kind::Block, n};
    }
    if (rest == ".mlp.l3") {
        return Site{Site::Kind::MlpL3, n};
    }
    if (rest == ".pre_norm") {
        return Site{Site::Kind::PreNorm, n};
    }
    return std::nullopt;
}

}  // namespace

// -------------------------------------------------------------------------------------------------

struct Evo2Model::Impl {
    ModelConfig config;
    c10::Device device{c10::kCPU};
    c10::ScalarType act_dtype = at::kFloat;  // fp32 on CPU, bf16 on CUDA (§2.11)
    std::vector<BlockType> types;
    Slots global;
    std::vector<Slots> blocks;
    std::map<std::string, c10::ScalarType> stored_dtype;  // dtype each key was loaded with
    ConvAlgo conv_algo = ConvAlgo::Fft;
    std::optional<std::int64_t> trained_context;  // recorded context; unset: config max_seqlen

    at::Tensor to_runtime(const KeySpec& spec, const at::Tensor& file) const {
        at::Tensor t = file;
        if (spec.layout == Layout::Deinterleave) {
            t = deinterleave_rows(t, config.hidden_size);
        } else if (spec.layout == Layout::Wqkv) {
            t = wqkv_to_runtime(t, config.num_attention_heads, config.head_dim());
        }
        if (spec.squeeze_dim >= 0) {
            t = t.squeeze(spec.squeeze_dim);
        }
        const auto dtype = (spec.fp32_island || device.is_cpu()) ? at::kFloat : act_dtype;
        // Always a fresh copy: inputs may be views of a file mapping that dies after loading.
        return t.to(device, dtype, /*non_blocking=*/false, /*copy=*/true).contiguous();
    }

    at::Tensor to_official(const KeySpec& spec, const at::Tensor& runtime) const {
        at::Tensor t = runtime.to(at::kCPU);
        if (spec.squeeze_dim >= 0) {
            t = t.unsqueeze(spec.squeeze_dim);
        }
        if (spec.layout == Layout::Deinterleave) {
            t = interleave_rows(t, config.hidden_size);
        } else if (spec.layout == Layout::Wqkv) {
            t = wqkv_to_official(t, config.num_attention_heads, config.head_dim());
        }
        const auto it = stored_dtype.find(spec.name);
        return t.to(it != stored_dtype.end() ? it->second : runtime.scalar_type()).contiguous();
    }

    Slots& slots_of(const KeySpec& spec) {
        return spec.block < 0 ? global : blocks[static_cast<std::size_t>(spec.block)];
    }

    const Slots& slots_of(const KeySpec& spec) const {
        return spec.block < 0 ? global : blocks[static_cast<std::size_t>(spec.block)];
    }

    // --- forward ---------------------------------------------------------------------------

    bool gelu_in_block(std::size_t b) const {
        if (config.mlp_activation != "gelu") {
            return false;
        }
        // §2.9: evo2_style_activations -> GELU in block 0 only, identity afterwards.
        return !config.evo2_style_activations || b == 0;
    }

    at::Tensor mlp(const Slots& w, const at::Tensor& z, std::size_t b) const {
        at::Tensor a = at::linear(z, w.l1);
        if (gelu_in_block(b)) {
            a = at::gelu(a);  // exact erf form (F.gelu default)
        }
        return at::linear(a * at::linear(z, w.l2), w.l3);
    }

    // §2.3-2.6: returns the mixer output before out_filter_dense, g = post * y, [B, L, D].
    at::Tensor hyena_mixer(const Slots& w, BlockType type, const at::Tensor& u) const {
        const std::int64_t D = config.hidden_size;
        const std::int64_t L = u.size(1);
        // Steps 2-3: projections (rows already de-interleaved, T5) and the featurizer, a
        // depthwise causal xcorr computed in fp32 then cast back.
        const at::Tensor z = at::linear(u, w.proj);
        const at::Tensor f =
            causal_conv_direct(z.to(at::kFloat), w.short_w.to(at::kFloat).flip(1)).to(act_dtype);
        // Step 5: thirds [post, pre, v] (hyena_flip_x1x2 swaps the two gates).
        at::Tensor post = f.slice(2, 0, D);
        at::Tensor pre = f.slice(2, D, 2 * D);
        const at::Tensor v = f.slice(2, 2 * D, 3 * D);
        if (config.hyena_flip_x1x2) {
            std::swap(post, pre);
        }
        const at::Tensor x = pre * v;  // step 6, activation dtype
        const at::Tensor xf = x.to(at::kFloat);
        at::Tensor y;
        if (type == BlockType::HyenaSE) {
            // §2.4: T6 group expansion, xcorr orientation, fp32, no D term.
            const at::Tensor h = w.h.to(at::kFloat).repeat_interleave(D / w.h.size(0), 0);
            y = causal_conv_direct(xf, h.flip(1)).to(act_dtype);
        } else if (type == BlockType::HyenaMR) {
            // §2.5: T6 expansion, first min(128, L) taps, convolution orientation (h[0] on the
            // current token), + D * x gated skip in fp32, then cast.
            const at::Tensor h = w.h.to(at::kFloat)
                                     .slice(1, 0, std::min(w.h.size(1), L))
                                     .repeat_interleave(D / w.h.size(0), 0);
            const at::Tensor conv =
                conv_algo == ConvAlgo::Fft ? causal_conv_fft(xf, h) : causal_conv_direct(xf, h);
            y = (conv + xf * w.d_skip.to(at::kFloat)).to(act_dtype);
        } else {
            // §2.6: T8 modal filter for this L in fp32, FFT conv, cast, then + D * x in the
            // activation dtype (the cast precedes the skip in vortex).
            const at::Tensor h = modal_filter(w.log_poles, w.residues, L);
            const at::Tensor conv =
                conv_algo == ConvAlgo::Fft ? causal_conv_fft(xf, h) : causal_conv_direct(xf, h);
            y = conv.to(act_dtype) + x * w.d_skip;
        }
        return post * y;  // step 8
    }

    // §2.7 steps 1-3: returns concat_heads(o), [B, L, D].
    at::Tensor attention_mixer(const Slots& w, const at::Tensor& u) const {
        const std::int64_t B = u.size(0);
        const std::int64_t L = u.size(1);
        const std::int64_t H = config.num_attention_heads;
        const std::int64_t hd = config.head_dim();
        const at::Tensor qkv = at::linear(u, w.wqkv).view({B, L, 3, H, hd});  // [Q;K;V] rows (T4)

        // RoPE, GPT-NeoX halves; positions divided by the interpolation factor (§2.7 step 2).
        double s = 1.0;
        if (config.use_interpolated_rotary_pos_emb && config.rotary_emb_scaling_factor) {
            s = *config.rotary_emb_scaling_factor;
        }
        const at::Tensor t = at::arange(L, u.options().dtype(at::kFloat)) / s;
        const at::Tensor freqs = at::outer(t, w.inv_freq);  // [L, hd/2] fp32
        // cos/sin rounded to the activation dtype, then the rotation in fp32 (vortex Triton path).
        const at::Tensor cos = freqs.cos().to(act_dtype).to(at::kFloat).view({1, L, 1, hd / 2});
        const at::Tensor sin = freqs.sin().to(act_dtype).to(at::kFloat).view({1, L, 1, hd / 2});
        auto rotate = [&](const at::Tensor& x) {  // x [B, L, H, hd]
            const at::Tensor xf = x.to(at::kFloat);
            const at::Tensor x1 = xf.slice(3, 0, hd / 2);
            const at::Tensor x2 = xf.slice(3, hd / 2, hd);
            return at::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, 3).to(act_dtype);
        };
        const at::Tensor q = rotate(qkv.select(2, 0)).transpose(1, 2);  // [B, H, L, hd]
        const at::Tensor k = rotate(qkv.select(2, 1)).transpose(1, 2);
        const at::Tensor v = qkv.select(2, 2).transpose(1, 2);
        at::Tensor o;
#if TORCH_VERSION_MAJOR >= 2
        if (device.is_cuda()) {
            // Flash / memory-efficient kernels on GPU, as vortex (flash-attn or SDPA is_causal).
            o = at::scaled_dot_product_attention(
                q.contiguous(), k.contiguous(), v.contiguous(), {}, 0.0, true);
        }
#endif
        if (!o.defined()) {
            o = causal_attention(q, k, v);
        }
        return o.transpose(1, 2).reshape({B, L, H * hd});
    }

    // Explicit causal softmax attention in query chunks (bounded memory), softmax in fp32.
    static at::Tensor causal_attention(const at::Tensor& q,
                                       const at::Tensor& k,
                                       const at::Tensor& v) {
        const std::int64_t B = q.size(0);
        const std::int64_t H = q.size(1);
        const std::int64_t L = q.size(2);
        const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
        const std::int64_t budget = std::int64_t{1} << 25;  // score elements per chunk
        const std::int64_t chunk =
            std::clamp<std::int64_t>(budget / std::max<std::int64_t>(B * H * L, 1), 64, L);
        at::Tensor out = at::empty_like(q);
        for (std::int64_t q0 = 0; q0 < L; q0 += chunk) {
            const std::int64_t q1 = std::min(L, q0 + chunk);
            const at::Tensor ks = k.slice(2, 0, q1);
            at::Tensor scores =
                at::matmul(q.slice(2, q0, q1), ks.transpose(2, 3)).to(at::kFloat) * scale;
            const at::Tensor mask =
                at::ones({q1 - q0, q1}, q.options().dtype(at::kBool)).triu(q0 + 1);  // key > query
            scores.masked_fill_(mask, -std::numeric_limits<float>::infinity());
            const at::Tensor p = at::softmax(scores, -1).to(v.scalar_type());
            out.slice(2, q0, q1).copy_(at::matmul(p, v.slice(2, 0, q1)));
        }
        return out;
    }

    // Full forward. `capture(name, tensor)` is called for requested sites and may return a
    // replacement (an undefined tensor keeps the activation); stops after block
    // `last_block` and skips the head unless `head`.
    template <typename Capture>
    at::Tensor forward(const at::Tensor& ids,
                       std::int64_t last_block,
                       bool head,
                       const std::set<std::string>& wanted,
                       Capture&& capture) const {
        at::Tensor x = at::embedding(global.embedding, ids);  // (B, L, D), no scaling (§2.1)
        if (wanted.contains("embedding")) {
            if (at::Tensor r = capture("embedding", x); r.defined())
                x = r;
        }
        for (std::size_t b = 0; b < blocks.size() && static_cast<std::int64_t>(b) <= last_block;
             ++b) {
            const Slots& w = blocks[b];
            const std::string name = fmt::format("blocks.{}", b);
            at::Tensor u = rms_norm(x, w.pre_norm, config.eps);
            if (wanted.contains(name + ".pre_norm")) {
                if (at::Tensor r = capture(name + ".pre_norm", u); r.defined())
                    u = r;
            }
            const at::Tensor mixed = types[b] == BlockType::Attention ? attention_mixer(w, u)
                                                                      : hyena_mixer(w, types[b], u);
            x = x + (w.out_b.defined() ? at::linear(mixed, w.out_w, w.out_b)
                                       : at::linear(mixed, w.out_w));
            at::Tensor m = mlp(w, rms_norm(x, w.post_norm, config.eps), b);
            if (wanted.contains(name + ".mlp.l3")) {
                if (at::Tensor r = capture(name + ".mlp.l3", m); r.defined())
                    m = r;
            }
            x = x + m;
            if (wanted.contains(name)) {
                if (at::Tensor r = capture(name, x); r.defined())
                    x = r;
            }
        }
        if (!head) {
            return {};
        }
        if (config.final_norm) {
            x = rms_norm(x, global.norm, config.eps);
        }
        if (wanted.contains("final_norm")) {
            if (at::Tensor r = capture("final_norm", x); r.defined())
                x = r;
        }
        return at::linear(x, global.embedding);  // tied unembedding (§2.1)
    }

    at::Tensor prepare_ids(const at::Tensor& ids) const {
        EVOSCOPE_CHECK(ids.defined() && ids.dim() == 2 && ids.size(0) >= 1 && ids.size(1) >= 1,
                       "token ids must be a non-empty [B, L] tensor (got shape {})",
                       ids.defined() ? shape_str(ids.sizes()) : "undefined");
        EVOSCOPE_CHECK(!at::isFloatingType(ids.scalar_type()) &&
                           !at::isComplexType(ids.scalar_type()) && ids.scalar_type() != at::kBool,
                       "token ids must be an integer tensor (got {})",
                       dtype_str(ids.scalar_type()));
        const at::Tensor t = ids.to(device, at::kLong);
        const std::int64_t lo = t.min().item<std::int64_t>();
        const std::int64_t hi = t.max().item<std::int64_t>();
        EVOSCOPE_CHECK(lo >= 0 && hi < config.vocab_size,
                       "token ids must be in 0..{} (found {}..{})",
                       config.vocab_size - 1,
                       lo,
                       hi);
        return t;
    }
};

// -------------------------------------------------------------------------------------------------

Evo2Model::Evo2Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Evo2Model::~Evo2Model() = default;
Evo2Model::Evo2Model(Evo2Model&&) noexcept = default;
Evo2Model& Evo2Model::operator=(Evo2Model&&) noexcept = default;

Evo2Model Evo2Model::from_state_dict(ModelConfig config,
                                     const std::map<std::string, at::Tensor>& official,
                                     const std::string& device) {
    config.validate();
    torch::NoGradGuard no_grad;
    auto impl = std::make_unique<Impl>();
    impl->device = parse_device(device);
    impl->act_dtype = impl->device.is_cuda() ? at::kBFloat16 : at::kFloat;

    // inner_mlp_size: the tensor shape wins (spec §1.1: the 1M checkpoints pad the FFN).
    if (const auto it = official.find("blocks.0.mlp.l1.weight");
        it != official.end() && it->second.dim() == 2 &&
        it->second.size(0) != config.inner_mlp_size) {
        EVOSCOPE_LOG_INFO(
            "checkpoint inner MLP size {} differs from the config's inner_mlp_size {}; using {}",
            it->second.size(0),
            config.inner_mlp_size,
            it->second.size(0));
        config.inner_mlp_size = it->second.size(0);
    }
    impl->config = config;
    impl->types = config.block_types();
    impl->blocks.resize(impl->types.size());

    const auto specs = key_specs(config);
    std::vector<std::string> problems;
    std::set<std::string> expected;
    for (const auto& spec : specs) {
        expected.insert(spec.name);
        const auto it = official.find(spec.name);
        const std::string want =
            fmt::format("shape {}, dtype {}",
                        shape_str(spec.shape),
                        spec.fp32_island ? "float32" : "float32, bfloat16 or float16");
        if (it == official.end()) {
            problems.push_back(fmt::format("missing key '{}' (expected {})", spec.name, want));
            continue;
        }
        const at::Tensor& t = it->second;
        if (!t.defined() || t.sizes() != at::IntArrayRef(spec.shape) ||
            !accepted_dtype(t.scalar_type())) {
            problems.push_back(fmt::format("key '{}': expected {}; found shape {}, dtype {}",
                                           spec.name,
                                           want,
                                           t.defined() ? shape_str(t.sizes()) : "undefined",
                                           t.defined() ? dtype_str(t.scalar_type()) : "undefined"));
            continue;
        }
        if (spec.fp32_island && t.scalar_type() != at::kFloat) {
            // Vortex copies into its fp32 buffers (T3), so the rounded values are what it uses.
            EVOSCOPE_LOG_WARN(
                "key '{}' is stored as {}; vortex keeps it in float32, precision is lost",
                spec.name,
                dtype_str(t.scalar_type()));
        }
        impl->stored_dtype[spec.name] = t.scalar_type();
        impl->slots_of(spec).*spec.slot = impl->to_runtime(spec, t);
    }
    std::vector<std::string> ignored;
    for (const auto& [name, t] : official) {
        if (expected.contains(name)) {
            continue;
        }
        if (is_ignorable_key(name)) {
            ignored.push_back(name);
        } else {
            problems.push_back(
                fmt::format("unexpected key '{}' (shape {}, dtype {}) is not part of a {} model",
                            name,
                            t.defined() ? shape_str(t.sizes()) : "undefined",
                            t.defined() ? dtype_str(t.scalar_type()) : "undefined",
                            config.pattern()));
        }
    }
    if (!problems.empty()) {
        std::string msg = fmt::format("checkpoint does not match the model config ({} problem{}):",
                                      problems.size(),
                                      problems.size() == 1 ? "" : "s");
        for (std::size_t i = 0; i < problems.size() && i < 20; ++i) {
            msg += "\n  - " + problems[i];
        }
        if (problems.size() > 20) {
            msg += fmt::format("\n  ... and {} more", problems.size() - 20);
        }
        throw ModelError(msg);
    }
    if (!ignored.empty()) {
        EVOSCOPE_LOG_INFO("ignored {} checkpoint tensor(s) the model does not use (e.g. '{}')",
                          ignored.size(),
                          ignored.front());
        for (const auto& name : ignored) {
            EVOSCOPE_LOG_DEBUG("ignored checkpoint tensor '{}'", name);
        }
    }
    if (config.use_fp8_input_projections) {
        EVOSCOPE_LOG_WARN(
            "use_fp8_input_projections is set but evoscope runs the Hyena projections "
            "in {} (no FP8 emulation; 1B/20B/40B lose accuracy, spec §5.2)",
            dtype_str(impl->act_dtype));
    }
    return Evo2Model(std::move(impl));
}

Evo2Model Evo2Model::init_random(ModelConfig config,
                                 std::uint64_t seed,
                                 const std::string& device) {
    config.validate();
    parse_device(device);  // fail before the work
    torch::NoGradGuard no_grad;
    at::Generator gen = at::detail::createCPUGenerator(seed);
    const auto f32 = at::TensorOptions().dtype(at::kFloat);
    const double std_in = 0.02;
    const double std_out = 0.02 / std::sqrt(2.0 * static_cast<double>(config.num_layers));
    std::map<std::string, at::Tensor> sd;
    for (const auto& spec : key_specs(config)) {
        const std::string& n = spec.name;
        auto ends = [&n](std::string_view s) {
            return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
        };
        at::Tensor t = at::empty(spec.shape, f32);
        if (ends(".scale")) {
            t.fill_(1.0);
        } else if (ends(".bias")) {
            t.zero_();
        } else if (ends("out_filter_dense.weight") || ends("out_proj.weight") ||
                   ends("mlp.l3.weight")) {
            t.normal_(0.0, std_out, gen);
        } else if (ends(".weight") && !ends("short_filter_weight")) {
            t.normal_(0.0, std_in, gen);  // embedding, projections, Wqkv, l1, l2
        } else if (ends("short_filter_weight") || (ends("filter.h") && spec.shape[2] < 128)) {
            const double bound = 1.0 / std::sqrt(static_cast<double>(spec.shape[2]));
            t.uniform_(-bound, bound, gen);
        } else if (ends("filter.h")) {
            // Savanna's ExplicitSingleDecayFilter ("weak" preset): h_raw * exp(-r t), r =
            // logspace(-2, 2) over groups, t = linspace(0, 1) over taps (spec §2.5).
            const std::int64_t G = spec.shape[0];
            const std::int64_t K = spec.shape[2];
            t.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(K)), gen);
            const at::Tensor r = at::logspace(-2.0, 2.0, G, 10.0, f32).view({G, 1, 1});
            const at::Tensor tt = at::linspace(0.0, 1.0, K, f32).view({1, 1, K});
            t.mul_(at::exp(-r * tt));
        } else if (ends("filter.D") || ends("filter.residues")) {
            t.normal_(0.0, 0.1, gen);
        } else if (ends("filter.log_poles")) {
            // lambda = -exp(u), u ~ U(ln 1e-3, 0): decay lengths 1 to 1000 tokens (savanna-like).
            t.uniform_(std::log(1e-3), 0.0, gen);
            t = -at::exp(t);
        } else if (ends("rotary_emb.inv_freq")) {
            const double hd = static_cast<double>(config.head_dim());
            t = 1.0 / at::pow(config.rotary_emb_base,
                              at::arange(0, config.head_dim(), 2, f32.dtype(at::kDouble)) / hd);
            t = t.to(at::kFloat);
        } else {
            EVOSCOPE_ASSERT_MSG(false, "no init rule for '{}'", n);
        }
        sd[n] = spec.fp32_island ? t : t.to(at::kBFloat16);
    }
    return from_state_dict(std::move(config), sd, device);
}

std::vector<std::pair<std::string, at::Tensor>> Evo2Model::official_state_dict() const {
    torch::NoGradGuard no_grad;
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& spec : key_specs(impl_->config)) {
        out.emplace_back(spec.name, impl_->to_official(spec, impl_->slots_of(spec).*spec.slot));
    }
    return out;
}

at::Tensor Evo2Model::logits(const at::Tensor& ids) const {
    return run(ids, {}, true).at("logits");
}

std::map<std::string, at::Tensor> Evo2Model::run(const at::Tensor& ids,
                                                 const std::vector<std::string>& sites,
                                                 bool want_logits) const {
    torch::NoGradGuard no_grad;
    const std::int64_t n_layers = impl_->config.num_layers;
    std::int64_t last_block = -1;
    bool head = want_logits;
    for (const auto& s : sites) {
        check_site(s, n_layers);
        const Site site = *parse_site(s);
        if (site.kind == Site::Kind::FinalNorm) {
            head = true;
        } else {
            last_block = std::max(last_block, site.block);
        }
    }
    if (head) {
        last_block = n_layers - 1;
    }
    const at::Tensor t = impl_->prepare_ids(ids);
    std::map<std::string, at::Tensor> out;
    const std::set<std::string> wanted(sites.begin(), sites.end());
    auto capture = [&out](const std::string& name, const at::Tensor& x) {
        out[name] = x.to(at::kCPU, at::kFloat).contiguous();
        return at::Tensor();
    };
    const at::Tensor logits = impl_->forward(t, last_block, head, wanted, capture);
    if (want_logits) {
        out["logits"] = logits.to(at::kCPU, at::kFloat).contiguous();
    }
    return out;
}

at::Tensor Evo2Model::logits_with_replacement(
    const at::Tensor& ids,
    const std::string& site,
    const std::function<at::Tensor(const at::Tensor&)>& replace) const {
    torch::NoGradGuard no_grad;
    check_site(site, impl_->config.num_layers);
    const at::Tensor t = impl_->prepare_ids(ids);
    const std::set<std::string> wanted{site};
    auto capture = [&](const std::string&, const at::Tensor& x) {
        const at::Tensor y = replace(x.to(at::kCPU, at::kFloat).contiguous());
        EVOSCOPE_CHECK(y.sizes() == x.sizes(), "replacement for site {} has the wrong shape", site);
        return y.to(x.device(), x.scalar_type());
    };
    return impl_->forward(t, impl_->config.num_layers - 1, true, wanted, capture)
        .to(at::kCPU, at::kFloat);
}

void Evo2Model::check_site(const std::string& site, std::int64_t num_layers) {
    const auto parsed = parse_site(site);
    const std::string forms = fmt::format(
        "valid sites: embedding, blocks.N (residual stream after block N), blocks.N.mlp.l3 (MLP "
        "branch output), blocks.N.pre_norm (pre-norm output), final_norm; N in 0..{}",
        num_layers - 1);
    EVOSCOPE_CHECK(parsed.has_value(), "unknown activation site '{}'; {}", site, forms);
    EVOSCOPE_CHECK(parsed->block < num_layers,
                   "activation site '{}' names block {} but the model has {} blocks; {}",
                   site,
                   parsed->block,
                   num_layers,
                   forms);
}

const ModelConfig& Evo2Model::config() const {
    return impl_->config;
}

std::string TrainedContext::source() const {
    return recorded ? "evoscope.trained_context" : "config max_seqlen";
}

TrainedContext Evo2Model::trained_context() const {
    if (impl_->trained_context) {
        return TrainedContext{*impl_->trained_context, true};
    }
    return TrainedContext{impl_->config.max_seqlen, false};
}

void Evo2Model::set_trained_context(std::int64_t tokens) {
    EVOSCOPE_CHECK(tokens >= 2, "a trained context must be at least 2 tokens, got {}", tokens);
    impl_->trained_context = tokens;
}

std::string Evo2Model::device() const {
    return impl_->device.str();
}

std::int64_t Evo2Model::n_params() const {
    std::int64_t n = 0;
    for (const auto& spec : key_specs(impl_->config)) {
        if (!spec.name.ends_with("inv_freq")) {
            n += (impl_->slots_of(spec).*spec.slot).numel();
        }
    }
    return n;
}

void Evo2Model::set_conv_algo(ConvAlgo algo) {
    impl_->conv_algo = algo;
}

std::vector<std::pair<std::string, at::Tensor>> Evo2Model::parameters() {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& spec : key_specs(impl_->config)) {
        if (spec.name.ends_with("inv_freq")) {
            continue;
        }
        at::Tensor& t = impl_->slots_of(spec).*spec.slot;
        t.requires_grad_(true);
        out.emplace_back(spec.name, t);
    }
    return out;
}

at::Tensor Evo2Model::forward_train(const at::Tensor& ids) {
    parameters();  // marks the weights requires_grad
    const at::Tensor t = impl_->prepare_ids(ids);
    return impl_->forward(
        t, impl_->config.num_layers - 1, true, {}, [](const std::string&, const at::Tensor&) {
            return at::Tensor();
        });
}

}  // namespace evoscope::model
