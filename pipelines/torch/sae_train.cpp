// `evoscope sae train`: trains a sparse autoencoder on activation rows (an activation store, a
// .npy array, or a model run over FASTA windows) and writes it in SAELens layout. Exact resume:
// checkpoints hold the unfolded weights, the normalisation, the trainer state (Adam moments,
// dead counters, θ) and the data cursor (sae::ShuffledRows state), so `--resume` continues as if
// the run had not stopped.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <unistd.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "model/safetensors.hpp"
#include "pipelines/torch/model_rows.hpp"
#include "pipelines/torch/sae_common.hpp"
#include "pipelines/torch/stages.hpp"
#include "pipelines/train_support.hpp"
#include "sae/formats.hpp"
#include "sae/metrics.hpp"
#include "sae/sae.hpp"
#include "sae/sae_trainer.hpp"
#include "store/activation_store.hpp"
#include "store/row_source.hpp"

namespace evoscope::pipelines {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kStateVersion = 1;

json options_to_json(const SaeTrainOptions& c) {
    const auto& s = c.input.source;
    return json{{"acts", c.input.acts},
                {"model", c.input.model},
                {"model_config", c.input.model_config},
                {"layer", c.input.layer},
                {"device", c.input.device},
                {"fasta", s.fasta},
                {"regions", s.regions},
                {"regions_bed", s.regions_bed},
                {"rename_contigs", s.rename_contigs},
                {"window", s.window_bp},
                {"stride", s.stride_bp},
                {"strand", s.strand},
                {"end", s.end_policy},
                {"circular", s.circular},
                {"max_n", s.max_n_fraction},
                {"soft_mask", s.soft_mask},
                {"arch", c.arch},
                {"d_sae", c.d_sae},
                {"k", c.k},
                {"tied", c.tied},
                {"no_b_dec_input", c.no_b_dec_input},
                {"normalize", c.normalize},
                {"l1", c.l1_coeff},
                {"l0", c.l0_coeff},
                {"bandwidth", c.bandwidth},
                {"init_threshold", c.jumprelu_init_threshold},
                {"aux_k", c.aux_k},
                {"aux_coeff", c.aux_coeff},
                {"dead_tokens", c.dead_tokens},
                {"no_unit_norm", c.no_unit_norm},
                {"decoder", c.decoder},
                {"geometric_median_init", c.geometric_median_init},
                {"batch", c.batch},
                {"steps", c.steps},
                {"lr", c.lr},
                {"warmup", c.warmup},
                {"decay_fraction", c.decay_fraction},
                {"buffer_rows", c.buffer_rows},
                {"eval_fraction", c.eval_fraction},
                {"eval_every", c.eval_every},
                {"eval_rows", c.eval_rows},
                {"checkpoint_every", c.checkpoint_every},
                {"seed", c.seed}};
}

void options_from_json(const json& j, SaeTrainOptions& c) {
    auto& s = c.input.source;
    j.at("acts").get_to(c.input.acts);
    j.at("model").get_to(c.input.model);
    j.at("model_config").get_to(c.input.model_config);
    j.at("layer").get_to(c.input.layer);
    j.at("device").get_to(c.input.device);
    j.at("fasta").get_to(s.fasta);
    j.at("regions").get_to(s.regions);
    j.at("regions_bed").get_to(s.regions_bed);
    j.at("rename_contigs").get_to(s.rename_contigs);
    j.at("window").get_to(s.window_bp);
    j.at("stride").get_to(s.stride_bp);
    j.at("strand").get_to(s.strand);
    j.at("end").get_to(s.end_policy);
    j.at("circular").get_to(s.circular);
    j.at("max_n").get_to(s.max_n_fraction);
    j.at("soft_mask").get_to(s.soft_mask);
    j.at("arch").get_to(c.arch);
    j.at("d_sae").get_to(c.d_sae);
    j.at("k").get_to(c.k);
    j.at("tied").get_to(c.tied);
    j.at("no_b_dec_input").get_to(c.no_b_dec_input);
    j.at("normalize").get_to(c.normalize);
    j.at("l1").get_to(c.l1_coeff);
    j.at("l0").get_to(c.l0_coeff);
    j.at("bandwidth").get_to(c.bandwidth);
    j.at("init_threshold").get_to(c.jumprelu_init_threshold);
    j.at("aux_k").get_to(c.aux_k);
    j.at("aux_coeff").get_to(c.aux_coeff);
    j.at("dead_tokens").get_to(c.dead_tokens);
    j.at("no_unit_norm").get_to(c.no_unit_norm);
    j.at("decoder").get_to(c.decoder);
    j.at("geometric_median_init").get_to(c.geometric_median_init);
    j.at("batch").get_to(c.batch);
    j.at("steps").get_to(c.steps);
    j.at("lr").get_to(c.lr);
    j.at("warmup").get_to(c.warmup);
    j.at("decay_fraction").get_to(c.decay_fraction);
    j.at("buffer_rows").get_to(c.buffer_rows);
    j.at("eval_fraction").get_to(c.eval_fraction);
    j.at("eval_every").get_to(c.eval_every);
    j.at("eval_rows").get_to(c.eval_rows);
    j.at("checkpoint_every").get_to(c.checkpoint_every);
    j.at("seed").get_to(c.seed);
}

struct LogRow {
    std::int64_t step = 0;
    std::int64_t tokens = 0;
    double loss = std::numeric_limits<double>::quiet_NaN();
    double mse = std::numeric_limits<double>::quiet_NaN();
    double fvu = std::numeric_limits<double>::quiet_NaN();
    double aux = std::numeric_limits<double>::quiet_NaN();
    double l0 = std::numeric_limits<double>::quiet_NaN();
    double dead = std::numeric_limits<double>::quiet_NaN();
    double lr = 0;
    double eval_ev = std::numeric_limits<double>::quiet_NaN();
    double eval_l0 = std::numeric_limits<double>::quiet_NaN();
    double eval_dead = std::numeric_limits<double>::quiet_NaN();
};

json num_json(double v) {
    return std::isnan(v) ? json(nullptr) : json(v);
}

double json_num(const json& j) {
    return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}

json rows_to_json(const std::vector<LogRow>& rows) {
    json a = json::array();
    for (const auto& r : rows) {
        a.push_back({r.step,
                     r.tokens,
                     num_json(r.loss),
                     num_json(r.mse),
                     num_json(r.fvu),
                     num_json(r.aux),
                     num_json(r.l0),
                     num_json(r.dead),
                     r.lr,
                     num_json(r.eval_ev),
                     num_json(r.eval_l0),
                     num_json(r.eval_dead)});
    }
    return a;
}

std::vector<LogRow> rows_from_json(const json& a) {
    std::vector<LogRow> rows;
    for (const auto& e : a) {
        LogRow r;
        r.step = e.at(0).get<std::int64_t>();
        r.tokens = e.at(1).get<std::int64_t>();
        r.loss = json_num(e.at(2));
        r.mse = json_num(e.at(3));
        r.fvu = json_num(e.at(4));
        r.aux = json_num(e.at(5));
        r.l0 = json_num(e.at(6));
        r.dead = json_num(e.at(7));
        r.lr = e.at(8).get<double>();
        r.eval_ev = json_num(e.at(9));
        r.eval_l0 = json_num(e.at(10));
        r.eval_dead = json_num(e.at(11));
        rows.push_back(r);
    }
    return rows;
}

std::string log_tsv(const std::vector<LogRow>& rows) {
    std::string out =
        "step\ttokens\tloss\tmse\tfvu\taux_loss\tl0\tdead_fraction\tlr\teval_explained_"
        "variance\teval_l0\t"
        "eval_dead_fraction\n";
    auto num = [](double v) {
        return std::isnan(v) ? std::string("NA") : fmt::format("{:.6g}", v);
    };
    for (const auto& r : rows) {
        out += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.6g}\t{}\t{}\t{}\n",
                           r.step,
                           r.tokens,
                           num(r.loss),
                           num(r.mse),
                           num(r.fvu),
                           num(r.aux),
                           num(r.l0),
                           num(r.dead),
                           r.lr,
                           num(r.eval_ev),
                           num(r.eval_l0),
                           num(r.eval_dead));
    }
    return out;
}

