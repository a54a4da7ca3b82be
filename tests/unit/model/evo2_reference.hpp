/// @file
/// An independent, deliberately slow reference of the Evo 2 forward pass for the model tests,
/// written plainly from docs/evo2-architecture.md §2 in double precision with explicit loops:
/// it reads the checkpoint in the OFFICIAL layout (interleaved Hyena rows 3c+p, per-head
/// [q,k,v] Wqkv rows) and indexes it directly, so it shares no code or layout transform with
/// model/evo2_model.cpp. Also a generator of random checkpoints in the official layout (§3.3)
/// with scales large enough that every term matters. Test-only; not fast.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "model/config.hpp"

namespace evoscope::test::ref {

using StateDict = std::map<std::string, at::Tensor>;
using Vec = std::vector<double>;

enum class Kind { Hcs, Hcm, Hcl, Attn };

inline std::vector<Kind> kinds(const model::ModelConfig& c) {
    std::vector<Kind> k(static_cast<std::size_t>(c.num_layers), Kind::Hcs);
    for (auto i : c.hcm_layer_idxs)
        k[static_cast<std::size_t>(i)] = Kind::Hcm;
    for (auto i : c.hcl_layer_idxs)
        k[static_cast<std::size_t>(i)] = Kind::Hcl;
    for (auto i : c.attn_layer_idxs)
        k[static_cast<std::size_t>(i)] = Kind::Attn;
    return k;
}

/// Random tensors under the official names and shapes of §3.3 (file layout), in `dtype`
/// except log_poles/residues/inv_freq (fp32, §1.4). With `extras`, adds §3.4 extras.
inline StateDict random_checkpoint(const model::ModelConfig& c,
                                   std::uint64_t seed,
                                   at::ScalarType dtype,
                                   bool extras) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    const std::int64_t D = c.hidden_size, I = c.inner_mlp_size, V = c.vocab_size;
    const std::int64_t hd = D / c.num_attention_heads;
    StateDict sd;
    auto normal = [&](std::vector<std::int64_t> shape, double mean, double std) {
        return at::empty(shape, at::kFloat).normal_(mean, std, gen);
    };
    auto put = [&](const std::string& k, const at::Tensor& t) {
        sd[k] = t.to(dtype);
    };
    auto put32 = [&](const std::string& k, const at::Tensor& t) {
        sd[k] = t.to(at::kFloat);
    };
    put("embedding_layer.weight", normal({V, D}, 0.0, 0.5));
    put("norm.scale", normal({D}, 1.0, 0.2));
    const auto ks = kinds(c);
    for (std::size_t b = 0; b < ks.size(); ++b) {
        const std::string p = "blocks." + std::to_string(b) + ".";
        put(p + "pre_norm.scale", normal({D}, 1.0, 0.2));
        put(p + "post_norm.scale", normal({D}, 1.0, 0.2));
        if (ks[b] == Kind::Attn) {
            put(p + "inner_mha_cls.Wqkv.weight",
                normal({3 * D, D}, 0.0, 1.0 / std::sqrt(double(D))));
            put(p + "inner_mha_cls.out_proj.weight",
                normal({D, D}, 0.0, 1.0 / std::sqrt(double(D))));
            put(p + "inner_mha_cls.out_proj.bias", normal({D}, 0.0, 0.2));
            // Perturbed from the base formula so that using the checkpoint's buffer matters (T7).
            at::Tensor inv =
                1.0 / at::pow(c.rotary_emb_base,
                              at::arange(0, hd, 2, at::kDouble) / static_cast<double>(hd));
            inv = inv * (1.0 + 0.1 * at::empty({hd / 2}, at::kDouble).uniform_(0.0, 1.0, gen));
            put32(p + "inner_mha_cls.rotary_emb.inv_freq", inv);
        } else {
            put(p + "projections.weight", normal({3 * D, D}, 0.0, 1.0 / std::sqrt(double(D))));
            put(p + "filter.short_filter_weight",
                normal({3 * D, 1, c.short_filter_length}, 0.0, 0.6));
            if (ks[b] == Kind::Hcs) {
                put(p + "filter.h",
                    normal({c.hcs_filter_groups, 1, c.hcs_filter_length}, 0.0, 0.4));
            } else if (ks[b] == Kind::Hcm) {
                put(p + "filter.h",
                    normal({c.hcm_filter_groups, 1, c.hcm_filter_length}, 0.0, 0.15));
                put(p + "filter.D", normal({D}, 0.0, 0.5));
            } else {
                put32(
                    p + "filter.log_poles",
                    -at::exp(at::empty({D, c.state_size, 1}, at::kFloat).uniform_(-4.0, 0.5, gen)));
                put32(p + "filter.residues", normal({D, c.state_size}, 0.0, 0.3));
                put(p + "filter.D", normal({D}, 0.0, 0.5));
            }
            put(p + "out_filter_dense.weight", normal({D, D}, 0.0, 1.0 / std::sqrt(double(D))));
            put(p + "out_filter_dense.bias", normal({D}, 0.0, 0.2));
        }
        put(p + "mlp.l1.weight", normal({I, D}, 0.0, 1.0 / std::sqrt(double(D))));
        put(p + "mlp.l2.weight", normal({I, D}, 0.0, 1.0 / std::sqrt(double(D))));
        put(p + "mlp.l3.weight", normal({D, I}, 0.0, 1.0 / std::sqrt(double(I))));
    }
    if (extras) {
        sd["unembed.weight"] = sd["embedding_layer.weight"].clone();
        sd["blocks.3.mixer.dense._extra_state"] = at::zeros({16}, at::kByte);
        sd["blocks.2.filter.t"] = at::arange(16, at::kFloat).view({1, 1, 16});
    }
    return sd;
}

