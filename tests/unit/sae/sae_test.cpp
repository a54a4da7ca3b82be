// The SAE engine: gradients against autograd, the sparse path against the dense path, ground-truth
// dictionary recovery, exact resume, normalisation folding, the BatchTopK threshold, metrics.
#include "sae/sae.hpp"

#include <cmath>
#include <limits>

#include <ATen/CPUGeneratorImpl.h>
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "core/error.hpp"
#include "sae/metrics.hpp"
#include "sae/sae_trainer.hpp"
#include "sae/sparse_ops.hpp"
#include "tests/support/catch_torch.hpp"  // after libtorch: Catch2's CHECK, not glog's

// libtorch's glog headers define a one-argument CHECK that aborts; use Catch's again.
#undef CHECK
#define CHECK(...) \
    INTERNAL_CATCH_TEST("CHECK", Catch::ResultDisposition::ContinueOnFailure, __VA_ARGS__)

using namespace evoscope;
using namespace evoscope::sae;
namespace ops = evoscope::sae::detail;

namespace {

at::Tensor randn(std::vector<std::int64_t> shape, std::uint64_t seed, double std = 1.0) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    return at::empty(shape, at::kFloat).normal_(0.0, std, gen);
}

SaeConfig config(Arch arch, std::int64_t d_in, std::int64_t d_sae, std::int64_t k) {
    SaeConfig c;
    c.arch = arch;
    c.d_in = d_in;
    c.d_sae = d_sae;
    c.k = k;
    return c;
}

double max_rel(const at::Tensor& a, const at::Tensor& b) {
    const double scale = std::max(b.abs().max().item<double>(), 1e-12);
    return (a - b).abs().max().item<double>() / scale;
}

/// The same loss written with autograd (reference for the hand-written gradients).
struct AutogradRef {
    at::Tensor W_encT, W_dec, b_enc, b_dec;
    double loss;
};

AutogradRef autograd_reference(const Sae& sae, const at::Tensor& x, double l1_coeff) {
    const auto& c = sae.config();
    const auto& p = sae.params();
    auto W_encT = p.W_encT.detach().clone().requires_grad_(true);
    auto W_dec = p.W_dec.detach().clone().requires_grad_(true);
    auto b_enc = p.b_enc.detach().clone().requires_grad_(true);
    auto b_dec = p.b_dec.detach().clone().requires_grad_(true);
    const auto u = c.apply_b_dec_to_input ? x - b_dec : x;
    const auto pre = at::addmm(b_enc, u, W_encT.t());
    at::Tensor f;
    if (c.arch == Arch::TopK) {
        const auto idx = std::get<1>(pre.detach().topk(c.k, 1));
        const auto mask = at::zeros_like(pre).scatter_(1, idx, 1.0);
        f = pre.clamp_min(0) * mask;
    } else if (c.arch == Arch::BatchTopK) {
        const auto flat = pre.detach().clamp_min(0).reshape({-1});
        const auto idx = std::get<1>(flat.topk(c.k * x.size(0)));
        const auto mask = at::zeros_like(flat).scatter_(0, idx, 1.0).view(pre.sizes());
        f = pre.clamp_min(0) * mask;
    } else {
        f = pre.clamp_min(0);
    }
    const auto xhat = at::addmm(b_dec, f, W_dec);
    auto loss = (xhat - x).pow(2).sum() / static_cast<double>(x.size(0));
    if (c.arch == Arch::ReLU) {
        loss = loss + l1_coeff * (f * W_dec.norm(2, {1})).sum() / static_cast<double>(x.size(0));
    }
    loss.backward();
    return {W_encT.grad(), W_dec.grad(), b_enc.grad(), b_dec.grad(), loss.item<double>()};
}

/// Sparse dictionary data: `n_true` unit-norm features in d dimensions, `active` per row with
/// magnitudes U(0.5, 1.5), plus Gaussian noise.
struct Synthetic {
    at::Tensor features;  // [n_true, d]
    at::Tensor x;         // [N, d]
};

Synthetic synthetic(std::int64_t n_true,
                    std::int64_t d,
                    std::int64_t N,
                    std::int64_t active,
                    double noise,
                    std::uint64_t seed) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    Synthetic s;
    s.features = at::empty({n_true, d}, at::kFloat).normal_(0.0, 1.0, gen);
    s.features = s.features / s.features.norm(2, {1}, true);
    const auto ids =
        std::get<1>(at::rand({N, n_true}, gen).sort(1)).slice(1, 0, active);  // distinct per row
    const auto mags = at::empty({N, active}, at::kFloat).uniform_(0.5, 1.5, gen);
    s.x = (s.features.index_select(0, ids.reshape({-1})).view({N, active, d}) * mags.unsqueeze(2))
              .sum(1);
    s.x = s.x + at::empty({N, d}, at::kFloat).normal_(0.0, noise, gen);
    return s;
}

}  // namespace

