#include "model/trainer.hpp"

#include <array>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "core/error.hpp"
#include "model/config.hpp"
#include "tests/support/catch_torch.hpp"  // after libtorch: Catch2's CHECK, not glog's
#include "tests/support/test_support.hpp"

// libtorch's glog headers define a one-argument CHECK that aborts; use Catch's again.
#undef CHECK
#define CHECK(...) \
    INTERNAL_CATCH_TEST("CHECK", Catch::ResultDisposition::ContinueOnFailure, __VA_ARGS__)

using evoscope::model::AdamW;
using evoscope::model::Evo2Model;
using evoscope::model::ModelConfig;
using evoscope::model::TrainConfig;
using evoscope::model::Trainer;
using evoscope::model::WindowSampler;

namespace {

ModelConfig tiny_config() {
    return ModelConfig::from_yaml_file(evoscope::test::fixture_path("model/tiny-sdh.yml"));
}

// Random fp32-stored model, so official_state_dict() holds the runtime values exactly.
Evo2Model tiny_fp32_model(std::uint64_t seed) {
    const Evo2Model m = Evo2Model::init_random(tiny_config(), seed, "cpu");
    std::map<std::string, at::Tensor> sd;
    for (auto& [name, t] : m.official_state_dict()) {
        sd[name] = t.to(at::kFloat);
    }
    return Evo2Model::from_state_dict(m.config(), sd, "cpu");
}

// A repetitive "genome": period-7 ACGT pattern with a little randomness, easy to learn.
at::Tensor dna_batch(std::int64_t B, std::int64_t L, std::uint64_t seed) {
    const std::int64_t motif[] = {65, 67, 71, 84, 84, 65, 71};
    at::Generator gen = at::detail::createCPUGenerator(seed);
    const at::Tensor start = at::empty({B}, at::kLong).random_(0, 7, gen);
    at::Tensor ids = at::empty({B, L}, at::kLong);
    for (std::int64_t b = 0; b < B; ++b) {
        for (std::int64_t t = 0; t < L; ++t) {
            ids[b][t] = motif[(start[b].item<std::int64_t>() + t) % 7];
        }
    }
    return ids;
}

}  // namespace

TEST_CASE("scheduled_lr: linear warmup, cosine decay to min_lr, then flat", "[model][train]") {
    TrainConfig c;
    c.lr = 1e-3;
    c.min_lr = 1e-4;
    c.warmup_steps = 10;
    c.total_steps = 110;
    CHECK(evoscope::model::scheduled_lr(c, 0) == Approx(1e-4));
    CHECK(evoscope::model::scheduled_lr(c, 4) == Approx(5e-4));
    CHECK(evoscope::model::scheduled_lr(c, 9) == Approx(1e-3));
    CHECK(evoscope::model::scheduled_lr(c, 10) == Approx(1e-3));
    CHECK(evoscope::model::scheduled_lr(c, 60) == Approx(5.5e-4));  // half way: the mean
    CHECK(evoscope::model::scheduled_lr(c, 35) ==
          Approx(1e-4 + 0.45e-3 * (1 + std::cos(M_PI * 0.25))));
    CHECK(evoscope::model::scheduled_lr(c, 110) == Approx(1e-4));
    CHECK(evoscope::model::scheduled_lr(c, 500) == Approx(1e-4));
    c.warmup_steps = 0;
    CHECK(evoscope::model::scheduled_lr(c, 0) == Approx(1e-3));
}

