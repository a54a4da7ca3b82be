#include "pipelines/align.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <zlib.h>

#include "annotate/signal_source.hpp"
#include "core/check.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "core/run_info.hpp"
#include "genomics/annotation.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"
#include "genomics/track_reader.hpp"
#include "store/feature_store.hpp"

namespace evoscope::pipelines {
namespace {

namespace fs = std::filesystem;
using annotate::AlignConfig;
using annotate::AlignResult;
using annotate::ConceptResult;
using annotate::ConceptSet;

AlignConfig config_of(const AlignOptions& o) {
    AlignConfig c;
    c.n_shifts = o.shifts;
    c.seed = o.seed;
    c.split_block_bp = o.split_block_bp;
    c.n_bins = o.bins;
    c.shift_top = o.shift_top;
    c.shift_dense = o.shift_dense;
    c.threads = o.threads;
    return c;
}

/// A feature store must have the FASTA's contigs with the FASTA's lengths.
void check_store_contigs(const std::string& dir,
                         const annotate::SignalSource& source,
                         const ConceptSet& concepts) {
    for (const auto& c : source.contigs()) {
        const auto it = std::find_if(concepts.contigs.begin(),
                                     concepts.contigs.end(),
                                     [&](const auto& fc) { return fc.name == c.name; });
        EVOSCOPE_CHECK(it != concepts.contigs.end(),
                       "feature store {}: contig '{}' is not in the FASTA",
                       dir,
                       c.name);
        EVOSCOPE_CHECK(it->length == c.length,
                       "feature store {}: contig '{}' has length {} but the FASTA's is {}",
                       dir,
                       c.name,
                       c.length,
                       it->length);
    }
}

std::unique_ptr<annotate::SignalSource> open_tracks(const AlignOptions& o,
                                                    const ConceptSet& concepts) {
    const genomics::ContigSet contig_set(concepts.contigs);
    std::map<std::string, annotate::DenseTrack> by_name;
    std::vector<std::string> order;
    for (const std::string& spec : o.tracks) {
        std::string path = spec;
        int strand = -1;  // both
        if (spec.size() > 2 && (spec.ends_with(":+") || spec.ends_with(":-"))) {
            strand = spec.back() == '+' ? 0 : 1;
            path = spec.substr(0, spec.size() - 2);
        }
        const std::string name = fs::path(path).stem().string();
        auto values = genomics::read_track(path, contig_set);
        auto [it, fresh] = by_name.try_emplace(name);
        if (fresh) {
            order.push_back(name);
            it->second.name = name;
        }
        for (int s = 0; s < 2; ++s) {
            if (strand < 0 || strand == s) {
                auto& dst = it->second.values[static_cast<std::size_t>(s)];
                EVOSCOPE_CHECK(
                    dst.empty(), "track {}: strand {} given twice", name, s == 0 ? '+' : '-');
                dst = values;
            }
        }
    }
    std::vector<annotate::DenseTrack> tracks;
    for (const auto& name : order) {
        tracks.push_back(std::move(by_name[name]));
    }
    return annotate::make_track_source(concepts.contigs, std::move(tracks));
}

int count_identified(const AlignResult& r, double score) {
    int n = 0;
    for (const auto& c : r.concepts) {
        // The all-positive predictor reaches F1 = domain F1 = 2p / (1 + p) for a concept covering
        // a fraction p of the rows: a feature that does not beat it has found nothing.
        if (c.feature >= 0 && c.val_score > score && c.test_score > score && c.clears_chance &&
            c.test_score > c.trivial_f1)
            ++n;
    }
    return n;
}

AlignSourceResult run_source(const annotate::SignalSource& source,
                             const ConceptSet& concepts,
                             const AlignConfig& config,
                             double identified_score) {
    AlignSourceResult out;
    out.description = source.describe();
    out.result = annotate::align(source, concepts, config);
    for (std::int64_t f = 0; f < source.n_features(); ++f) {
        out.feature_names.push_back(source.feature_name(f));
    }
    out.n_identified = count_identified(out.result, identified_score);
    return out;
}

std::string fmt_double(double x) {
    return fmt::format("{:.6g}", x);
}

/// gzip text writer (zlib level 3: the table is large and mostly numbers).
class GzWriter {
public:
    explicit GzWriter(const fs::path& path) : path_(path) {
        gz_ = gzopen(path.c_str(), "wb3");
        EVOSCOPE_CHECK_IO(gz_ != nullptr, "{}: cannot create", path.string());
    }

    ~GzWriter() {
        if (gz_ != nullptr) {
            gzclose(gz_);
        }
    }