TEST_CASE("sparse kernels match dense products", "[sae]") {
    const auto W = randn({50, 12}, 1);
    const auto G = randn({6, 12}, 2);
    // Variable-length rows, including an empty one.
    const auto row_ptr = at::tensor(std::vector<std::int64_t>{0, 3, 3, 5, 9, 10, 12});
    const auto ids = at::tensor(std::vector<std::int64_t>{1, 7, 49, 0, 7, 3, 4, 5, 6, 20, 7, 8});
    const auto vals = randn({12}, 3);
    const auto bias = randn({12}, 4);
    at::Tensor dense = at::zeros({6, 50});
    const auto rows = ops::rows_of_entries(row_ptr, 12);
    dense.index_put_({rows, ids}, vals);  // no id repeats within a row
    CHECK(max_rel(ops::sparse_decode(W, row_ptr, ids, vals, bias), at::addmm(bias, dense, W)) <
          1e-6);
    const auto gd = ops::gather_dot(G, W, row_ptr, ids);
    CHECK(max_rel(gd, (G.mm(W.t())).index({rows, ids})) < 1e-6);
    at::Tensor grad = at::zeros({50, 12});
    ops::scatter_outer_add(grad, G, row_ptr, ids, vals);
    CHECK(max_rel(grad, dense.t().mm(G)) < 1e-6);
}

TEST_CASE("hand-written SAE gradients match autograd", "[sae]") {
    const auto x = randn({64, 16}, 11);
    for (const Arch arch : {Arch::TopK, Arch::BatchTopK, Arch::ReLU}) {
        for (const bool apply_b_dec : {true, false}) {
            DYNAMIC_SECTION(arch_name(arch)
                            << (apply_b_dec ? " b_dec subtracted" : " b_dec not subtracted")) {
                auto c = config(arch, 16, 48, 5);
                c.apply_b_dec_to_input = apply_b_dec;
                Sae sae = Sae::init(c, 7, "cpu", 0.5);
                sae.params().b_dec.copy_(randn({16}, 12, 0.1));
                sae.params().b_enc.copy_(randn({48}, 13, 0.05));
                SaeTrainOptions o;
                o.aux_coeff = 0;
                o.unit_norm_decoder = false;
                o.l1_coeff = 0.3;
                const auto ref = autograd_reference(sae, x, o.l1_coeff);
                for (const auto path : {DecoderPath::Sparse, DecoderPath::Dense}) {
                    if (arch == Arch::ReLU && path == DecoderPath::Sparse)
                        continue;
                    o.decoder = path;
                    SaeTrainer trainer(sae, o);
                    const auto g = trainer.loss_and_grads(x);
                    CHECK(g.stats.loss == Approx(ref.loss).epsilon(1e-5));
                    CHECK(max_rel(g.W_dec, ref.W_dec) < 1e-4);
                    CHECK(max_rel(g.W_encT, ref.W_encT) < 1e-4);
                    CHECK(max_rel(g.b_enc, ref.b_enc) < 1e-4);
                    CHECK(max_rel(g.b_dec, ref.b_dec) < 1e-4);
                }
            }
        }
    }
}

TEST_CASE("JumpReLU threshold gradient follows the straight-through estimator", "[sae]") {
    // One latent, one input dimension: pre = w x + b. With θ near pre, K = 1 and the pseudo-
    // derivatives are ∂f/∂θ = -θ/ε, ∂H/∂θ = -1/ε (Rajamanoharan et al. 2024, eq. 11-12).
    auto c = config(Arch::JumpReLU, 1, 1, 0);
    c.apply_b_dec_to_input = false;
    const auto one = at::ones({1, 1});
    Sae sae =
        Sae::from_tensors(c, one, one, at::zeros({1}), at::zeros({1}), at::full({1}, 0.5), "cpu");
    SaeTrainOptions o;
    o.bandwidth = 0.1;
    o.l0_coeff = 2.0;
    o.unit_norm_decoder = false;
    SaeTrainer trainer(sae, o);
    const auto x = at::full({1, 1}, 0.52);  // pre = 0.52, θ = 0.5, |pre - θ| < ε/2: K = 1; active
    const auto g = trainer.loss_and_grads(x);
    // f = 0.52, x̂ = 0.52 = x: mse gradient 0, so dL/dθ = l0 * (-1/ε) and d/dlogθ = θ dL/dθ.
    CHECK(g.threshold.item<double>() == Approx(0.5 * 2.0 * (-1.0 / 0.1)).epsilon(1e-5));
    CHECK(g.stats.sparsity == Approx(1.0));
}