TEST_CASE("AdamW: two steps match a hand-computed update, with decoupled decay on matrices only",
          "[model][train]") {
    TrainConfig c;
    c.beta1 = 0.9;
    c.beta2 = 0.99;
    c.eps = 1e-8;
    c.weight_decay = 0.5;
    at::Tensor w = torch::tensor({{1.0F, -2.0F}}).requires_grad_(true);  // [1, 2] "weight": decayed
    at::Tensor b = torch::tensor({0.5F, 0.25F}).requires_grad_(true);    // 1-D "bias": not decayed
    AdamW opt({{"x.weight", w}, {"x.bias", b}}, c);
    const double lr = 0.1;
    const std::vector<double> g_w = {0.5, -1.0};
    const std::vector<double> g_b = {2.0, 0.0};
    std::vector<double> pw = {1.0, -2.0};
    std::vector<double> pb = {0.5, 0.25};
    std::vector<double> mw(2), vw(2), mb(2), vb(2);
    for (int t = 1; t <= 2; ++t) {
        w.mutable_grad() =
            torch::tensor({{static_cast<float>(g_w[0]), static_cast<float>(g_w[1])}});
        b.mutable_grad() = torch::tensor({static_cast<float>(g_b[0]), static_cast<float>(g_b[1])});
        opt.step(lr);
        const double bc1 = 1 - std::pow(0.9, t);
        const double bc2 = 1 - std::pow(0.99, t);
        for (int i = 0; i < 2; ++i) {
            pw[i] *= 1 - lr * 0.5;
            mw[i] = 0.9 * mw[i] + 0.1 * g_w[i];
            vw[i] = 0.99 * vw[i] + 0.01 * g_w[i] * g_w[i];
            pw[i] -= lr * (mw[i] / bc1) / (std::sqrt(vw[i] / bc2) + 1e-8);
            mb[i] = 0.9 * mb[i] + 0.1 * g_b[i];
            vb[i] = 0.99 * vb[i] + 0.01 * g_b[i] * g_b[i];
            pb[i] -= lr * (mb[i] / bc1) / (std::sqrt(vb[i] / bc2) + 1e-8);
        }
    }
    CHECK(opt.n_steps() == 2);
    for (int i = 0; i < 2; ++i) {
        CHECK(w[0][i].item<double>() == Approx(pw[i]).epsilon(1e-6));
        CHECK(b[i].item<double>() == Approx(pb[i]).epsilon(1e-6));
    }
    CHECK(b[1].item<double>() == Approx(0.25));  // zero gradient, no decay: unchanged

    SECTION("state round-trips exactly") {
        at::Tensor w2 = torch::zeros({1, 2}).requires_grad_(true);
        at::Tensor b2 = torch::zeros({2}).requires_grad_(true);
        AdamW other({{"x.weight", w2}, {"x.bias", b2}}, c);
        other.load_state(opt.state());
        CHECK(other.n_steps() == 2);
        CHECK(at::equal(w2, w));
        CHECK(at::equal(b2, b));
        w.mutable_grad() = torch::ones({1, 2});
        w2.mutable_grad() = torch::ones({1, 2});
        opt.step(lr);
        other.step(lr);
        CHECK(at::equal(w2, w));
        auto bad = opt.state();
        bad.pop_back();
        CHECK_THROWS_AS(other.load_state(bad), evoscope::ModelError);
    }
}

TEST_CASE("clip_grad_norm: scales to the max norm and returns the norm before", "[model][train]") {
    at::Tensor a = torch::zeros({2}).requires_grad_(true);
    at::Tensor b = torch::zeros({1}).requires_grad_(true);
    a.mutable_grad() = torch::tensor({3.0F, 0.0F});
    b.mutable_grad() = torch::tensor({4.0F});
    const std::vector<at::Tensor> ps = {a, b};
    CHECK(evoscope::model::clip_grad_norm(ps, 10.0) == Approx(5.0));
    CHECK(a.grad()[0].item<double>() == Approx(3.0));
    CHECK(evoscope::model::clip_grad_norm(ps, 1.0) == Approx(5.0));
    CHECK(a.grad()[0].item<double>() == Approx(0.6).epsilon(1e-5));
    CHECK(b.grad()[0].item<double>() == Approx(0.8).epsilon(1e-5));
}

TEST_CASE("Evo2Model::forward_train equals logits() and has gradients for every parameter",
          "[model][train]") {
    Evo2Model m = tiny_fp32_model(3);
    const at::Tensor ids = dna_batch(2, 24, 1);
    const at::Tensor ref = m.logits(ids);
    const at::Tensor out = m.forward_train(ids);
    CHECK(out.requires_grad());
    CHECK(at::equal(out.detach(), ref));
    const auto params = m.parameters();
    CHECK(static_cast<std::int64_t>(params.size()) + 1 ==
          static_cast<std::int64_t>(m.official_state_dict().size()));
    out.logsumexp(-1).mean().backward();
    std::set<std::string> without_grad;
    for (const auto& [name, p] : params) {
        if (!p.grad().defined() || p.grad().abs().sum().item<double>() == 0.0) {
            without_grad.insert(name);
        }
    }
    CHECK(without_grad.empty());
}