    GzWriter(const GzWriter&) = delete;
    GzWriter& operator=(const GzWriter&) = delete;

    void write(const std::string& s) {
        buffer_ += s;
        if (buffer_.size() > (1 << 20)) {
            flush();
        }
    }

    void close() {
        flush();
        const int rc = gzclose(gz_);
        gz_ = nullptr;
        EVOSCOPE_CHECK_IO(rc == Z_OK, "{}: write error", path_.string());
    }

private:
    void flush() {
        if (!buffer_.empty()) {
            const int n = gzwrite(gz_, buffer_.data(), static_cast<unsigned>(buffer_.size()));
            EVOSCOPE_CHECK_IO(
                n == static_cast<int>(buffer_.size()), "{}: write error", path_.string());
            buffer_.clear();
        }
    }

    fs::path path_;
    gzFile gz_ = nullptr;
    std::string buffer_;
};

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    out.close();
    EVOSCOPE_CHECK_IO(static_cast<bool>(out), "{}: write error", path.string());
}

struct FeatureLabel {
    std::int64_t concept_index = -1;
    int threshold = 0, sense = 0;
    double val = 0, test = 0;
    annotate::Metrics test_metrics;
    std::string motif;  // best motif concept when the best concept is not a motif
    double motif_val = 0;
};

std::string baseline_cell(const std::optional<AlignSourceResult>& r,
                          std::size_t c,
                          bool name_column) {
    if (!r) {
        return "NA";
    }
    const ConceptResult& cr = r->result.concepts[c];
    if (cr.feature < 0) {
        return name_column ? "-" : "0";
    }
    return name_column ? r->feature_names[static_cast<std::size_t>(cr.feature)]
                       : fmt_double(cr.test_score);
}

}  // namespace