TEST_CASE("a TopK SAE recovers a known sparse dictionary", "[sae]") {
    // 512 unit features in d = 64, 4 active per row, noise 0.01; the SAE has 1024 latents.
    const std::int64_t n_true = 512, d = 64, active = 4;
    const auto data = synthetic(n_true, d, 60'000, active, 0.01, 5);
    auto c = config(Arch::TopK, d, 2 * n_true, active);
    Sae sae = Sae::init(c, 3, "cpu", 1.0);
    SaeTrainOptions o;
    o.lr = 2e-3;
    o.total_steps = 1500;
    o.warmup_steps = 50;
    o.dead_tokens = 20'000;
    o.aux_k = 32;
    SaeTrainer trainer(sae, o);
    const std::int64_t B = 512;
    for (std::int64_t s = 0; s < o.total_steps; ++s) {
        const std::int64_t r0 = (s * B) % (data.x.size(0) - B);
        trainer.step(data.x.slice(0, r0, r0 + B));
    }
    // Each true feature's best cosine with any decoder row.
    const auto cos = data.features.mm(
        sae.params().W_dec.t() / sae.params().W_dec.norm(2, {1}).unsqueeze(0));  // [n_true, d_sae]
    const auto best = std::get<0>(cos.max(1));
    const double recovered = (best >= 0.9).to(at::kFloat).mean().item<double>();
    INFO("recovered fraction " << recovered << ", dead " << trainer.dead_fraction());
    CHECK(recovered >= 0.9);
}

TEST_CASE("SAE training resumes bit-identically", "[sae]") {
    const auto data = synthetic(64, 16, 4096, 3, 0.02, 9);
    for (const Arch arch : {Arch::TopK, Arch::BatchTopK, Arch::JumpReLU, Arch::ReLU}) {
        DYNAMIC_SECTION(arch_name(arch)) {
            auto c = config(arch, 16, 96, 4);
            SaeTrainOptions o;
            o.total_steps = 12;
            o.warmup_steps = 2;
            o.dead_tokens = 256;
            o.theta_start_step = 2;
            o.unit_norm_decoder = arch != Arch::ReLU;
            auto batch = [&](std::int64_t s) {
                return data.x.slice(0, s * 128, (s + 1) * 128);
            };
            Sae straight = Sae::init(c, 1, "cpu", 1.0);
            SaeTrainer t1(straight, o);
            for (std::int64_t s = 0; s < o.total_steps; ++s)
                t1.step(batch(s));

            Sae first = Sae::init(c, 1, "cpu", 1.0);
            SaeTrainer t2(first, o);
            for (std::int64_t s = 0; s < 5; ++s)
                t2.step(batch(s));
            // "Save": the weights and the trainer state; "load" into fresh objects.
            const auto weights = first.saelens_tensors();
            const auto state = t2.state();
            auto get = [&](const char* n) {
                for (const auto& [k, v] : weights)
                    if (k == n)
                        return v;
                return at::Tensor();
            };
            Sae resumed = Sae::from_tensors(
                c, get("W_enc"), get("W_dec"), get("b_enc"), get("b_dec"), get("threshold"), "cpu");
            SaeTrainer t3(resumed, o);
            t3.load_state(state);
            for (std::int64_t s = 5; s < o.total_steps; ++s)
                t3.step(batch(s));
            const auto a = straight.saelens_tensors();
            const auto b = resumed.saelens_tensors();
            REQUIRE(a.size() == b.size());
            for (std::size_t i = 0; i < a.size(); ++i) {
                INFO(a[i].first);
                CHECK(at::equal(a[i].second, b[i].second));
            }
            CHECK(at::equal(t1.dead_mask(), t3.dead_mask()));
        }
    }
}

TEST_CASE("folding the normalisation keeps the SAE's function", "[sae]") {
    const auto x = randn({32, 8}, 21) * 3.0 + 2.0;
    for (const bool apply_b_dec : {true, false}) {
        for (const bool tied : {false, true}) {
            auto c = config(Arch::ReLU, 8, 24, 0);
            c.apply_b_dec_to_input = apply_b_dec;
            c.tied = tied;
            Sae sae = Sae::init(c, 4, "cpu", 0.5);
            sae.params().b_dec.copy_(randn({8}, 22, 0.3));
            sae.params().b_enc.copy_(randn({24}, 23, 0.1));
            sae.fit_normalization(Normalization::MeanCenterConstantNorm, x);
            CHECK(sae.norm_scale() != 1.0);
            const auto before_f = sae.encode_dense(x);
            const auto before = sae.reconstruct(x);
            sae.fold_normalization();
            CHECK(sae.config().normalization == Normalization::None);
            CHECK(max_rel(sae.encode_dense(x), before_f) < 1e-4);
            CHECK(max_rel(sae.reconstruct(x), before) < 1e-4);
        }
    }
}

TEST_CASE("BatchTopK threshold makes encoding independent of the batch", "[sae]") {
    const auto data = synthetic(128, 32, 20'000, 4, 0.01, 31);
    auto c = config(Arch::BatchTopK, 32, 256, 4);
    Sae sae = Sae::init(c, 2, "cpu", 1.0);
    SaeTrainOptions o;
    o.lr = 2e-3;
    o.total_steps = 300;
    o.warmup_steps = 20;
    o.theta_start_step = 50;
    o.dead_tokens = 20'000;
    SaeTrainer trainer(sae, o);
    for (std::int64_t s = 0; s < o.total_steps; ++s) {
        const std::int64_t r0 = (s * 256) % (18'000 - 256);
        trainer.step(data.x.slice(0, r0, r0 + 256));
    }
    REQUIRE(sae.has_threshold());
    const auto held = data.x.slice(0, 18'000, 20'000);
    const auto all = sae.encode(held);
    const double l0 = static_cast<double>(all.nnz()) / static_cast<double>(held.size(0));
    INFO("threshold L0 " << l0);
    CHECK(l0 > 0.6 * 4);
    CHECK(l0 < 1.6 * 4);
    // The first 10 rows encoded alone give the same codes as inside the big batch (up to float
    // rounding: the BLAS may round the encoder GEMM differently for 10 rows than for 2,000).
    const auto alone = sae.encode_dense(held.slice(0, 0, 10));
    const auto inside = sae.encode_dense(held).slice(0, 0, 10);
    CHECK(at::equal(alone.ne(0), inside.ne(0)));  // the same active latents
    CHECK(at::allclose(alone, inside, 1e-4, 1e-6));
    // Batch-level top-k (window-dependent) differs by construction when the batch changes.
    const auto batch_mode = sae.encode(held.slice(0, 0, 10), EncodeMode::BatchTopK);
    CHECK(batch_mode.nnz() <= 40);
}

TEST_CASE("SAE metrics match hand-computed values", "[sae]") {
    // x = [[1, 0], [0, 2]], x̂ = [[1, 0], [0, 1]]: errors 0 and 1.
    const auto x = at::tensor(std::vector<float>{1, 0, 0, 2}).view({2, 2});
    const auto xhat = at::tensor(std::vector<float>{1, 0, 0, 1}).view({2, 2});
    SparseCodes codes;
    codes.row_ptr = at::tensor(std::vector<std::int64_t>{0, 2, 3});
    codes.ids = at::tensor(std::vector<std::int64_t>{0, 2, 2});
    codes.values = at::tensor(std::vector<float>{1.0f, 0.5f, 2.0f});
    MetricsAccumulator acc(2, 4);
    acc.add(x, xhat, codes);
    const auto m = acc.finish();
    // mean = (0.5, 1); Σ||x - mean||² = (0.25 + 1) + (0.25 + 1) = 2.5; Σ err² = 1.
    CHECK(m.explained_variance == Approx(1.0 - 1.0 / 2.5));
    CHECK(m.nmse == Approx(1.0 / 5.0));
    CHECK(m.mse == Approx(0.5));
    CHECK(m.l0 == Approx(1.5));
    CHECK(m.cosine == Approx(1.0));
    CHECK(m.l2_ratio == Approx((1.0 + 0.5) / 2.0));
    CHECK(m.dead_fraction == Approx(0.5));   // latents 1 and 3
    CHECK(m.dense_fraction == Approx(0.5));  // latents 0 (1/2) and 2 (2/2) fire on > 10%
    CHECK(m.fire_counts == std::vector<std::int64_t>{1, 0, 2, 0});
    const auto tsv = density_histogram_tsv(m);
    CHECK(tsv.find("never\tnever\t2\n") != std::string::npos);
}

TEST_CASE("SAE inputs with the wrong width are rejected", "[sae]") {
    Sae sae = Sae::init(config(Arch::TopK, 8, 16, 2), 1, "cpu");
    CHECK_THROWS_AS(sae.encode(at::zeros({4, 9})), InputError);
    CHECK_THROWS_WITH(sae.encode(at::zeros({4, 9})), Catch::Contains("[N, 8]"));
    CHECK_THROWS_AS(Sae::init(config(Arch::TopK, 8, 16, 17), 1, "cpu"), InputError);
    CHECK_THROWS_AS(Sae::from_tensors(config(Arch::TopK, 8, 16, 2),
                                      at::zeros({8, 16}),
                                      at::zeros({16, 7}),
                                      at::zeros({16}),
                                      at::zeros({8}),
                                      at::Tensor(),
                                      "cpu"),
                    InputError);
    CHECK_THROWS_AS(parse_arch("gated"), InputError);
}