std::string curves_svg(const std::vector<LogRow>& rows) {
    ChartSeries fvu{"train 1 - EV (batch)", "#1f77b4", {}, false};
    ChartSeries eval{"held-out 1 - EV", "#d62728", {}, true};
    ChartSeries dead{"dead fraction", "#7f7f7f", {}, false};
    for (const auto& r : rows) {
        const auto t = static_cast<double>(r.tokens);
        fvu.xy.emplace_back(t, r.fvu);
        eval.xy.emplace_back(t, std::isnan(r.eval_ev) ? r.eval_ev : 1.0 - r.eval_ev);
        dead.xy.emplace_back(t, r.dead);
    }
    return line_chart_svg("evoscope sae train: unexplained variance",
                          "training tokens",
                          "fraction (log scale)",
                          {fvu, eval, dead},
                          true);
}

/// Weiszfeld iterations for the geometric median of the rows of x (Gao et al. 2024 init b_dec).
at::Tensor geometric_median(const at::Tensor& x, int iterations = 50) {
    at::Tensor m = x.mean(0);
    for (int i = 0; i < iterations; ++i) {
        const auto w = 1.0 / (x - m).norm(2, {1}).clamp_min(1e-8);
        const auto next = (x * w.unsqueeze(1)).sum(0) / w.sum();
        const bool done = (next - m).norm().item<double>() < 1e-6 * m.norm().item<double>();
        m = next;
        if (done)
            break;
    }
    return m;
}