AlignRunResult run_align_concepts(const AlignOptions& options, const ConceptSet& concepts) {
    EVOSCOPE_CHECK(options.features.empty() != options.tracks.empty(),
                   "give either --features STORE or --tracks FILE...");
    EVOSCOPE_CHECK(!options.output.empty(), "-o/--output is required");
    EVOSCOPE_CHECK(!concepts.concepts.empty(), "no concepts to align");
    const fs::path out_dir = options.output;
    EVOSCOPE_CHECK(options.force || !fs::exists(out_dir),
                   "{} exists (use --force to replace it)",
                   out_dir.string());
    const AlignConfig config = config_of(options);
    const auto t0 = std::chrono::steady_clock::now();

    AlignRunResult run;
    std::string sae_path;
    {
        std::unique_ptr<annotate::SignalSource> source;
        if (!options.features.empty()) {
            source = annotate::open_feature_store_source(options.features);
            check_store_contigs(options.features, *source, concepts);
            sae_path = sae::FeatureStore(options.features).header().sae_path;
        } else {
            source = open_tracks(options, concepts);
        }
        run.sae = run_source(*source, concepts, config, options.identified_score);
    }
    if (!options.neurons.empty()) {
        const auto source = annotate::open_neuron_source(options.neurons);
        run.neurons = run_source(*source, concepts, config, options.identified_score);
    }
    if (!options.control_features.empty()) {
        const auto source = annotate::open_feature_store_source(options.control_features);
        check_store_contigs(options.control_features, *source, concepts);
        run.control = run_source(*source, concepts, config, options.identified_score);
    }
    const AlignResult& r = run.sae.result;
    const annotate::AlignCounts& counts = r.counts;
    const auto C = static_cast<std::int64_t>(concepts.concepts.size());
    const std::int64_t F = counts.n_features;
    const int T = static_cast<int>(config.thresholds.size());

    // Build the folder beside the target and rename it into place at the end.
    const fs::path tmp = temp_path_for(out_dir);
    create_output_dir(tmp);

    struct TmpGuard {
        fs::path p;
        bool keep = false;

        ~TmpGuard() {
            if (!keep) {
                std::error_code ec;
                fs::remove_all(p, ec);
            }
        }
    } guard{tmp};

    // concepts.tsv
    std::string text =
        "concept\tcategory\tn_positive\tn_elements\tscore\tbest_feature\tthreshold\tsense\t"
        "val_score\ttest_precision\ttest_recall\ttest_f1\ttest_domain_f1\ttest_auroc\t"
        "test_auprc\ttest_log_odds\ttest_z\tp_value\tq_value\tclears_chance\tneuron_best\t"
        "neuron_score\tcontrol_best\tcontrol_score\ttrivial_f1\tframe_baseline\n";
    for (std::size_t c = 0; c < static_cast<std::size_t>(C); ++c) {
        const ConceptResult& cr = r.concepts[c];
        const bool has = cr.feature >= 0;
        text += fmt::format(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}"
            "\t{}\t{}\t{}\t{}\n",
            cr.name,
            cr.category,
            cr.n_positive,
            cr.n_elements,
            cr.domain_score ? "domain_f1" : "f1",
            has ? run.sae.feature_names[static_cast<std::size_t>(cr.feature)] : "-",
            has ? fmt_double(config.thresholds[static_cast<std::size_t>(cr.threshold)]) : "NA",
            has ? annotate::sense_name(cr.sense) : "NA",
            fmt_double(cr.val_score),
            fmt_double(cr.test.precision),
            fmt_double(cr.test.recall),
            fmt_double(cr.test.f1),
            fmt_double(cr.test.domain_f1),
            fmt_double(cr.auroc),
            fmt_double(cr.auprc),
            fmt_double(cr.test.log_odds),
            fmt_double(cr.test.z),
            r.n_shifts > 0 ? fmt_double(cr.p_value) : "NA",
            r.n_shifts > 0 ? fmt_double(cr.q_value) : "NA",
            cr.clears_chance ? "yes" : "no",
            baseline_cell(run.neurons, c, true),
            baseline_cell(run.neurons, c, false),
            baseline_cell(run.control, c, true),
            baseline_cell(run.control, c, false),
            fmt_double(cr.trivial_f1),
            cr.frame_baseline >= 0 ? fmt_double(cr.frame_baseline) : "NA");
    }
    write_text(tmp / "concepts.tsv", text);

    // alignment.tsv.gz (rows where the feature is active at that threshold in either split)
    // and each feature's best concept on validation.
    std::vector<FeatureLabel> labels(static_cast<std::size_t>(F));
    std::vector<double> density(static_cast<std::size_t>(F), 0.0);
    {
        GzWriter gz(tmp / "alignment.tsv.gz");
        gz.write(
            "feature\tconcept\tthreshold\tsense\tval_score\ttest_precision\ttest_recall\ttest_f1\t"
            "test_element_recall\ttest_domain_f1\ttest_auroc\ttest_auprc\ttest_log_odds\ttest_z\n");
        std::string line;
        for (std::int64_t f = 0; f < F; ++f) {
            auto& lab = labels[static_cast<std::size_t>(f)];
            for (std::int64_t c = 0; c < C; ++c) {
                const ConceptResult& cr = r.concepts[static_cast<std::size_t>(c)];
                const bool is_motif = cr.category == "motif";
                for (int s = 0; s < annotate::kNumSenses; ++s) {
                    const auto [auroc, auprc] = annotate::auc_at(counts, 1, f, c, s);
                    for (int t = 0; t < T; ++t) {
                        const auto val = annotate::metrics_at(counts, 0, f, c, t, s);
                        const auto test = annotate::metrics_at(counts, 1, f, c, t, s);
                        if (c == 0 && s == 0 && t == 0) {
                            density[static_cast<std::size_t>(f)] =
                                static_cast<double>(val.active + test.active) /
                                static_cast<double>(val.rows + test.rows);
                        }
                        if (val.active == 0 && test.active == 0) {
                            continue;
                        }
                        const double vs = cr.domain_score ? val.domain_f1 : val.f1;
                        const double ts = cr.domain_score ? test.domain_f1 : test.f1;
                        if (vs > lab.val) {
                            lab = {c, t, s, vs, ts, test, lab.motif, lab.motif_val};
                        }
                        if (is_motif && vs > lab.motif_val) {
                            lab.motif = cr.name;
                            lab.motif_val = vs;
                        }
                        line =
                            fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                                        run.sae.feature_names[static_cast<std::size_t>(f)],
                                        cr.name,
                                        fmt_double(config.thresholds[static_cast<std::size_t>(t)]),
                                        annotate::sense_name(s),
                                        fmt_double(vs),
                                        fmt_double(test.precision),
                                        fmt_double(test.recall),
                                        fmt_double(test.f1),
                                        fmt_double(test.element_recall),
                                        fmt_double(test.domain_f1),
                                        fmt_double(auroc),
                                        fmt_double(auprc),
                                        fmt_double(test.log_odds),
                                        fmt_double(test.z));
                        gz.write(line);
                    }
                }
            }
        }
        gz.close();
    }

    // features.tsv and labels.tsv: a feature is labelled with its best concept on validation
    // when that scores above identified_score on validation and test.
    auto label_of = [&](const FeatureLabel& lab) {
        if (lab.concept_index < 0 || lab.val <= options.identified_score ||
            lab.test <= options.identified_score) {
            return std::string("-");
        }
        std::string label = r.concepts[static_cast<std::size_t>(lab.concept_index)].name;
        if (!lab.motif.empty() && lab.motif != label && lab.motif_val > options.identified_score) {
            label += "+" + lab.motif;
        }
        return label;
    };
    text =
        "feature\tlabel\tconcept\tthreshold\tsense\tval_score\ttest_score\ttest_precision\t"
        "test_recall\tdensity\tmax\n";
    std::string labels_text = "feature\tlabel\tconcept\tscore\n";
    for (std::int64_t f = 0; f < F; ++f) {
        const auto& lab = labels[static_cast<std::size_t>(f)];
        const bool has = lab.concept_index >= 0;
        const std::string label = label_of(lab);
        const std::string concept_name =
            has ? r.concepts[static_cast<std::size_t>(lab.concept_index)].name : "-";
        text += fmt::format(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            run.sae.feature_names[static_cast<std::size_t>(f)],
            label,
            concept_name,
            has ? fmt_double(config.thresholds[static_cast<std::size_t>(lab.threshold)]) : "NA",
            has ? annotate::sense_name(lab.sense) : "NA",
            fmt_double(lab.val),
            fmt_double(lab.test),
            fmt_double(lab.test_metrics.precision),
            fmt_double(lab.test_metrics.recall),
            fmt_double(density[static_cast<std::size_t>(f)]),
            fmt_double(r.feature_max[static_cast<std::size_t>(f)]));
        if (label != "-") {
            labels_text +=
                fmt::format("{}\t{}\t{}\t{}\n", f, label, concept_name, fmt_double(lab.test));
        }
    }
    write_text(tmp / "features.tsv", text);

    // summary.json
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json summary;
    summary["version"] = version_string();
    summary["command"] = command_line();
    summary["source"] = run.sae.description;
    summary["n_features"] = F;
    summary["n_concepts"] = C;
    summary["thresholds"] = config.thresholds;
    summary["bins"] = config.n_bins;
    summary["split"] = r.split.describe();
    summary["rows"] = {{"validation", counts.rows[0]}, {"test", counts.rows[1]}};
    summary["shifts"] = r.n_shifts;
    summary["seed"] = config.seed;
    summary["shift_candidates"] = r.shift_candidates.size();
    summary["identified_rule"] = fmt::format(
        "val and test score > {}, q <= 0.05 and test score above the all-positive "
        "predictor's",
        options.identified_score);
    summary["identified"] = {{"sae", run.sae.n_identified}};
    if (run.neurons) {
        summary["identified"]["neurons"] = run.neurons->n_identified;
        summary["neurons"] = run.neurons->description;
    }
    if (run.control) {
        summary["identified"]["control"] = run.control->n_identified;
        summary["control"] = run.control->description;
    }
    summary["seconds"] = seconds;
    summary["peak_rss_bytes"] = peak_rss_bytes();
    write_text(tmp / "summary.json", summary.dump(2) + "\n");

    commit_temp_dir(tmp, out_dir);
    guard.keep = true;

    // labels.tsv: --labels-out, else beside the SAE's cfg.json when the store names one.
    fs::path labels_path = options.labels_out;
    if (labels_path.empty() && !sae_path.empty()) {
        const fs::path sae_dir =
            fs::is_directory(sae_path) ? fs::path(sae_path) : fs::path(sae_path).parent_path();
        if (fs::exists(sae_dir / "cfg.json")) {
            labels_path = sae_dir / "labels.tsv";
        }
    }
    if (!labels_path.empty()) {
        if (fs::exists(labels_path) && !options.force) {
            EVOSCOPE_LOG_WARN("align: {} exists; not replaced (use --force)", labels_path.string());
        } else {
            write_file_atomic(labels_path, labels_text);
            run.labels_path = labels_path.string();
        }
    }
    EVOSCOPE_LOG_INFO(
        "align: concepts identified (val and test score > {}, q <= 0.05, above all-positive): SAE "
        "features {}/{}, "
        "neurons {}, control {}; {:.1f} s",
        options.identified_score,
        run.sae.n_identified,
        C,
        run.neurons ? fmt::format("{}/{}", run.neurons->n_identified, C) : "not run",
        run.control ? fmt::format("{}/{}", run.control->n_identified, C) : "not run",
        seconds);
    return run;
}

}  // namespace evoscope::pipelines
