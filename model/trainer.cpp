// Causal next-base training: schedule, AdamW, clipping, evaluation and the window sampler.
// The AdamW update mirrors torch.optim.AdamW's single-tensor path (torch/optim/adamw.py,
// `_single_tensor_adamw`) operation by operation, so results match it to the last bit on CPU.
#include "model/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>

#include <torch/torch.h>

#include "core/check.hpp"
#include "model/safetensors.hpp"

namespace evoscope::model {

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

bool decays(const std::string& name, const at::Tensor& t) {
    return t.dim() >= 2 && name.ends_with("weight") && !name.ends_with("short_filter_weight");
}

}  // namespace

double scheduled_lr(const TrainConfig& c, std::int64_t step) {
    if (step < c.warmup_steps) {
        return c.lr * static_cast<double>(step + 1) / static_cast<double>(c.warmup_steps);
    }
    const std::int64_t span = std::max<std::int64_t>(c.total_steps - c.warmup_steps, 1);
    const double p =
        std::min(1.0, static_cast<double>(step - c.warmup_steps) / static_cast<double>(span));
    return c.min_lr + 0.5 * (c.lr - c.min_lr) * (1.0 + std::cos(std::numbers::pi * p));
}

// ---------------------------------------------------------------------------------------------

AdamW::AdamW(std::vector<std::pair<std::string, at::Tensor>> params, const TrainConfig& config)
    : config_(config) {
    torch::NoGradGuard no_grad;
    for (auto& [name, p] : params) {
        Slot s;
        s.name = name;
        s.param = p;
        s.master = p.scalar_type() == at::kFloat ? p : p.detach().to(at::kFloat).clone();
        s.exp_avg = at::zeros_like(s.master);
        s.exp_avg_sq = at::zeros_like(s.master);
        s.decay = decays(name, p);
        slots_.push_back(std::move(s));
    }
}

void AdamW::step(double lr) {
    torch::NoGradGuard no_grad;
    ++n_steps_;
    const double b1 = config_.beta1;
    const double b2 = config_.beta2;
    const double bc1 = 1.0 - std::pow(b1, static_cast<double>(n_steps_));
    const double bc2_sqrt = std::sqrt(1.0 - std::pow(b2, static_cast<double>(n_steps_)));
    for (auto& s : slots_) {
        const at::Tensor& grad = s.param.grad();
        if (!grad.defined()) {
            continue;
        }
        const at::Tensor g = grad.to(at::kFloat);
        if (s.decay && config_.weight_decay != 0.0) {
            s.master.mul_(1.0 - lr * config_.weight_decay);
        }
        s.exp_avg.mul_(b1).add_(g, 1.0 - b1);
        s.exp_avg_sq.mul_(b2).addcmul_(g, g, 1.0 - b2);
        const at::Tensor denom = (s.exp_avg_sq.sqrt() / bc2_sqrt).add_(config_.eps);
        s.master.addcdiv_(s.exp_avg, denom, -lr / bc1);
        if (!s.master.is_same(s.param)) {
            s.param.copy_(s.master);
        }
    }
}

void AdamW::zero_grad() {
    for (auto& s : slots_) {
        if (s.param.grad().defined()) {
            s.param.mutable_grad() = at::Tensor();
        }
    }
}

std::vector<std::pair<std::string, at::Tensor>> AdamW::state() const {
    std::vector<std::pair<std::string, at::Tensor>> out;
    out.emplace_back("step", at::full({1}, n_steps_, at::TensorOptions().dtype(at::kLong)));
    for (const auto& s : slots_) {
        out.emplace_back("master." + s.name, s.master.detach().to(at::kCPU).contiguous());
        out.emplace_back("exp_avg." + s.name, s.exp_avg.to(at::kCPU).contiguous());
        out.emplace_back("exp_avg_sq." + s.name, s.exp_avg_sq.to(at::kCPU).contiguous());
    }
    return out;
}