at::Tensor read_tensor_rows(const sae::RowReader& reader,
                            std::int64_t begin,
                            std::int64_t end,
                            std::int64_t max) {
    auto v = sae::read_all_rows(reader, begin, end, max);
    const auto n = static_cast<std::int64_t>(v.size()) / reader.d();
    return at::from_blob(v.data(), {n, reader.d()}, at::kFloat).clone();
}

}  // namespace

SaeTrainResult run_sae_train(const SaeTrainOptions& given) {
    torch::NoGradGuard no_grad;
    SaeTrainOptions config = given;
    json resume_state;
    fs::path resume_dir;
    if (!given.resume.empty()) {
        auto resume = open_resume_point(
            given.resume, kStateVersion, "SAE training state", [&](const json& options) {
                options_from_json(options, config);
            });
        resume_dir = std::move(resume.dir);
        resume_state = std::move(resume.state);
        config.output_dir = given.resume;
    }
    EVOSCOPE_CHECK_USAGE(!config.output_dir.empty(),
                         "sae train needs -o/--output DIR (or --resume DIR)");
    const fs::path out_dir = config.output_dir;
    RunFolderGuard run_folder(out_dir);  // a failed fresh run leaves nothing behind
    if (given.resume.empty()) {
        auto absolute = [](std::string& p) {
            if (!p.empty() && p != "-")
                p = fs::absolute(p).lexically_normal().string();
        };
        absolute(config.input.acts);
        absolute(config.input.model);
        absolute(config.input.model_config);
        absolute(config.input.source.fasta);
        absolute(config.input.source.regions_bed);
        absolute(config.input.source.rename_contigs);
        EVOSCOPE_CHECK(
            config.force || !fs::exists(out_dir) || fs::is_empty(out_dir),
            "output folder '{}' exists and is not empty (use --force, or --resume to continue it)",
            out_dir.string());
    }

    // Input rows, split into training rows and held-out rows (the last --eval-fraction).
    const ActivationInput input = open_activation_input(config.input);
    const std::int64_t n_rows = input.rows->n_rows();
    const std::int64_t d_in = input.rows->d();
    const auto n_eval =
        static_cast<std::int64_t>(std::floor(config.eval_fraction * static_cast<double>(n_rows)));
    const std::int64_t n_train = n_rows - n_eval;
    EVOSCOPE_CHECK(n_train >= 1,
                   "{}: no training rows left after holding out {} for evaluation",
                   input.rows->describe(),
                   n_eval);

    // Settings derived from the data.
    if (config.d_sae == 0) {
        EVOSCOPE_CHECK_USAGE(config.expansion > 0, "give --d-sae N or --expansion F");
        config.d_sae =
            static_cast<std::int64_t>(std::llround(config.expansion * static_cast<double>(d_in)));
    }
    if (config.steps == 0) {
        EVOSCOPE_CHECK_USAGE(config.tokens > 0, "give --steps N or --tokens N");
        config.steps = std::max<std::int64_t>(1, config.tokens / config.batch);
    }
    if (config.lr == 0) {
        config.lr =
            2e-4 / std::sqrt(static_cast<double>(config.d_sae) / 16384.0);  // dictionary_learning
    }
    if (config.warmup == 0 && given.resume.empty()) {
        config.warmup = std::max<std::int64_t>(1, config.steps / 20);
    }
    if (config.dead_tokens == 0) {
        config.dead_tokens = std::min<std::int64_t>(
            10'000'000, std::max<std::int64_t>(1, config.steps * config.batch / 5));
    }
    if (config.eval_every == 0) {
        config.eval_every = std::max<std::int64_t>(1, config.steps / 10);
    }

    sae::SaeConfig sc;
    sc.d_in = d_in;
    sc.d_sae = config.d_sae;
    sc.arch = sae::parse_arch(config.arch);
    sc.k = (sc.arch == sae::Arch::TopK || sc.arch == sae::Arch::BatchTopK) ? config.k : 0;
    sc.tied = config.tied;
    sc.apply_b_dec_to_input = !config.no_b_dec_input;
    sc.model_name = input.model_name;
    sc.hook_name = input.hook_name;
    sc.validate();
    const auto normalization = sae::parse_normalization(config.normalize);
    const bool unit_norm = !config.no_unit_norm && sc.arch != sae::Arch::ReLU;

    sae::SaeTrainOptions o;
    o.lr = config.lr;
    o.total_steps = config.steps;
    o.warmup_steps = config.warmup;
    o.decay_fraction = config.decay_fraction;
    o.l1_coeff = config.l1_coeff;
    o.l0_coeff = config.l0_coeff;
    o.bandwidth = config.bandwidth;
    o.aux_k = config.aux_k;
    o.aux_coeff = config.aux_coeff;
    o.dead_tokens = config.dead_tokens;
    o.unit_norm_decoder = unit_norm;
    o.decoder = config.decoder == "dense"    ? sae::DecoderPath::Dense
                : config.decoder == "sparse" ? sae::DecoderPath::Sparse
                : (sc.arch == sae::Arch::TopK || sc.arch == sae::Arch::BatchTopK)
                    ? sae::DecoderPath::Sparse
                    : sae::DecoderPath::Dense;
    EVOSCOPE_CHECK_USAGE(
        o.decoder == sae::DecoderPath::Dense || sc.arch == sae::Arch::TopK ||
            sc.arch == sae::Arch::BatchTopK,
        "--decoder sparse needs --arch topk or batchtopk ({} codes are not bounded)",
        config.arch);
    o.theta_start_step = std::min<std::int64_t>(1000, config.steps / 10);

    // The SAE: fresh (normalisation fitted on a sample of training rows) or from the checkpoint.
    std::optional<sae::Sae> sae_opt;
    if (!given.resume.empty()) {
        const model::SafetensorsFile f(resume_dir / "sae.safetensors");
        auto t = [&f](const char* name) {
            return f.find(name) ? f.tensor(name).clone() : at::Tensor();
        };
        sae_opt.emplace(sae::Sae::from_tensors(sc,
                                               sc.tied ? at::Tensor() : t("W_encT").t(),
                                               t("W_dec"),
                                               t("b_enc"),
                                               t("b_dec"),
                                               t("threshold"),
                                               config.input.device));
        sae_opt->set_normalization(
            normalization, t("norm_mean"), resume_state.at("norm_scale").get<double>());
    } else {
        sae_opt.emplace(sae::Sae::init(sc,
                                       config.seed,
                                       config.input.device,
                                       unit_norm ? 1.0 : 0.1,
                                       config.jumprelu_init_threshold));
        const std::int64_t n_sample = std::min<std::int64_t>(n_train, 32768);
        if (normalization != sae::Normalization::None || config.geometric_median_init) {
            const at::Tensor sample = read_tensor_rows(*input.rows, 0, n_train, n_sample);
            sae_opt->fit_normalization(normalization, sample);
            if (config.geometric_median_init) {
                const auto x = sae_opt->normalize_input(
                    sample.slice(0, 0, std::min<std::int64_t>(n_sample, 4096)));
                sae_opt->params().b_dec.copy_(geometric_median(x));
            }
            EVOSCOPE_LOG_INFO("input normalisation {} (scale {:.4g}) from {} rows",
                              config.normalize,
                              sae_opt->norm_scale(),
                              sample.size(0));
        }
    }
    sae::Sae& sae = *sae_opt;
    sae::SaeTrainer trainer(sae, o);
    // Stored rows: each buffer mixes 16 chunks from across the input (distant genomic regions);
    // on-the-fly rows: one contiguous chunk, so that each window is computed once per epoch.
    sae::ShuffledRows source(input.rows,
                             0,
                             n_train,
                             std::min(config.buffer_rows, n_train),
                             config.seed,
                             input.model_rows ? 1 : 16);
    std::vector<LogRow> rows;
    if (!given.resume.empty()) {
        const model::SafetensorsFile f(resume_dir / "trainer.safetensors");
        std::vector<std::pair<std::string, at::Tensor>> state;
        for (const auto& e : f.entries())
            state.emplace_back(e.name, f.tensor(e.name).clone());
        trainer.load_state(state);
        source.restore(resume_state.at("data").get<sae::ShuffleState>());
        rows = rows_from_json(resume_state.at("log"));
    }
    const at::Tensor eval_x = n_eval > 0
                                  ? read_tensor_rows(*input.rows, n_train, n_rows, config.eval_rows)
                                  : at::Tensor();
    EVOSCOPE_LOG_INFO(
        "sae train: {} {} -> {} (k {}), {} steps of {} rows, lr {:.3g}; {} training rows, {} held "
        "out; "
        "input {}",
        sae::arch_name(sc.arch),
        d_in,
        sc.d_sae,
        sc.k,
        config.steps,
        config.batch,
        config.lr,
        n_train,
        n_eval,
        input.rows->describe());

    auto evaluate = [&](LogRow& row) {
        if (!eval_x.defined())
            return;
        sae::MetricsAccumulator acc(d_in, sc.d_sae);
        // BatchTopK before θ exists: batch-level top-k on the held-out rows.
        const auto mode = (sc.arch == sae::Arch::BatchTopK && !sae.has_threshold())
                              ? sae::EncodeMode::BatchTopK
                              : sae::EncodeMode::Default;
        for (std::int64_t r = 0; r < eval_x.size(0); r += config.batch) {
            acc.add(sae, eval_x.slice(0, r, std::min(eval_x.size(0), r + config.batch)), mode);
        }
        const auto m = acc.finish();
        row.eval_ev = m.explained_variance;
        row.eval_l0 = m.l0;
        row.eval_dead = m.dead_fraction;
    };
    auto save_checkpoint = [&](std::int64_t step) {
        const json state{{"version", kStateVersion},
                         {"step", step},
                         {"norm_scale", sae.norm_scale()},
                         {"data", source.state()},
                         {"options", options_to_json(config)},
                         {"log", rows_to_json(rows)}};
        write_checkpoint(out_dir, step, state, [&](const fs::path& tmp) {
            const auto& p = sae.params();
            std::vector<std::pair<std::string, at::Tensor>> w{
                {"W_dec", p.W_dec.cpu()}, {"b_enc", p.b_enc.cpu()}, {"b_dec", p.b_dec.cpu()}};
            if (!sc.tied)
                w.emplace_back("W_encT", p.W_encT.cpu());
            if (p.threshold.defined())
                w.emplace_back("threshold", p.threshold.cpu());
            if (sae.norm_mean().defined())
                w.emplace_back("norm_mean", sae.norm_mean().cpu());
            model::write_safetensors(tmp / "sae.safetensors", w);
            model::write_safetensors(tmp / "trainer.safetensors", trainer.state());
        });
        write_file_atomic(out_dir / "train_log.tsv", log_tsv(rows));
    };

    run_folder.open();
    if (rows.empty()) {
        LogRow r;
        r.lr = sae::sae_scheduled_lr(o, 0);
        evaluate(r);
        rows.push_back(r);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t first_step = trainer.n_steps();
    const std::int64_t last_step =
        config.stop_after > 0 ? std::min(config.steps, std::max(config.stop_after, first_step))
                              : config.steps;
    std::vector<float> buf(static_cast<std::size_t>(config.batch * d_in));
    std::optional<ProgressLine> bar(std::in_place, "sae-train");
    for (std::int64_t step = first_step; step < last_step; ++step) {
        source.next(config.batch, buf);
        const at::Tensor x = at::from_blob(buf.data(), {config.batch, d_in}, at::kFloat);
        const auto st = trainer.step(x);
        EVOSCOPE_CHECK_MODEL(std::isfinite(st.loss),
                             "SAE training diverged at step {} (loss {}); try a lower --lr",
                             step + 1,
                             st.loss);
        LogRow row;
        row.step = step + 1;
        row.tokens = trainer.tokens_seen();
        row.loss = st.loss;
        row.mse = st.mse;
        row.fvu = st.fvu;
        row.aux = st.aux;
        row.l0 = st.l0;
        row.dead = st.dead_fraction;
        row.lr = st.lr;
        const bool eval_now = (step + 1) % config.eval_every == 0 || step + 1 == config.steps;
        if (eval_now)
            evaluate(row);
        rows.push_back(row);
        const bool keep = eval_now || step + 1 == last_step;
        if (bar->due(keep)) {
            const double elapsed =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const double done = static_cast<double>(step + 1 - first_step);
            const double tok_s = done * static_cast<double>(config.batch) / std::max(elapsed, 1e-9);
            const double eta = elapsed / done * static_cast<double>(last_step - step - 1);
            std::string held;
            if (eval_now && !std::isnan(row.eval_ev)) {
                held = fmt::format(" | held-out EV {:.4f} L0 {:.1f}", row.eval_ev, row.eval_l0);
            }
            const std::string line = fmt::format(
                "step {}/{} ({:.0f}%) | {} tokens | {} tok/s | loss {:.4g} | 1-EV {:.4f} | L0 "
                "{:.1f} | dead {:.3f}{} | "
                "ETA {}",
                step + 1,
                config.steps,
                100.0 * static_cast<double>(step + 1) / static_cast<double>(config.steps),
                nice_number(static_cast<double>(row.tokens)),
                nice_number(tok_s),
                st.loss,
                st.fvu,
                st.l0,
                st.dead_fraction,
                held,
                format_duration(eta));
            bar->print(line, keep);
        }
        if ((config.checkpoint_every > 0 && (step + 1) % config.checkpoint_every == 0) ||
            step + 1 == last_step) {
            save_checkpoint(step + 1);
        }
    }
    bar.reset();  // ends a redrawn line before the closing messages
    write_file_atomic(out_dir / "train_log.tsv", log_tsv(rows));
    write_file_atomic(out_dir / "curves.svg", curves_svg(rows));
    if (trainer.n_steps() < config.steps) {
        EVOSCOPE_LOG_INFO(
            "stopped after step {} of {}; continue with: evoscope sae train --resume {}",
            trainer.n_steps(),
            config.steps,
            out_dir.string());
        return SaeTrainResult{trainer.n_steps(), false, {}};
    }
    // The SAELens files, normalisation folded in (they take raw activations).
    const fs::path staged = out_dir / fmt::format(".sae.tmp-{}", ::getpid());
    fs::remove_all(staged);
    sae::save_sae(sae, staged, sae::SaeFormat::SaeLens, true);
    for (const auto& e : fs::directory_iterator(staged)) {
        fs::rename(e.path(), out_dir / e.path().filename());
    }
    fs::remove_all(staged);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const LogRow& last = rows.back();
    fmt::print(
        stderr,
        "[I::sae-train] {} steps, {} tokens in {} ({} tok/s): held-out explained variance {:.4f}, "
        "L0 {:.2f}, "
        "dead {:.4f}; wrote {}\n",
        config.steps,
        trainer.tokens_seen(),
        format_duration(elapsed),
        nice_number(static_cast<double>(trainer.tokens_seen() - (first_step * config.batch)) /
                    std::max(elapsed, 1e-9)),
        last.eval_ev,
        last.eval_l0,
        last.eval_dead,
        (out_dir / "sae_weights.safetensors").string());
    return SaeTrainResult{trainer.n_steps(), true, out_dir / "sae_weights.safetensors"};
}

}  // namespace evoscope::pipelines
