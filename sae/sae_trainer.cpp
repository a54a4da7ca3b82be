#include "sae/sae_trainer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <ATen/ATen.h>
#include <torch/torch.h>

#include "core/check.hpp"
#include "core/error.hpp"
#include "sae/sparse_ops.hpp"

namespace evoscope::sae {
namespace {

at::Tensor csr_row_ptr_fixed(std::int64_t rows, std::int64_t k, const at::TensorOptions& opts) {
    return at::arange(0, rows * k + 1, k, opts.dtype(at::kLong));
}

/// What a forward/backward pass produces beyond the gradients.
struct Pass {
    SaeGrads grads;
    at::Tensor fired;         ///< bool [d_sae]: latents active in this batch
    double min_selected = 0;  ///< BatchTopK: smallest positive selected activation
};

Pass forward_backward(const Sae& sae,
                      const SaeTrainOptions& o,
                      const at::Tensor& x_raw,
                      const at::Tensor& dead,
                      const at::Tensor& log_threshold) {
    torch::NoGradGuard no_grad;
    const auto& c = sae.config();
    const auto& p = sae.params();
    const std::int64_t B = x_raw.size(0);
    const std::int64_t n = c.d_sae;
    const double Bd = static_cast<double>(B);
    EVOSCOPE_CHECK(x_raw.dim() == 2 && x_raw.size(1) == c.d_in,
                   "training batch has {} columns, the SAE expects {}",
                   x_raw.dim() == 2 ? x_raw.size(1) : -1,
                   c.d_in);
    const at::Tensor x = sae.normalize_input(x_raw);
    const at::Tensor u = c.apply_b_dec_to_input ? x - p.b_dec : x;
    const at::Tensor pre = at::addmm(p.b_enc, u, p.W_encT.t());

    Pass out;
    SaeGrads& g = out.grads;
    const bool sparse_arch = c.arch == Arch::TopK || c.arch == Arch::BatchTopK;
    at::Tensor xhat;
    // Sparse codes (topk/batchtopk).
    at::Tensor row_ptr, ids, values;
    at::Tensor f;  // dense codes (dense path)
    if (sparse_arch) {
        if (c.arch == Arch::TopK) {
            auto [vals, idx] = pre.topk(c.k, 1);
            row_ptr = csr_row_ptr_fixed(B, c.k, pre.options());
            ids = idx.reshape({-1});
            values = vals.clamp_min(0).reshape({-1});
        } else {
            const auto flat = pre.clamp_min(0).reshape({-1});
            const std::int64_t keep = std::min<std::int64_t>(c.k * B, flat.size(0));
            auto [vals, idx] = flat.topk(keep);
            auto [sorted, order] = idx.sort();
            auto v = vals.index_select(0, order);
            const auto mask = v > 0;
            sorted = sorted.masked_select(mask);
            values = v.masked_select(mask);
            ids = sorted.remainder(n);
            const auto rows = sorted.div(n, "floor");
            row_ptr =
                at::cat({at::zeros({1}, rows.options()), at::bincount(rows, {}, B).cumsum(0)});
            out.min_selected = values.numel() > 0 ? values.min().item<double>() : 0.0;
        }
        out.fired = at::zeros({n}, pre.options().dtype(at::kBool));
        out.fired.index_fill_(0, ids.masked_select(values > 0), true);
        if (o.decoder == DecoderPath::Sparse) {
            xhat = detail::sparse_decode(p.W_dec, row_ptr, ids, values, p.b_dec);
        } else {
            f = at::zeros({B, n}, pre.options());
            f.view({-1}).index_put_({detail::rows_of_entries(row_ptr, ids.size(0)) * n + ids},
                                    values);
            xhat = at::addmm(p.b_dec, f, p.W_dec);
        }
    } else if (c.arch == Arch::ReLU) {
        f = pre.clamp_min(0);
        out.fired = (f > 0).any(0);
        xhat = at::addmm(p.b_dec, f, p.W_dec);
    } else {
        const auto theta = log_threshold.exp();
        f = at::where(pre > theta, pre, at::zeros_like(pre));
        out.fired = (f > 0).any(0);
        xhat = at::addmm(p.b_dec, f, p.W_dec);
    }

    const at::Tensor e = xhat - x;
    const double mse = e.pow(2).sum().item<double>() / Bd;
    const double var = (x - x.mean(0)).pow(2).sum().item<double>() / Bd;
    g.stats.mse = mse;
    g.stats.fvu = var > 0 ? mse / var : 0.0;
    const at::Tensor gx = e * (2.0 / Bd);  // d mse / d x̂
    g.b_dec = gx.sum(0);
    at::Tensor g_u;  // d loss / d u (only for apply_b_dec_to_input)

    if (sparse_arch && o.decoder == DecoderPath::Sparse) {
        g.W_dec = at::zeros_like(p.W_dec);
        detail::scatter_outer_add(g.W_dec, gx, row_ptr, ids, values);
        const auto g_pre = detail::gather_dot(gx, p.W_dec, row_ptr, ids) * (values > 0);
        g.b_enc = at::zeros_like(p.b_enc).index_add_(0, ids, g_pre);
        g.W_encT = at::zeros_like(p.W_encT);
        detail::scatter_outer_add(g.W_encT, u, row_ptr, ids, g_pre);
        if (c.apply_b_dec_to_input) {
            g_u = detail::sparse_decode(p.W_encT, row_ptr, ids, g_pre, at::Tensor());
        }
        g.stats.l0 = static_cast<double>((values > 0).sum().item<std::int64_t>()) / Bd;
    } else {
        at::Tensor g_f = at::mm(gx, p.W_dec.t());
        g.W_dec = at::mm(f.t(), gx);
        at::Tensor g_pre;
        if (c.arch == Arch::ReLU) {
            const auto norms = p.W_dec.norm(2, {1});
            const double l1 = (f * norms).sum().item<double>() / Bd;
            g.stats.sparsity = l1;
            g_f = g_f + norms * (o.l1_coeff / Bd);
            g.W_dec +=
                (f.sum(0) / norms.clamp_min(1e-12)).unsqueeze(1) * p.W_dec * (o.l1_coeff / Bd);
            g_pre = g_f * (pre > 0);
        } else if (c.arch == Arch::JumpReLU) {
            const auto theta = log_threshold.exp();
            const auto active = pre > theta;
            g_pre = g_f * active;
            // Rectangle kernel K(z) = 1{|z| < 1/2}, z = (pre - θ)/ε.
            const auto K = ((pre - theta).abs() < 0.5 * o.bandwidth).to(at::kFloat);
            g.stats.sparsity = active.sum().item<double>() / Bd;
            // ∂f/∂θ = -(θ/ε) K, ∂H/∂θ = -(1/ε) K.
            const auto g_theta = -(g_f * K).sum(0) * (theta / o.bandwidth) -
                                 K.sum(0) * (o.l0_coeff / (o.bandwidth * Bd));
            g.threshold = g_theta * theta;  // d/d log θ
        } else {
            g_pre = g_f * (f > 0);  // topk/batchtopk dense path: selected and positive
        }
        g.b_enc = g_pre.sum(0);
        g.W_encT = at::mm(g_pre.t(), u);
        if (c.apply_b_dec_to_input) {
            g_u = at::mm(g_pre, p.W_encT);
        }
        g.stats.l0 = (f > 0).sum().item<double>() / Bd;
    }

    // AuxK: dead latents reconstruct the residual.
    if (sparse_arch && o.aux_coeff > 0 && dead.defined()) {
        const std::int64_t n_dead = dead.sum().item<std::int64_t>();
        const std::int64_t k_aux =
            std::min<std::int64_t>(o.aux_k > 0 ? o.aux_k : c.d_in / 2, n_dead);
        if (k_aux > 0) {
            const at::Tensor resid = x - xhat;
            const auto masked =
                pre.masked_fill(dead.logical_not(), -std::numeric_limits<float>::infinity());
            auto [avals, aidx] = masked.topk(k_aux, 1);
            const auto a_ptr = csr_row_ptr_fixed(B, k_aux, pre.options());
            const auto a_ids = aidx.reshape({-1});
            const auto a_vals = avals.clamp_min(0).reshape({-1});
            const at::Tensor ehat =
                detail::sparse_decode(p.W_dec, a_ptr, a_ids, a_vals, at::Tensor());
            const double denom = (resid - resid.mean(0)).pow(2).sum().item<double>() / Bd;
            if (denom > 0) {
                const at::Tensor diff = ehat - resid;
                g.stats.aux = diff.pow(2).sum().item<double>() / Bd / denom;
                const at::Tensor ge = diff * (2.0 * o.aux_coeff / (Bd * denom));
                detail::scatter_outer_add(g.W_dec, ge, a_ptr, a_ids, a_vals);
                const auto ga = detail::gather_dot(ge, p.W_dec, a_ptr, a_ids) * (a_vals > 0);
                g.b_enc.index_add_(0, a_ids, ga);
                detail::scatter_outer_add(g.W_encT, u, a_ptr, a_ids, ga);
                if (c.apply_b_dec_to_input) {
                    g_u = g_u + detail::sparse_decode(p.W_encT, a_ptr, a_ids, ga, at::Tensor());
                }
            }
        }
    }
    if (c.apply_b_dec_to_input) {
        g.b_dec -= g_u.sum(0);
    }
    g.stats.loss = mse + o.aux_coeff * g.stats.aux +
                   (c.arch == Arch::ReLU       ? o.l1_coeff * g.stats.sparsity
                    : c.arch == Arch::JumpReLU ? o.l0_coeff * g.stats.sparsity
                                               : 0.0);
    return out;
}

}  // namespace

double sae_scheduled_lr(const SaeTrainOptions& o, std::int64_t step) {
    if (o.warmup_steps > 0 && step < o.warmup_steps) {
        return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
    }
    const auto decay_steps = static_cast<std::int64_t>(
        std::llround(o.decay_fraction * static_cast<double>(o.total_steps)));
    const std::int64_t decay_start = o.total_steps - decay_steps;
    if (decay_steps > 0 && step >= decay_start) {
        return o.lr * static_cast<double>(o.total_steps - step) /
               static_cast<double>(decay_steps + 1);
    }
    return o.lr;
}

SaeTrainer::SaeTrainer(Sae& sae, SaeTrainOptions options) : sae_(sae), options_(options) {
    torch::NoGradGuard no_grad;
    const auto& c = sae_.config();
    const auto& p = sae_.params();
    EVOSCOPE_CHECK(options_.total_steps >= 1, "SAE training needs at least one step");
    since_fired_ = at::zeros({c.d_sae}, p.W_dec.options().dtype(at::kLong));
    if (c.arch == Arch::JumpReLU) {
        log_threshold_ = p.threshold.clamp_min(1e-12).log();
    }
    auto add = [this](const std::string& name, const at::Tensor& t) {
        m_.emplace_back(name, at::zeros_like(t));
        v_.emplace_back(name, at::zeros_like(t));
    };
    add("W_dec", p.W_dec);
    if (!c.tied)
        add("W_encT", p.W_encT);
    add("b_enc", p.b_enc);
    add("b_dec", p.b_dec);
    if (c.arch == Arch::JumpReLU)
        add("log_threshold", log_threshold_);
}

at::Tensor SaeTrainer::dead_mask() const {
    return since_fired_ >= options_.dead_tokens;
}

double SaeTrainer::dead_fraction() const {
    return dead_mask().to(at::kFloat).mean().item<double>();
}

SaeGrads SaeTrainer::loss_and_grads(const at::Tensor& x) const {
    auto pass = forward_backward(sae_, options_, x, dead_mask(), log_threshold_);
    return std::move(pass.grads);
}

SaeStepStats SaeTrainer::step(const at::Tensor& x) {
    torch::NoGradGuard no_grad;
    const auto& c = sae_.config();
    auto& p = sae_.params();
    if (step_ == 0 && options_.unit_norm_decoder) {
        // Start on the constraint surface (a resumed run is already on it: no re-normalisation).
        p.W_dec.div_(p.W_dec.norm(2, {1}, true).clamp_min(1e-12));
    }
    Pass pass = forward_backward(sae_, options_, x, dead_mask(), log_threshold_);
    SaeGrads& g = pass.grads;
    // Tied: one matrix, both gradients.
    at::Tensor g_dec = c.tied ? g.W_dec + g.W_encT : g.W_dec;
    if (options_.unit_norm_decoder) {
        // Remove the component parallel to each (unit) row.
        const auto par = (g_dec * p.W_dec).sum(1, true);
        g_dec = g_dec - par * p.W_dec;
    }
    const double lr = sae_scheduled_lr(options_, step_);
    const double t = static_cast<double>(step_ + 1);
    const double bc1 = 1.0 - std::pow(options_.beta1, t);
    const double bc2 = 1.0 - std::pow(options_.beta2, t);
    std::map<std::string, std::pair<at::Tensor, at::Tensor>> pg;  // name -> (param, grad)
    pg["W_dec"] = {p.W_dec, g_dec};
    if (!c.tied)
        pg["W_encT"] = {p.W_encT, g.W_encT};
    pg["b_enc"] = {p.b_enc, g.b_enc};
    pg["b_dec"] = {p.b_dec, g.b_dec};
    if (c.arch == Arch::JumpReLU)
        pg["log_threshold"] = {log_threshold_, g.threshold};
    for (std::size_t i = 0; i < m_.size(); ++i) {
        const auto& name = m_[i].first;
        auto& [param, grad] = pg.at(name);
        auto& m = m_[i].second;
        auto& v = v_[i].second;
        m.mul_(options_.beta1).add_(grad, 1.0 - options_.beta1);
        v.mul_(options_.beta2).addcmul_(grad, grad, 1.0 - options_.beta2);
        const auto denom = (v / bc2).sqrt_().add_(options_.eps);
        param.addcdiv_(m, denom, -lr / bc1);
    }
    if (options_.unit_norm_decoder) {
        p.W_dec.div_(p.W_dec.norm(2, {1}, true).clamp_min(1e-12));
    }
    if (c.arch == Arch::JumpReLU) {
        p.threshold.copy_(log_threshold_.exp());
    }
    // Dead counters and θ.
    const std::int64_t B = x.size(0);
    since_fired_.add_(B).masked_fill_(pass.fired, 0);
    if (c.arch == Arch::BatchTopK && step_ >= options_.theta_start_step && pass.min_selected > 0) {
        // A running mean until 1/(1 - beta) observations, then the EMA (no bias towards the
        // first, untrained batches).
        const auto n_obs = static_cast<double>(step_ - options_.theta_start_step + 1);
        const double beta = std::min(options_.theta_beta, 1.0 - 1.0 / n_obs);
        theta_ = theta_ < 0 ? pass.min_selected : beta * theta_ + (1.0 - beta) * pass.min_selected;
        sae_.set_threshold(at::full({1}, theta_, at::kFloat));
    }
    ++step_;
    tokens_ += B;
    g.stats.lr = lr;
    g.stats.dead_fraction = dead_fraction();
    return g.stats;
}

std::vector<std::pair<std::string, at::Tensor>> SaeTrainer::state() const {
    auto cpu = [](const at::Tensor& t) {
        return t.to(at::kCPU).contiguous().clone();
    };
    std::vector<std::pair<std::string, at::Tensor>> s;
    s.emplace_back("step", at::full({1}, step_, at::kLong));
    s.emplace_back("tokens", at::full({1}, tokens_, at::kLong));
    s.emplace_back("since_fired", cpu(since_fired_));
    s.emplace_back("theta", at::full({1}, theta_, at::kDouble));
    if (log_threshold_.defined())
        s.emplace_back("log_threshold", cpu(log_threshold_));
    for (const auto& [name, t] : m_)
        s.emplace_back("adam.m." + name, cpu(t));
    for (const auto& [name, t] : v_)
        s.emplace_back("adam.v." + name, cpu(t));
    return s;
}

void SaeTrainer::load_state(const std::vector<std::pair<std::string, at::Tensor>>& state) {
    torch::NoGradGuard no_grad;
    std::map<std::string, at::Tensor> s(state.begin(), state.end());
    auto get = [&s](const std::string& name, const at::Tensor& like) {
        const auto it = s.find(name);
        EVOSCOPE_CHECK_FORMAT(it != s.end(), "SAE training state: missing entry '{}'", name);
        EVOSCOPE_CHECK_FORMAT(it->second.sizes() == like.sizes(),
                              "SAE training state: entry '{}' has the wrong shape",
                              name);
        return it->second.to(like.device(), like.scalar_type());
    };
    const auto one_long = at::zeros({1}, at::kLong);
    step_ = get("step", one_long).item<std::int64_t>();
    tokens_ = get("tokens", one_long).item<std::int64_t>();
    since_fired_.copy_(get("since_fired", since_fired_));
    theta_ = get("theta", at::zeros({1}, at::kDouble)).item<double>();
    for (auto& [name, t] : m_)
        t.copy_(get("adam.m." + name, t));
    for (auto& [name, t] : v_)
        t.copy_(get("adam.v." + name, t));
    if (log_threshold_.defined()) {
        log_threshold_.copy_(get("log_threshold", log_threshold_));
        sae_.params().threshold.copy_(log_threshold_.exp());
    }
}

}  // namespace evoscope::sae