inline Vec values(const StateDict& sd, const std::string& key) {
    const auto it = sd.find(key);
    if (it == sd.end())
        throw std::runtime_error("reference: missing " + key);
    const at::Tensor t = it->second.to(at::kDouble).contiguous();
    return Vec(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

// x [L, n_in] -> [L, n_out], W [n_out, n_in] (PyTorch Linear), optional bias.
inline Vec linear(const Vec& x,
                  const Vec& W,
                  const Vec* bias,
                  std::int64_t L,
                  std::int64_t n_in,
                  std::int64_t n_out) {
    Vec y(static_cast<std::size_t>(L * n_out));
    for (std::int64_t t = 0; t < L; ++t) {
        for (std::int64_t o = 0; o < n_out; ++o) {
            double acc = bias ? (*bias)[static_cast<std::size_t>(o)] : 0.0;
            for (std::int64_t i = 0; i < n_in; ++i) {
                acc += W[static_cast<std::size_t>(o * n_in + i)] *
                       x[static_cast<std::size_t>(t * n_in + i)];
            }
            y[static_cast<std::size_t>(t * n_out + o)] = acc;
        }
    }
    return y;
}

// §2.2: scale * x / (||x|| / sqrt(D) + eps)
inline Vec rmsnorm(const Vec& x, const Vec& scale, std::int64_t L, std::int64_t D, double eps) {
    Vec y(x.size());
    for (std::int64_t t = 0; t < L; ++t) {
        double ss = 0.0;
        for (std::int64_t d = 0; d < D; ++d)
            ss += x[static_cast<std::size_t>(t * D + d)] * x[static_cast<std::size_t>(t * D + d)];
        const double rms = std::sqrt(ss) / std::sqrt(static_cast<double>(D));
        for (std::int64_t d = 0; d < D; ++d) {
            const auto i = static_cast<std::size_t>(t * D + d);
            y[i] = scale[static_cast<std::size_t>(d)] * x[i] / (rms + eps);
        }
    }
    return y;
}

struct Output {
    Vec logits;                        ///< [L, V]
    std::map<std::string, Vec> sites;  ///< [L, D] each
};

/// Forward of one sequence, from the equations of §2 on the official-layout checkpoint.
inline Output forward(const model::ModelConfig& c,
                      const StateDict& sd,
                      const std::vector<std::int64_t>& ids) {
    const std::int64_t L = static_cast<std::int64_t>(ids.size());
    const std::int64_t D = c.hidden_size, V = c.vocab_size, H = c.num_attention_heads;
    const std::int64_t hd = D / H;
    const std::int64_t I = sd.at("blocks.0.mlp.l1.weight").size(0);
    auto at2 = [](Vec& v, std::int64_t n_cols, std::int64_t r, std::int64_t col) -> double& {
        return v[static_cast<std::size_t>(r * n_cols + col)];
    };
    Output out;
    const Vec E = values(sd, "embedding_layer.weight");
    Vec x(static_cast<std::size_t>(L * D));
    for (std::int64_t t = 0; t < L; ++t)
        for (std::int64_t d = 0; d < D; ++d)
            at2(x, D, t, d) = E[static_cast<std::size_t>(ids[static_cast<std::size_t>(t)] * D + d)];
    out.sites["embedding"] = x;

    const auto ks = kinds(c);
    for (std::size_t b = 0; b < ks.size(); ++b) {
        const std::string p = "blocks." + std::to_string(b) + ".";
        const Vec u = rmsnorm(x, values(sd, p + "pre_norm.scale"), L, D, c.eps);
        out.sites[p + "pre_norm"] = u;
        Vec mixed(static_cast<std::size_t>(L * D));
        Vec bias;
        Vec Wout;
        if (ks[b] != Kind::Attn) {
            Vec z =
                linear(u, values(sd, p + "projections.weight"), nullptr, L, D, 3 * D);  // file rows
            const Vec W = values(sd, p + "filter.short_filter_weight");  // [3D, 1, K]
            const std::int64_t K = c.short_filter_length;
            Vec f(z.size(), 0.0);
            for (std::int64_t t = 0; t < L; ++t)
                for (std::int64_t r = 0; r < 3 * D; ++r) {
                    double acc = 0.0;
                    for (std::int64_t j = 0; j < K; ++j) {
                        const std::int64_t s = t + j - (K - 1);  // last tap on the current token
                        if (s >= 0)
                            acc += W[static_cast<std::size_t>(r * K + j)] * at2(z, 3 * D, s, r);
                    }
                    at2(f, 3 * D, t, r) = acc;
                }
            // §2.3 step 4-5: stored channel 3c+p is component p of logical channel c;
            // p = 0 post-gate, 1 pre-gate, 2 value.
            Vec post(static_cast<std::size_t>(L * D)), w(static_cast<std::size_t>(L * D));
            for (std::int64_t t = 0; t < L; ++t)
                for (std::int64_t ch = 0; ch < D; ++ch) {
                    double po = at2(f, 3 * D, t, 3 * ch + 0), pr = at2(f, 3 * D, t, 3 * ch + 1);
                    if (c.hyena_flip_x1x2)
                        std::swap(po, pr);
                    at2(post, D, t, ch) = po;
                    at2(w, D, t, ch) = pr * at2(f, 3 * D, t, 3 * ch + 2);
                }
            Vec y(static_cast<std::size_t>(L * D), 0.0);
            if (ks[b] == Kind::Hcs) {
                const Vec h = values(sd, p + "filter.h");  // [G, 1, K]
                const std::int64_t G = c.hcs_filter_groups, Kh = c.hcs_filter_length;
                for (std::int64_t t = 0; t < L; ++t)
                    for (std::int64_t ch = 0; ch < D; ++ch) {
                        const std::int64_t g = ch / (D / G);
                        double acc = 0.0;
                        for (std::int64_t j = 0; j < Kh; ++j) {
                            const std::int64_t s = t + j - (Kh - 1);
                            if (s >= 0)
                                acc += h[static_cast<std::size_t>(g * Kh + j)] * at2(w, D, s, ch);
                        }
                        at2(y, D, t, ch) = acc;
                    }
            } else {
                const Vec Dv = values(sd, p + "filter.D");
                Vec hl;  // [D, L] per-channel filter in convolution orientation (h[0] = current)
                if (ks[b] == Kind::Hcm) {
                    const Vec h = values(sd, p + "filter.h");
                    const std::int64_t G = c.hcm_filter_groups, Kh = c.hcm_filter_length;
                    hl.assign(static_cast<std::size_t>(D * L), 0.0);
                    for (std::int64_t ch = 0; ch < D; ++ch)
                        for (std::int64_t k = 0; k < std::min(L, Kh); ++k)
                            hl[static_cast<std::size_t>(ch * L + k)] =
                                h[static_cast<std::size_t>((ch / (D / G)) * Kh + k)];
                } else {
                    const Vec lp = values(sd, p + "filter.log_poles");  // [D, S, 1]
                    const Vec R = values(sd, p + "filter.residues");    // [D, S]
                    const std::int64_t S = c.state_size;
                    hl.assign(static_cast<std::size_t>(D * L), 0.0);
                    for (std::int64_t ch = 0; ch < D; ++ch)
                        for (std::int64_t k = 0; k < L; ++k) {
                            double acc = 0.0;
                            for (std::int64_t n = 0; n < S; ++n)
                                acc += R[static_cast<std::size_t>(ch * S + n)] *
                                       std::exp(lp[static_cast<std::size_t>(ch * S + n)] *
                                                static_cast<double>(k));
                            hl[static_cast<std::size_t>(ch * L + k)] = acc;
                        }
                }
                for (std::int64_t t = 0; t < L; ++t)
                    for (std::int64_t ch = 0; ch < D; ++ch) {
                        double acc = Dv[static_cast<std::size_t>(ch)] * at2(w, D, t, ch);
                        for (std::int64_t k = 0; k <= t; ++k)
                            acc += hl[static_cast<std::size_t>(ch * L + k)] * at2(w, D, t - k, ch);
                        at2(y, D, t, ch) = acc;
                    }
            }
            for (std::size_t i = 0; i < y.size(); ++i)
                mixed[i] = post[i] * y[i];
            Wout = values(sd, p + "out_filter_dense.weight");
            bias = values(sd, p + "out_filter_dense.bias");
        } else {
            const Vec qkv =
                linear(u, values(sd, p + "inner_mha_cls.Wqkv.weight"), nullptr, L, D, 3 * D);
            const Vec inv = values(sd, p + "inner_mha_cls.rotary_emb.inv_freq");
            const double s = (c.use_interpolated_rotary_pos_emb && c.rotary_emb_scaling_factor)
                                 ? *c.rotary_emb_scaling_factor
                                 : 1.0;
            // file row of (head hh, j in {q,k,v}, dim d): hh*3*hd + j*hd + d  (§3.5 T4)
            auto get = [&](std::int64_t t, std::int64_t hh, std::int64_t j, std::int64_t d) {
                return qkv[static_cast<std::size_t>(t * 3 * D + hh * 3 * hd + j * hd + d)];
            };
            auto rope = [&](std::int64_t t, std::int64_t hh, std::int64_t j) {
                Vec r(static_cast<std::size_t>(hd));
                for (std::int64_t i = 0; i < hd / 2; ++i) {
                    const double th =
                        (static_cast<double>(t) / s) * inv[static_cast<std::size_t>(i)];
                    const double a = get(t, hh, j, i), bb = get(t, hh, j, i + hd / 2);
                    r[static_cast<std::size_t>(i)] = a * std::cos(th) - bb * std::sin(th);
                    r[static_cast<std::size_t>(i + hd / 2)] = bb * std::cos(th) + a * std::sin(th);
                }
                return r;
            };
            for (std::int64_t hh = 0; hh < H; ++hh) {
                std::vector<Vec> kr;
                for (std::int64_t t = 0; t < L; ++t)
                    kr.push_back(rope(t, hh, 1));
                for (std::int64_t t = 0; t < L; ++t) {
                    const Vec q = rope(t, hh, 0);
                    Vec sc(static_cast<std::size_t>(t + 1));
                    double mx = -1e300;
                    for (std::int64_t t2 = 0; t2 <= t;
                         ++t2) {  // explicit causal mask: keys t2 <= t
                        double dot = 0.0;
                        for (std::int64_t d = 0; d < hd; ++d)
                            dot += q[static_cast<std::size_t>(d)] *
                                   kr[static_cast<std::size_t>(t2)][static_cast<std::size_t>(d)];
                        sc[static_cast<std::size_t>(t2)] = dot / std::sqrt(static_cast<double>(hd));
                        mx = std::max(mx, sc[static_cast<std::size_t>(t2)]);
                    }
                    double z = 0.0;
                    for (auto& e : sc)
                        z += (e = std::exp(e - mx));
                    for (std::int64_t d = 0; d < hd; ++d) {
                        double acc = 0.0;
                        for (std::int64_t t2 = 0; t2 <= t; ++t2)
                            acc += sc[static_cast<std::size_t>(t2)] / z * get(t2, hh, 2, d);
                        at2(mixed, D, t, hh * hd + d) = acc;
                    }
                }
            }
            Wout = values(sd, p + "inner_mha_cls.out_proj.weight");
            bias = values(sd, p + "inner_mha_cls.out_proj.bias");
        }
        const Vec o = linear(mixed, Wout, &bias, L, D, D);
        for (std::size_t i = 0; i < x.size(); ++i)
            x[i] += o[i];
        // §2.9 MLP: l3(act(l1 z) * l2 z), GELU (erf) in block 0 only.
        const Vec z2 = rmsnorm(x, values(sd, p + "post_norm.scale"), L, D, c.eps);
        Vec a = linear(z2, values(sd, p + "mlp.l1.weight"), nullptr, L, D, I);
        const Vec g2 = linear(z2, values(sd, p + "mlp.l2.weight"), nullptr, L, D, I);
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (b == 0)
                a[i] = 0.5 * a[i] * (1.0 + std::erf(a[i] / std::sqrt(2.0)));
            a[i] *= g2[i];
        }
        const Vec m = linear(a, values(sd, p + "mlp.l3.weight"), nullptr, L, I, D);
        out.sites[p + "mlp.l3"] = m;
        for (std::size_t i = 0; i < x.size(); ++i)
            x[i] += m[i];
        out.sites["blocks." + std::to_string(b)] = x;
    }
    x = rmsnorm(x, values(sd, "norm.scale"), L, D, c.eps);
    out.sites["final_norm"] = x;
    out.logits = linear(x, E, nullptr, L, D, V);
    return out;
}

/// max |a - e| / max |e| over all elements (a: model output as a tensor, e: reference).
inline double max_rel_error(const at::Tensor& actual, const Vec& expected) {
    const at::Tensor a = actual.to(at::kDouble).contiguous();
    if (static_cast<std::size_t>(a.numel()) != expected.size())
        return 1e300;
    const double* pa = a.data_ptr<double>();
    double max_diff = 0.0, max_ref = 0.0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        max_diff = std::max(max_diff, std::abs(pa[i] - expected[i]));
        max_ref = std::max(max_ref, std::abs(expected[i]));
    }
    return max_diff / std::max(max_ref, 1e-30);
}

}  // namespace evoscope::test::ref