TEST_CASE(
    "Trainer: a few steps on a repetitive sequence lower the held-out loss, state saves exactly",
    "[model][train]") {
    Evo2Model m = tiny_fp32_model(5);
    TrainConfig c;
    c.lr = 3e-3;
    c.min_lr = 3e-4;
    c.warmup_steps = 2;
    c.total_steps = 12;
    Trainer trainer(m, c);
    const at::Tensor held = dna_batch(2, 33, 99);
    std::vector<std::vector<evoscope::model::TokenId>> held_seqs;
    for (std::int64_t b = 0; b < 2; ++b) {
        std::vector<evoscope::model::TokenId> s;
        for (std::int64_t t = 0; t < 33; ++t) {
            s.push_back(static_cast<evoscope::model::TokenId>(held[b][t].item<std::int64_t>()));
        }
        held_seqs.push_back(s);
    }
    const auto before = evoscope::model::evaluate(m, held_seqs, 16, 4);
    CHECK(before.n_predicted == 64);
    CHECK(before.nats_per_token == Approx(std::log(512.0)).margin(0.5));
    double first = 0;
    double last = 0;
    for (int s = 0; s < 12; ++s) {
        const auto r = trainer.step(dna_batch(4, 33, static_cast<std::uint64_t>(s)));
        CHECK(std::isfinite(r.loss));
        CHECK(r.lr == Approx(evoscope::model::scheduled_lr(c, s)));
        (s == 0 ? first : last) = r.loss;
    }
    CHECK(trainer.n_steps() == 12);
    CHECK(last < first - 0.5);
    const auto after = evoscope::model::evaluate(m, held_seqs, 16, 4);
    CHECK(after.nats_per_token < before.nats_per_token - 0.5);

    evoscope::test::TempDir tmp;
    trainer.save_optimizer(tmp / "opt.safetensors");
    Evo2Model m2 = tiny_fp32_model(6);  // other weights: the optimizer state carries the masters
    Trainer t2(m2, c);
    t2.load_optimizer(tmp / "opt.safetensors");
    CHECK(t2.n_steps() == 12);
    const auto r1 = trainer.step(dna_batch(4, 33, 50));
    const auto r2 = t2.step(dna_batch(4, 33, 50));
    CHECK(r1.loss == r2.loss);
    const auto p1 = m.parameters();
    const auto p2 = m2.parameters();
    for (std::size_t i = 0; i < p1.size(); ++i) {
        CHECK(at::equal(p1[i].second, p2[i].second));
    }
}

TEST_CASE("evaluate: every token but each sequence's first is predicted once", "[model][train]") {
    const Evo2Model m = Evo2Model::init_random(tiny_config(), 1, "cpu");
    std::vector<std::vector<evoscope::model::TokenId>> seqs = {
        std::vector<evoscope::model::TokenId>(37, 65),
        std::vector<evoscope::model::TokenId>(1, 67),
        std::vector<evoscope::model::TokenId>(10, 71)};
    CHECK(evoscope::model::evaluate(m, seqs, 8, 3).n_predicted == 36 + 0 + 9);
    // Window and batch change the chunking but not the count.
    CHECK(evoscope::model::evaluate(m, seqs, 100, 1).n_predicted == 45);
}

