// `evoscope model train`: causal next-base training on FASTA sequences (runs in evoscope-torch).
// The data order is a pure function of --seed and the step (model::WindowSampler), the model's
// weights and the AdamW state are saved bit-exactly in every checkpoint, and the log rows travel
// in state.json, so `--resume` continues an interrupted run exactly as if it had not stopped.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/interval_set.hpp"
#include "genomics/regions.hpp"
#include "genomics/sequence.hpp"
#include "model/checkpoint.hpp"
#include "model/config.hpp"
#include "model/evo2_model.hpp"
#include "model/tokenizer.hpp"
#include "model/trainer.hpp"
#include "pipelines/torch/stages.hpp"
#include "pipelines/train_support.hpp"

namespace evoscope::pipelines {
namespace {

namespace fs = std::filesystem;
using genomics::Interval;
using nlohmann::json;

constexpr int kStateVersion = 1;

// --- options <-> state.json ------------------------------------------------------------------

json options_to_json(const ModelTrainOptions& c) {
    return json{{"config", c.config_yaml},
                {"init_from", c.init_from},
                {"fasta", c.fastas},
                {"regions", c.regions},
                {"regions_bed", c.regions_bed},
                {"holdout", c.holdout},
                {"holdout_fraction", c.holdout_fraction},
                {"window", c.window},
                {"batch", c.batch},
                {"steps", c.steps},
                {"lr", c.lr},
                {"min_lr", c.min_lr},
                {"warmup", c.warmup},
                {"weight_decay", c.weight_decay},
                {"grad_clip", c.grad_clip},
                {"eval_every", c.eval_every},
                {"checkpoint_every", c.checkpoint_every},
                {"seed", c.seed},
                {"strand", c.strand},
                {"genome_weights", c.genome_weights}};
}

void options_from_json(const json& j, ModelTrainOptions& c) {
    c.config_yaml = j.at("config").get<std::string>();
    c.init_from = j.at("init_from").get<std::string>();
    c.fastas = j.at("fasta").get<std::vector<std::string>>();
    c.regions = j.at("regions").get<std::vector<std::string>>();
    c.regions_bed = j.at("regions_bed").get<std::string>();
    c.holdout = j.at("holdout").get<std::vector<std::string>>();
    c.holdout_fraction = j.at("holdout_fraction").get<double>();
    c.window = j.at("window").get<std::int64_t>();
    c.batch = j.at("batch").get<std::int64_t>();
    c.steps = j.at("steps").get<std::int64_t>();
    c.lr = j.at("lr").get<double>();
    c.min_lr = j.at("min_lr").get<double>();
    c.warmup = j.at("warmup").get<std::int64_t>();
    c.weight_decay = j.at("weight_decay").get<double>();
    c.grad_clip = j.at("grad_clip").get<double>();
    c.eval_every = j.at("eval_every").get<std::int64_t>();
    c.checkpoint_every = j.at("checkpoint_every").get<std::int64_t>();
    c.seed = j.at("seed").get<std::uint64_t>();
    c.strand = j.at("strand").get<std::string>();
    // Absent in states written before --genome-weights existed.
    c.genome_weights = j.value("genome_weights", std::vector<double>{});
}

struct LogRow {
    std::int64_t step = 0;
    std::int64_t tokens = 0;
    double train_loss = std::numeric_limits<double>::quiet_NaN();
    double heldout_loss = std::numeric_limits<double>::quiet_NaN();
    double lr = 0;
};

json rows_to_json(const std::vector<LogRow>& rows) {
    json a = json::array();
    for (const auto& r : rows) {
        a.push_back(json{r.step,
                         r.tokens,
                         std::isnan(r.train_loss) ? json(nullptr) : json(r.train_loss),
                         std::isnan(r.heldout_loss) ? json(nullptr) : json(r.heldout_loss),
                         r.lr});
    }
    return a;
}

std::vector<LogRow> rows_from_json(const json& a) {
    std::vector<LogRow> rows;
    for (const auto& e : a) {
        LogRow r;
        r.step = e.at(0).get<std::int64_t>();
        r.tokens = e.at(1).get<std::int64_t>();
        if (!e.at(2).is_null())
            r.train_loss = e.at(2).get<double>();
        if (!e.at(3).is_null())
            r.heldout_loss = e.at(3).get<double>();
        r.lr = e.at(4).get<double>();
        rows.push_back(r);
    }
    return rows;
}

std::string log_tsv(const std::vector<LogRow>& rows) {
    std::string out = "step\ttokens\ttrain_loss\theldout_loss\theldout_bits_per_base\tlr\n";
    auto num = [](double v) {
        return std::isnan(v) ? std::string("NA") : fmt::format("{:.6f}", v);
    };
    for (const auto& r : rows) {
        out += fmt::format("{}\t{}\t{}\t{}\t{}\t{:.6g}\n",
                           r.step,
                           r.tokens,
                           num(r.train_loss),
                           num(r.heldout_loss),
                           num(r.heldout_loss / std::log(2.0)),
                           r.lr);
    }
    return out;
}

// --- the plot ----------------------------------------------------------------------------------

// Train and held-out loss (nats per base) against training tokens, as a self-contained SVG.
std::string loss_svg(const std::vector<LogRow>& rows) {
    ChartSeries train{"train", "#1f77b4", {}, false};
    ChartSeries held{"held-out", "#d62728", {}, true};
    for (const auto& r : rows) {
        train.xy.emplace_back(static_cast<double>(r.tokens), r.train_loss);
        held.xy.emplace_back(static_cast<double>(r.tokens), r.heldout_loss);
    }
    return line_chart_svg(
        "evoscope model train: loss", "training tokens", "loss (nats per base)", {train, held});
}

// --- data -----------------------------------------------------------------------------------

struct Genomes {
    std::vector<std::unique_ptr<genomics::FastaReader>> readers;
    std::map<std::string, std::size_t> reader_of;  // contig -> reader index
    std::unique_ptr<genomics::ContigSet> contigs;  // all FASTAs together
};

Genomes open_genomes(const std::vector<std::string>& paths) {
    EVOSCOPE_CHECK_USAGE(!paths.empty(), "model train needs at least one -f/--fasta");
    Genomes g;
    std::vector<genomics::ContigInfo> all;
    for (std::size_t i = 0; i < paths.size(); ++i) {
        g.readers.push_back(std::make_unique<genomics::FastaReader>(paths[i]));
        for (const auto& c : g.readers.back()->contigs()) {
            EVOSCOPE_CHECK(!g.reader_of.contains(c.name),
                           "contig '{}' is in both {} and {}: names must be unique",
                           c.name,
                           paths[g.reader_of[c.name]],
                           paths[i]);
            g.reader_of[c.name] = i;
            all.push_back(c);
        }
    }
    g.contigs = std::make_unique<genomics::ContigSet>(std::move(all));
    return g;
}

std::string fetch_upper(const Genomes& g, const Interval& iv) {
    std::string s = g.readers[g.reader_of.at(iv.contig)]->fetch(iv.contig, iv.begin, iv.end);
    genomics::to_upper_in_place(s);
    return s;
}

std::vector<Interval> read_holdout(const std::string& spec, const genomics::ContigSet& contigs) {
    try {
        if (fs::is_regular_file(spec) || spec.ends_with(".bed") || spec.ends_with(".bed.gz")) {
            return genomics::read_bed_regions(spec, contigs);
        }
        return {genomics::parse_region(spec, contigs)};
    } catch (const InputError& e) {
        throw InputError(fmt::format("--holdout {}: {}", spec, e.what()));
    }
}

// --- model ------------------------------------------------------------------------------------

// Rebuilds `cpu` on `device` with every tensor stored as float32, so saved checkpoints hold the
// trained weights exactly (official layout; the loader accepts float32 everywhere).
model::Evo2Model as_fp32_on(const model::Evo2Model& cpu, const std::string& device) {
    std::map<std::string, at::Tensor> sd;
    for (auto& [name, t] : cpu.official_state_dict())
        sd[name] = t.to(at::kFloat);
    return model::Evo2Model::from_state_dict(cpu.config(), sd, device);
}

}  // namespace

ModelTrainResult run_model_train(const ModelTrainOptions& given) {
    ModelTrainOptions config = given;
    json resume_state;
    fs::path resume_dir;
    if (!given.resume.empty()) {
        auto resume = open_resume_point(
            given.resume, kStateVersion, "training state", [&](const json& options) {
                options_from_json(options, config);
            });
        resume_dir = std::move(resume.dir);
        resume_state = std::move(resume.state);
        config.output_dir = given.resume;
    }
    EVOSCOPE_CHECK_USAGE(!config.output_dir.empty(),
                         "model train needs -o/--output DIR (or --resume DIR)");
    EVOSCOPE_CHECK_USAGE(
        config.config_yaml.empty() != config.init_from.empty(),
        "give exactly one of --config (new random model) and --init-from (existing weights)");
    EVOSCOPE_CHECK_USAGE(config.holdout_fraction >= 0 && config.holdout_fraction < 1,
                         "--holdout-fraction {} is outside [0, 1)",
                         config.holdout_fraction);
    EVOSCOPE_CHECK_USAGE(
        config.min_lr <= config.lr, "--min-lr {} is above --lr {}", config.min_lr, config.lr);
    const fs::path out_dir = config.output_dir;
    RunFolderGuard run_folder(out_dir);  // a failed fresh run leaves nothing behind
    if (given.resume.empty()) {
        // state.json records absolute input paths, so --resume works from any folder.
        auto absolute = [](std::string& p) {
            if (!p.empty() && p != "-")
                p = fs::absolute(p).lexically_normal().string();
        };
        absolute(config.config_yaml);
        absolute(config.init_from);
        absolute(config.regions_bed);
        for (auto& f : config.fastas)
            absolute(f);
        for (auto& h : config.holdout) {
            if (fs::is_regular_file(h))
                absolute(h);
        }
        EVOSCOPE_CHECK(
            config.force || !fs::exists(out_dir) || fs::is_empty(out_dir),
            "output folder '{}' exists and is not empty (use --force, or --resume to continue it)",
            out_dir.string());
    }

    // Data: training regions minus held-out ones.
    const Genomes genomes = open_genomes(config.fastas);
    std::vector<Interval> train;
    for (const auto& text : config.regions)
        train.push_back(genomics::parse_region(text, *genomes.contigs));
    if (!config.regions_bed.empty()) {
        const auto bed = genomics::read_bed_regions(config.regions_bed, *genomes.contigs);
        train.insert(train.end(), bed.begin(), bed.end());
    }
    if (train.empty())
        train = genomics::whole_genome(*genomes.contigs);
    std::vector<Interval> holdout;
    for (const auto& spec : config.holdout) {
        const auto h = read_holdout(spec, *genomes.contigs);
        holdout.insert(holdout.end(), h.begin(), h.end());
    }
    if (config.holdout_fraction > 0) {
        for (const auto& t : train) {
            const auto split = genomics::split_holdout(t, config.holdout_fraction);  // as `markov`
            if (split.eval.length() > 0)
                holdout.push_back(split.eval);
        }
    }
    genomics::IntervalSet holdout_set;
    for (const auto& h : holdout)
        holdout_set.add(h);
    holdout = holdout_set.intervals();  // sorted and merged: each held-out base is scored once
    // The training regions minus the held-out bases, region by region in the given order (the
    // order fixes the data order of a seed).
    std::vector<Interval> segments;
    for (const auto& t : train) {
        genomics::IntervalSet piece;
        piece.add(t);
        for (const auto& kept : piece.subtract(holdout_set).intervals())
            segments.push_back(kept);
    }
    EVOSCOPE_CHECK(!segments.empty(),
                   "no training sequence is left after removing the {} held-out region(s) from the "
                   "{} training "
                   "region(s)",
                   holdout.size(),
                   train.size());
    std::vector<std::string> train_seqs;
    std::vector<std::int64_t> lengths;
    std::int64_t train_bp = 0;
    for (const auto& s : segments) {
        train_seqs.push_back(fetch_upper(genomes, s));
        lengths.push_back(s.length());
        train_bp += s.length();
    }
    const std::int64_t longest = *std::max_element(lengths.begin(), lengths.end());
    EVOSCOPE_CHECK(longest >= config.window + 1,
                   "--window {} needs {} contiguous training bases (the window plus one), but the "
                   "longest training "
                   "sequence has {} bases{}; use a shorter --window",
                   config.window,
                   config.window + 1,
                   longest,
                   holdout.empty() ? "" : " after removing the held-out regions");
    const bool both = config.strand == "both";
    EVOSCOPE_CHECK_USAGE(
        config.genome_weights.empty() || config.genome_weights.size() == config.fastas.size(),
        "--genome-weights has {} value(s) but there are {} -f/--fasta inputs: give one weight per "
        "FASTA, in the same order",
        config.genome_weights.size(),
        config.fastas.size());
    const model::WindowSampler sampler = [&] {
        if (config.genome_weights.empty())
            return model::WindowSampler(lengths, config.window + 1, both, config.seed);
        std::vector<std::size_t> group_of;
        for (const auto& s : segments)
            group_of.push_back(genomes.reader_of.at(s.contig));
        return model::WindowSampler(lengths,
                                    std::move(group_of),
                                    config.genome_weights,
                                    config.fastas,
                                    config.window + 1,
                                    both,
                                    config.seed);
    }();
    if (!config.genome_weights.empty()) {
        const auto shares = sampler.group_shares();
        for (std::size_t i = 0; i < config.fastas.size(); ++i) {
            std::int64_t bp = 0;
            for (const auto& s : segments) {
                if (genomes.reader_of.at(s.contig) == i)
                    bp += s.length();
            }
            EVOSCOPE_LOG_INFO("{}: {:.1f}% of the windows ({} training bp)",
                              config.fastas[i],
                              100.0 * shares[i],
                              bp);
        }
    }
    std::vector<std::vector<model::TokenId>> heldout_tokens;
    std::vector<std::size_t>
        heldout_region_of;  // heldout_tokens[i] comes from holdout[heldout_region_of[i]]
    std::int64_t heldout_bp = 0;
    for (std::size_t i = 0; i < holdout.size(); ++i) {
        const auto& h = holdout[i];
        std::string s = fetch_upper(genomes, h);
        heldout_bp += h.length();
        heldout_tokens.push_back(model::Tokenizer::tokenize(s));
        heldout_region_of.push_back(i);
        if (both) {
            genomics::reverse_complement_in_place(s);
            heldout_tokens.push_back(model::Tokenizer::tokenize(s));
            heldout_region_of.push_back(i);
        }
    }
    if (holdout.empty()) {
        EVOSCOPE_LOG_WARN(
            "no held-out regions (--holdout, --holdout-fraction): held-out loss is not measured");
    }
    EVOSCOPE_LOG_INFO(
        "training on {} bp in {} segment(s) ({} window starts, strands: {}); held out: {} bp in {} "
        "region(s)",
        train_bp,
        segments.size(),
        sampler.n_starts(),
        both ? "both" : "+",
        heldout_bp,
        holdout.size());

    // Model and optimizer.
    std::optional<model::Evo2Model> model;
    if (!given.resume.empty()) {
        model.emplace(
            as_fp32_on(model::load_model(resume_dir / "model.safetensors", std::nullopt, "cpu"),
                       config.device));
    } else if (!config.init_from.empty()) {
        std::optional<fs::path> yaml;
        if (!config.config_yaml.empty())
            yaml = config.config_yaml;
        model.emplace(as_fp32_on(model::load_model(config.init_from, yaml, "cpu"), config.device));
    } else {
        const auto mc = model::ModelConfig::from_yaml_file(config.config_yaml);
        model.emplace(
            as_fp32_on(model::Evo2Model::init_random(mc, config.seed, "cpu"), config.device));
    }
    // Recorded in every checkpoint and the final model: this run trains on windows of
    // --window + 1 tokens (a fine-tune records its own window, not its starting model's).
    model->set_trained_context(config.window + 1);
    if (config.warmup >= config.steps) {
        EVOSCOPE_LOG_WARN(
            "--warmup {} is not below --steps {}: the learning rate never reaches --lr",
            config.warmup,
            config.steps);
    }
    model::TrainConfig tc;
    tc.lr = config.lr;
    tc.min_lr = config.min_lr;
    tc.warmup_steps = config.warmup;
    tc.total_steps = config.steps;
    tc.weight_decay = config.weight_decay;
    tc.grad_clip = config.grad_clip;
    model::Trainer trainer(*model, tc);
    std::vector<LogRow> rows;
    std::int64_t tokens = 0;
    if (!given.resume.empty()) {
        trainer.load_optimizer(resume_dir / "optimizer.safetensors");
        tokens = resume_state.at("tokens").get<std::int64_t>();
        rows = rows_from_json(resume_state.at("log"));
        EVOSCOPE_CHECK_FORMAT(trainer.n_steps() == resume_state.at("step").get<std::int64_t>(),
                              "{}: optimizer step {} does not match state.json",
                              resume_dir.string(),
                              trainer.n_steps());
    }
    EVOSCOPE_LOG_INFO("model: {} parameters, pattern {}, device {}; {} steps of {} x {} tokens",
                      model->n_params(),
                      model->config().pattern(),
                      model->device(),
                      config.steps,
                      config.batch,
                      config.window);
    run_folder.open();

    auto heldout_loss = [&]() {
        if (heldout_tokens.empty())
            return std::numeric_limits<double>::quiet_NaN();
        return model::evaluate(*model, heldout_tokens, config.window, config.batch).nats_per_token;
    };
    // The final evaluation goes region by region (both strands of a region together) and writes
    // DIR/heldout.tsv; its token-weighted mean is the same number heldout_loss() gives.
    auto heldout_by_region = [&]() {
        std::vector<model::EvalResult> per(holdout.size());
        for (std::size_t i = 0; i < holdout.size(); ++i) {
            std::vector<std::vector<model::TokenId>> seqs;
            for (std::size_t j = 0; j < heldout_tokens.size(); ++j) {
                if (heldout_region_of[j] == i)
                    seqs.push_back(heldout_tokens[j]);
            }
            per[i] = model::evaluate(*model, seqs, config.window, config.batch);
        }
        return per;
    };
    auto write_heldout_table = [&](const std::vector<model::EvalResult>& per) {
        std::string out =
            "contig\tbegin\tend\tstrands\tpredicted\theldout_loss\theldout_bits_per_base\n";
        for (std::size_t i = 0; i < holdout.size(); ++i) {
            const auto& h = holdout[i];
            out += fmt::format("{}\t{}\t{}\t{}\t{}\t{:.6f}\t{:.6f}\n",
                               h.contig,
                               h.begin + 1,
                               h.end,
                               both ? "both" : "+",
                               per[i].n_predicted,
                               per[i].nats_per_token,
                               per[i].nats_per_token / std::log(2.0));
            EVOSCOPE_LOG_INFO("held-out {}:{}-{}: {:.4f} bits per base over {} predicted bases",
                              h.contig,
                              h.begin + 1,
                              h.end,
                              per[i].nats_per_token / std::log(2.0),
                              per[i].n_predicted);
        }
        write_file_atomic(out_dir / "heldout.tsv", out);
    };
    auto save_checkpoint = [&](std::int64_t step) {
        const json state{{"version", kStateVersion},
                         {"step", step},
                         {"tokens", tokens},
                         {"sampler", {{"seed", config.seed}, {"draws", step * config.batch}}},
                         {"options", options_to_json(config)},
                         {"log", rows_to_json(rows)}};
        const fs::path final_dir = write_checkpoint(out_dir, step, state, [&](const fs::path& tmp) {
            model::save_model(*model, tmp / "model.safetensors");
            trainer.save_optimizer(tmp / "optimizer.safetensors");
        });
        write_file_atomic(out_dir / "train_log.tsv", log_tsv(rows));
        EVOSCOPE_LOG_DEBUG("checkpoint {}", final_dir.string());
    };

    if (rows.empty()) {
        LogRow r;
        r.heldout_loss = heldout_loss();
        r.lr = model::scheduled_lr(tc, 0);
        rows.push_back(r);
        if (!std::isnan(r.heldout_loss)) {
            EVOSCOPE_LOG_INFO("initial held-out loss {:.4f} nats, {:.4f} bits per base",
                              r.heldout_loss,
                              r.heldout_loss / std::log(2.0));
        }
    }

    // The loop.
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t first_step = trainer.n_steps();
    const std::int64_t last_step =
        config.stop_after > 0 ? std::min(config.steps, std::max(config.stop_after, first_step))
                              : config.steps;
    const std::int64_t W = config.window;
    const std::int64_t B = config.batch;
    std::vector<model::TokenId> buf;
    std::string window_text;
    std::optional<ProgressLine> bar(std::in_place, "model-train");
    for (std::int64_t step = first_step; step < last_step; ++step) {
        at::Tensor ids = at::empty({B, W + 1}, at::TensorOptions().dtype(at::kLong));
        auto* data = ids.data_ptr<std::int64_t>();
        for (std::int64_t b = 0; b < B; ++b) {
            const auto d = sampler.draw(static_cast<std::uint64_t>(step * B + b));
            window_text.assign(train_seqs[d.segment],
                               static_cast<std::size_t>(d.offset),
                               static_cast<std::size_t>(W + 1));
            if (d.reverse)
                genomics::reverse_complement_in_place(window_text);
            buf.clear();
            model::Tokenizer::tokenize_into(window_text, buf);
            std::copy(buf.begin(), buf.end(), data + b * (W + 1));
        }
        const auto r = trainer.step(ids);
        tokens += B * W;
        LogRow row;
        row.step = step + 1;
        row.tokens = tokens;
        row.train_loss = r.loss;
        row.lr = r.lr;
        const bool eval_now = (step + 1) % config.eval_every == 0 || step + 1 == config.steps;
        if (eval_now && step + 1 == config.steps && !heldout_tokens.empty()) {
            const auto per = heldout_by_region();
            double nats = 0;
            std::int64_t n = 0;
            for (const auto& e : per) {
                nats += e.nats_per_token * static_cast<double>(e.n_predicted);
                n += e.n_predicted;
            }
            row.heldout_loss =
                n > 0 ? nats / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
            write_heldout_table(per);
        } else if (eval_now) {
            row.heldout_loss = heldout_loss();
        }
        rows.push_back(row);
        EVOSCOPE_CHECK_MODEL(std::isfinite(r.loss),
                             "training diverged at step {} (loss {}); try a lower --lr",
                             step + 1,
                             r.loss);
        const bool keep = eval_now || step + 1 == last_step;
        if (bar->due(keep)) {
            const double elapsed =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const double done = static_cast<double>(step + 1 - first_step);
            const double tok_s = done * static_cast<double>(B * W) / std::max(elapsed, 1e-9);
            const double eta = elapsed / done * static_cast<double>(last_step - step - 1);
            const double pct =
                100.0 * static_cast<double>(step + 1) / static_cast<double>(config.steps);
            std::string held;
            if (eval_now && !std::isnan(row.heldout_loss)) {
                held = fmt::format(" | held-out {:.4f} nats ({:.4f} bits/base)",
                                   row.heldout_loss,
                                   row.heldout_loss / std::log(2.0));
            }
            const std::string line = fmt::format(
                "step {}/{} ({:.0f}%) | {} tokens | {} tok/s | loss {:.4f} | lr {:.3g}{} | ETA {}",
                step + 1,
                config.steps,
                pct,
                nice_number(static_cast<double>(tokens)),
                nice_number(tok_s),
                r.loss,
                r.lr,
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
    if (first_step >= last_step && first_step > 0) {
        EVOSCOPE_LOG_INFO("nothing to do: the run is at step {} of {}", first_step, config.steps);
    }
    write_file_atomic(out_dir / "train_log.tsv", log_tsv(rows));
    write_file_atomic(out_dir / "loss.svg", loss_svg(rows));
    if (trainer.n_steps() < config.steps) {
        EVOSCOPE_LOG_INFO(
            "stopped after step {} of {}; continue with: evoscope model train --resume {}",
            trainer.n_steps(),
            config.steps,
            out_dir.string());
        return ModelTrainResult{trainer.n_steps(), false, {}};
    }
    model::save_model(*model, out_dir / "model.safetensors");
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const LogRow& last = rows.back();
    fmt::print(
        stderr,
        "[I::model-train] {} steps, {} tokens in {}: final train loss {:.4f}, held-out {:.4f} nats "
        "({:.4f} bits per base); wrote {}\n",
        config.steps,
        tokens,
        format_duration(elapsed),
        last.train_loss,
        last.heldout_loss,
        last.heldout_loss / std::log(2.0),
        (out_dir / "model.safetensors").string());
    return ModelTrainResult{trainer.n_steps(), true, out_dir / "model.safetensors"};
}

}  // namespace evoscope::pipelines