void AdamW::load_state(const std::vector<std::pair<std::string, at::Tensor>>& state) {
    torch::NoGradGuard no_grad;
    std::map<std::string, at::Tensor> by_name(state.begin(), state.end());
    auto get = [&by_name](const std::string& name, at::IntArrayRef shape) -> const at::Tensor& {
        const auto it = by_name.find(name);
        EVOSCOPE_CHECK_MODEL(it != by_name.end(), "optimizer state has no entry '{}'", name);
        EVOSCOPE_CHECK_MODEL(
            it->second.sizes() == shape, "optimizer state entry '{}' has the wrong shape", name);
        return it->second;
    };
    const at::Tensor& step = get("step", {1});
    EVOSCOPE_CHECK_MODEL(step.scalar_type() == at::kLong,
                         "optimizer state entry 'step' must be int64");
    for (auto& s : slots_) {
        s.master.copy_(get("master." + s.name, s.master.sizes()));
        s.exp_avg.copy_(get("exp_avg." + s.name, s.master.sizes()));
        s.exp_avg_sq.copy_(get("exp_avg_sq." + s.name, s.master.sizes()));
        if (!s.master.is_same(s.param)) {
            s.param.copy_(s.master);
        }
    }
    n_steps_ = step.item<std::int64_t>();
}

double clip_grad_norm(std::span<const at::Tensor> params, double max_norm) {
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> norms;
    for (const auto& p : params) {
        if (p.grad().defined()) {
            norms.push_back(p.grad().to(at::kFloat).norm(2));
        }
    }
    if (norms.empty()) {
        return 0.0;
    }
    const double total = at::stack(norms).norm(2).item<double>();
    if (max_norm > 0 && total > max_norm) {
        const double coef = max_norm / (total + 1e-6);  // torch.nn.utils.clip_grad_norm_
        for (const auto& p : params) {
            if (p.grad().defined()) {
                p.grad().mul_(coef);
            }
        }
    }
    return total;
}

at::Tensor next_token_loss(Evo2Model& model, const at::Tensor& ids) {
    EVOSCOPE_CHECK(ids.defined() && ids.dim() == 2 && ids.size(1) >= 2,
                   "training windows must be a [B, W+1] tensor with W >= 1");
    const std::int64_t W = ids.size(1) - 1;
    const at::Tensor logits = model.forward_train(ids.slice(1, 0, W));  // [B, W, V]
    const std::int64_t V = logits.size(2);
    const at::Tensor logp = at::log_softmax(logits.to(at::kFloat), -1).reshape({-1, V});
    const at::Tensor target = ids.slice(1, 1, W + 1).reshape({-1}).to(logp.device(), at::kLong);
    return at::nll_loss(logp, target);
}

// ---------------------------------------------------------------------------------------------

Trainer::Trainer(Evo2Model& model, const TrainConfig& config)
    : model_(model), config_(config), optimizer_(model.parameters(), config) {
    EVOSCOPE_CHECK(
        config.lr > 0 && config.min_lr >= 0 && config.min_lr <= config.lr,
        "learning rates must satisfy 0 <= min_lr <= lr and lr > 0 (got lr {}, min_lr {})",
        config.lr,
        config.min_lr);
    EVOSCOPE_CHECK(config.warmup_steps >= 0 && config.total_steps >= 1,
                   "warmup must be >= 0 and steps >= 1");
    EVOSCOPE_CHECK(config.beta1 >= 0 && config.beta1 < 1 && config.beta2 >= 0 && config.beta2 < 1 &&
                       config.eps > 0,
                   "AdamW betas must be in [0, 1) and eps > 0");
    for (auto& [name, p] : model_.parameters()) {
        params_.push_back(p);
    }
}

StepResult Trainer::step(const at::Tensor& ids) {
    StepResult r;
    r.lr = scheduled_lr(config_, optimizer_.n_steps());
    optimizer_.zero_grad();
    const at::Tensor loss = next_token_loss(model_, ids);
    loss.backward();
    r.loss = loss.item<double>();
    r.grad_norm = clip_grad_norm(params_, config_.grad_clip);
    optimizer_.step(r.lr);
    optimizer_.zero_grad();
    return r;
}