TEST_CASE("WindowSampler: deterministic, in range, length-weighted, both strands",
          "[model][train]") {
    const WindowSampler s({100, 5, 1000}, 10, true, 42);
    const WindowSampler same({100, 5, 1000}, 10, true, 42);
    const WindowSampler other({100, 5, 1000}, 10, true, 43);
    CHECK(s.n_starts() == 91 + 0 + 991);
    int n_big = 0;
    int n_rev = 0;
    int n_diff = 0;
    for (std::uint64_t i = 0; i < 2000; ++i) {
        const auto d = s.draw(i);
        const auto e = same.draw(i);
        CHECK((d.segment == e.segment && d.offset == e.offset && d.reverse == e.reverse));
        REQUIRE(d.segment != 1);
        const std::int64_t len = d.segment == 0 ? 100 : 1000;
        REQUIRE(d.offset >= 0);
        REQUIRE(d.offset + 10 <= len);
        n_big += d.segment == 2 ? 1 : 0;
        n_rev += d.reverse ? 1 : 0;
        const auto o = other.draw(i);
        n_diff += (o.segment != d.segment || o.offset != d.offset) ? 1 : 0;
    }
    CHECK(n_big > 1700);  // 991/1082 of the starts: ~1832
    CHECK(n_rev > 900);
    CHECK(n_rev < 1100);
    CHECK(n_diff > 1900);
    const WindowSampler fwd({50}, 10, false, 1);
    for (std::uint64_t i = 0; i < 100; ++i) {
        CHECK_FALSE(fwd.draw(i).reverse);
    }
    CHECK_THROWS_WITH(WindowSampler({5, 8}, 10, true, 1), Catch::Contains("longer than every"));
}

TEST_CASE("WindowSampler: genome weights set each group's share, whatever its length",
          "[model][train]") {
    // Segments 0 and 2 belong to group 0 (1,100 starts in all), segment 1 to group 1 (91 starts),
    // segment 3 to group 2, which has weight 0 and is never drawn.
    const std::vector<std::int64_t> lengths{1000, 100, 119, 500};
    const WindowSampler s(
        lengths, {0, 1, 0, 2}, {1.0, 3.0, 0.0}, {"big.fa", "small.fa", "off.fa"}, 10, true, 7);
    const WindowSampler same(
        lengths, {0, 1, 0, 2}, {1.0, 3.0, 0.0}, {"big.fa", "small.fa", "off.fa"}, 10, true, 7);
    const auto shares = s.group_shares();
    REQUIRE(shares.size() == 3);
    CHECK(shares[0] == Approx(0.25));
    CHECK(shares[1] == Approx(0.75));
    CHECK(shares[2] == 0.0);
    std::array<int, 4> per_segment{};
    int n_rev = 0;
    for (std::uint64_t i = 0; i < 4000; ++i) {
        const auto d = s.draw(i);
        const auto e = same.draw(i);
        REQUIRE((d.segment == e.segment && d.offset == e.offset && d.reverse == e.reverse));
        REQUIRE(d.segment < 4);
        REQUIRE(d.offset >= 0);
        REQUIRE(d.offset + 10 <= lengths[d.segment]);
        ++per_segment[d.segment];
        n_rev += d.reverse ? 1 : 0;
    }
    // Group 1 (one segment of 100 bases) gets ~3,000 of 4,000 draws although it has 8% of the
    // starts.
    CHECK(per_segment[1] > 2850);
    CHECK(per_segment[1] < 3150);
    CHECK(per_segment[3] == 0);
    // Inside group 0, starts stay uniform: segment 0 has 991 of its 1,100 starts (~900 of ~1,000
    // draws).
    CHECK(per_segment[0] > 820);
    CHECK(per_segment[2] > 60);
    CHECK(per_segment[2] < 150);
    CHECK(n_rev > 1850);
    CHECK(n_rev < 2150);
    CHECK_THROWS_WITH(
        WindowSampler({5, 100}, {0, 1}, {1.0, 1.0}, {"tiny.fa", "ok.fa"}, 10, true, 1),
        Catch::Contains("tiny.fa") && Catch::Contains("no training window"));
    CHECK_THROWS_WITH(WindowSampler({50}, {0}, {0.0}, {"a.fa"}, 10, true, 1),
                      Catch::Contains("every sampling weight"));
    // A genome too short for the window is fine when it is switched off.
    const WindowSampler skip({5, 100}, {0, 1}, {0.0, 1.0}, {"tiny.fa", "ok.fa"}, 10, false, 1);
    for (std::uint64_t i = 0; i < 100; ++i)
        CHECK(skip.draw(i).segment == 1);
}