void Trainer::save_optimizer(const std::filesystem::path& path) const {
    write_safetensors(path, optimizer_.state(), {{"evoscope.optimizer", "adamw"}});
}

void Trainer::load_optimizer(const std::filesystem::path& path) {
    const SafetensorsFile file(path);
    std::vector<std::pair<std::string, at::Tensor>> state;
    for (const auto& e : file.entries()) {
        state.emplace_back(e.name, file.tensor(e.name).clone());
    }
    optimizer_.load_state(state);
}

// ---------------------------------------------------------------------------------------------

EvalResult evaluate(const Evo2Model& model,
                    std::span<const std::vector<TokenId>> sequences,
                    std::int64_t window,
                    std::int64_t batch) {
    EVOSCOPE_CHECK(window >= 1 && batch >= 1, "evaluation needs window >= 1 and batch >= 1");
    // Chunks grouped by length so each batch is rectangular; map order keeps the sum order fixed.
    std::map<std::int64_t, std::vector<std::pair<std::size_t, std::int64_t>>> by_length;
    for (std::size_t i = 0; i < sequences.size(); ++i) {
        const auto n = static_cast<std::int64_t>(sequences[i].size());
        for (std::int64_t begin = 0; begin + 1 < n; begin += window) {
            const std::int64_t len = std::min(window + 1, n - begin);
            by_length[len].emplace_back(i, begin);
        }
    }
    double nll = 0;
    EvalResult r;
    for (const auto& [len, chunks] : by_length) {
        for (std::size_t c0 = 0; c0 < chunks.size(); c0 += static_cast<std::size_t>(batch)) {
            const std::size_t c1 = std::min(chunks.size(), c0 + static_cast<std::size_t>(batch));
            const auto B = static_cast<std::int64_t>(c1 - c0);
            at::Tensor ids = at::empty({B, len}, at::TensorOptions().dtype(at::kLong));
            auto* data = ids.data_ptr<std::int64_t>();
            for (std::size_t c = c0; c < c1; ++c) {
                const auto& seq = sequences[chunks[c].first];
                for (std::int64_t t = 0; t < len; ++t) {
                    data[static_cast<std::int64_t>(c - c0) * len + t] =
                        seq[static_cast<std::size_t>(chunks[c].second + t)];
                }
            }
            const at::Tensor logits =
                model.logits(ids.slice(1, 0, len - 1));  // [B, len-1, V] fp32 CPU
            const at::Tensor logp = at::log_softmax(logits, -1);
            const at::Tensor lp = logp.gather(2, ids.slice(1, 1, len).unsqueeze(2));
            nll -= lp.to(at::kDouble).sum().item<double>();
            r.n_predicted += B * (len - 1);
        }
    }
    r.nats_per_token = r.n_predicted > 0 ? nll / static_cast<double>(r.n_predicted) : 0.0;
    return r;
}

// ---------------------------------------------------------------------------------------------

WindowSampler::WindowSampler(std::vector<std::int64_t> segment_lengths,
                             std::int64_t length,
                             bool both_strands,
                             std::uint64_t seed)
    : lengths_(std::move(segment_lengths)),
      length_(length),
      both_strands_(both_strands),
      seed_(seed) {
    EVOSCOPE_CHECK(length >= 1, "window length must be positive");
    std::int64_t total = 0;
    std::int64_t longest = 0;
    for (const auto n : lengths_) {
        total += std::max<std::int64_t>(n - length + 1, 0);
        longest = std::max(longest, n);
        cumulative_.push_back(total);
    }
    EVOSCOPE_CHECK(!lengths_.empty(), "no training sequences");
    EVOSCOPE_CHECK(
        total > 0,
        "a training window of {} bases is longer than every training sequence (longest: {} bases); "
        "use a shorter --window",
        length,
        longest);
}

WindowSampler::WindowSampler(std::vector<std::int64_t> segment_lengths,
                             std::vector<std::size_t> group_of,
                             std::vector<double> group_weights,
                             std::vector<std::string> group_names,
                             std::int64_t length,
                             bool both_strands,
                             std::uint64_t seed)
    : WindowSampler(std::move(segment_lengths), length, both_strands, seed) {
    EVOSCOPE_CHECK(group_of.size() == lengths_.size(), "one group per segment is needed");
    EVOSCOPE_CHECK(group_names.size() == group_weights.size(),
                   "one name per group weight is needed");
    const std::size_t n_groups = group_weights.size();
    group_segments_.assign(n_groups, {});
    group_cumulative_.assign(n_groups, {});
    for (std::size_t s = 0; s < lengths_.size(); ++s) {
        EVOSCOPE_CHECK(group_of[s] < n_groups,
                       "segment {} belongs to group {}, but there are {} groups",
                       s,
                       group_of[s],
                       n_groups);
        const std::int64_t starts = std::max<std::int64_t>(lengths_[s] - length_ + 1, 0);
        auto& cum = group_cumulative_[group_of[s]];
        group_segments_[group_of[s]].push_back(s);
        cum.push_back((cum.empty() ? 0 : cum.back()) + starts);
    }
    double total = 0;
    for (std::size_t g = 0; g < n_groups; ++g) {
        const double w = group_weights[g];
        EVOSCOPE_CHECK(std::isfinite(w) && w >= 0,
                       "sampling weight {} of {} is not a finite number >= 0",
                       w,
                       group_names[g]);
        const std::int64_t starts = group_cumulative_[g].empty() ? 0 : group_cumulative_[g].back();
        EVOSCOPE_CHECK(w == 0 || starts > 0,
                       "{} has sampling weight {} but no training window of {} bases fits in it; "
                       "give it weight 0 "
                       "or use a shorter --window",
                       group_names[g],
                       w,
                       length_);
        total += w;
    }
    EVOSCOPE_CHECK(total > 0, "every sampling weight is 0");
    double run = 0;
    for (std::size_t g = 0; g < n_groups; ++g) {
        run += group_weights[g] / total;
        group_cdf_.push_back(run);
        if (group_weights[g] > 0)
            last_drawable_group_ = g;
    }
}

std::vector<double> WindowSampler::group_shares() const {
    if (group_cdf_.empty())
        return {1.0};
    std::vector<double> shares;
    double prev = 0;
    for (const double c : group_cdf_) {
        shares.push_back(c - prev);
        prev = c;
    }
    return shares;
}

WindowDraw WindowSampler::draw(std::uint64_t index) const {
    const std::uint64_t u = splitmix64(seed_ ^ splitmix64(index));
    WindowDraw d;
    if (group_cdf_.empty()) {
        const auto pos =
            static_cast<std::int64_t>(u % static_cast<std::uint64_t>(cumulative_.back()));
        const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), pos);
        d.segment = static_cast<std::size_t>(it - cumulative_.begin());
        d.offset = pos - (d.segment == 0 ? 0 : cumulative_[d.segment - 1]);
    } else {
        // The group from the top 53 bits of a second stream, the start from u as in the
        // unweighted mode, so the strand bit below stays independent of both.
        const double r =
            static_cast<double>(splitmix64(u ^ 0x5851f42d4c957f2dULL) >> 11) * 0x1.0p-53;
        // upper_bound never lands on a weight-0 group (its cdf entry equals the one before);
        // it can only run past the end when rounding leaves the last cdf entries a hair below 1.
        auto g = static_cast<std::size_t>(
            std::upper_bound(group_cdf_.begin(), group_cdf_.end(), r) - group_cdf_.begin());
        if (g == group_cdf_.size())
            g = last_drawable_group_;
        const auto& cum = group_cumulative_[g];
        const auto pos = static_cast<std::int64_t>(u % static_cast<std::uint64_t>(cum.back()));
        const auto it = std::upper_bound(cum.begin(), cum.end(), pos);
        const auto k = static_cast<std::size_t>(it - cum.begin());
        d.segment = group_segments_[g][k];
        d.offset = pos - (k == 0 ? 0 : cum[k - 1]);
    }
    d.reverse = both_strands_ && (splitmix64(u) & 1U) != 0;
    return d;
}

}  // namespace evoscope::model
