#include "pipelines/main_job.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <htslib/hts.h>
#include <nlohmann/json.hpp>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "core/run_info.hpp"
#include "core/strings.hpp"
#include "core/subprocess.hpp"
#include "formats/safetensors.hpp"
#include "pipelines/concepts.hpp"
#include "pipelines/model_info.hpp"

namespace evoscope::pipelines {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// The bundled demo: genome and annotation (data/genomes/NAME.fa and NAME.gff3).
constexpr const char* kDemoGenome = "athaliana_chloroplast";
/// Metadata key a model may carry to name the layer its SAEs should read.
constexpr const char* kRecommendedLayerKey = "evoscope.recommended_layer";
/// Where the step records live inside the output folder.
constexpr const char* kStateDir = ".evoscope";
/// Replaced by the output folder in step commands; keys see the token, so moving the output
/// folder does not invalidate finished steps.
constexpr const char* kOutToken = "{OUT}";

struct Step {
    std::string name;
    std::string what;  ///< one line for the progress messages
    /// Commands (evoscope arguments without the program), run in order; computed when the step
    /// starts (the motif step reads align's table), so `plan` gives the static part only.
    std::function<std::vector<std::vector<std::string>>()> commands;
    std::vector<std::string> plan;    ///< the command as shown in a dry run and hashed
    std::vector<std::string> inputs;  ///< files or folders whose content enters the key
    std::vector<std::string> after;   ///< steps whose keys enter this key
    std::string output;               ///< relative to OUT; must exist for a reuse
    double weight = 1;                ///< relative cost for the ETA
    bool torch = false;               ///< gets --device
};

/// htslib's MD5 (hts_md5_*), fed in pieces.
class Md5 {
public:
    Md5() : ctx_(hts_md5_init()) {
        EVOSCOPE_CHECK_IO(ctx_ != nullptr, "cannot allocate an MD5 context");
    }

    ~Md5() { hts_md5_destroy(ctx_); }

    Md5(const Md5&) = delete;
    Md5& operator=(const Md5&) = delete;

    void update(const void* data, std::size_t n) {
        hts_md5_update(ctx_, data, static_cast<unsigned long>(n));
    }

    /// 32 hex digits.
    std::string hex() {
        unsigned char digest[16];
        hts_md5_final(digest, ctx_);
        char text[33];
        hts_md5_hex(text, digest);
        return text;
    }

private:
    hts_md5_context* ctx_;
};

std::string md5_hex(const std::string& text) {
    Md5 md5;
    md5.update(text.data(), text.size());
    return md5.hex();
}

/// Content digest of a file, or of a folder (names and contents of its regular files, sorted).
std::string path_digest(const fs::path& path, std::map<std::string, std::string>& cache) {
    const std::string key = path.string();
    if (const auto it = cache.find(key); it != cache.end()) {
        return it->second;
    }
    std::string digest;
    if (fs::is_directory(path)) {
        std::vector<fs::path> files;
        for (const auto& e : fs::recursive_directory_iterator(path)) {
            if (e.is_regular_file()) {
                files.push_back(e.path());
            }
        }
        std::sort(files.begin(), files.end());
        std::string all;
        for (const auto& f : files) {
            all += fs::relative(f, path).string() + '\t' + file_md5(f) + '\n';
        }
        digest = md5_hex(all);
    } else {
        digest = file_md5(path);
    }
    cache[key] = digest;
    return digest;
}

std::string substitute(const std::string& arg, const std::string& out) {
    std::string result = arg;
    const std::string token = kOutToken;
    for (std::size_t at = result.find(token); at != std::string::npos;
         at = result.find(token, at + out.size())) {
        result.replace(at, token.size(), out);
    }
    return result;
}

std::string human_seconds(double s) {
    if (s < 60) {
        return fmt::format("{:.1f} s", s);
    }
    const auto total = static_cast<long>(s + 0.5);
    if (total < 3600) {
        return fmt::format("{}:{:02d} min", total / 60, total % 60);
    }
    return fmt::format("{}:{:02d}:{:02d} h", total / 3600, (total / 60) % 60, total % 60);
}

std::string now_iso8601() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/// The layer an SAE should read when none is given: the model's own recommendation, else the
/// block three quarters of the way down (Evo 2 SAEs read a late-middle block: layer 26 of 32 in
/// Goodfire's and NVIDIA's 7B work; evoscope-small: blocks.5 of 8).
std::string default_layer(const SafetensorsReader& reader, std::int64_t num_layers) {
    const auto& meta = reader.metadata();
    if (const auto it = meta.find(kRecommendedLayerKey); it != meta.end() && !it->second.empty()) {
        return it->second;
    }
    return fmt::format("blocks.{}", std::max<std::int64_t>(0, num_layers * 3 / 4 - 1));
}

/// Checks what can be checked before anything runs, so a bad input leaves nothing behind.
void check_layer(const std::string& layer, const ModelInfo& info, const std::string& model) {
    static const std::regex kBlock(R"(^blocks\.([0-9]+)(\..*)?$)");
    std::smatch m;
    EVOSCOPE_CHECK(std::regex_match(layer, m, kBlock),
                   "--layer '{}': expected blocks.N or blocks.N.<site>",
                   layer);
    const auto n = std::stoll(m[1].str());
    EVOSCOPE_CHECK(info.num_layers <= 0 || n < info.num_layers,
                   "--layer '{}': the model '{}' has {} blocks (blocks.0 to blocks.{})",
                   layer,
                   model,
                   info.num_layers,
                   info.num_layers - 1);
}

/// An SAELens folder's cfg.json must match the layer's width and, when it records one, its
/// hook. (Other formats are checked by `sae encode` itself when it loads them.)
void check_sae(const std::string& sae, const std::string& layer, std::int64_t hidden_size) {
    EVOSCOPE_CHECK(fs::exists(sae), "--sae '{}': no such file or folder", sae);
    const fs::path cfg_path = fs::path(sae) / "cfg.json";
    if (!fs::is_directory(sae) || !fs::exists(cfg_path)) {
        return;
    }
    std::ifstream in(cfg_path);
    json cfg;
    try {
        cfg = json::parse(in);
    } catch (const json::exception& e) {
        throw FormatError(fmt::format("'{}': not valid JSON ({})", cfg_path.string(), e.what()));
    }
    if (cfg.contains("d_in") && cfg["d_in"].is_number_integer() && hidden_size > 0) {
        const auto d_in = cfg["d_in"].get<std::int64_t>();
        EVOSCOPE_CHECK(d_in == hidden_size,
                       "--sae '{}': d_in {} does not match the width {} of layer {}",
                       sae,
                       d_in,
                       hidden_size,
                       layer);
    }
    std::string hook;
    if (cfg.contains("hook_name") && cfg["hook_name"].is_string()) {
        hook = cfg["hook_name"].get<std::string>();
    } else if (cfg.contains("metadata") && cfg["metadata"].is_object() &&
               cfg["metadata"].contains("hook_name") && cfg["metadata"]["hook_name"].is_string()) {
        hook = cfg["metadata"]["hook_name"].get<std::string>();
    }
    EVOSCOPE_CHECK(hook.empty() || hook == layer,
                   "--sae '{}' was trained on layer {} (cfg.json hook_name), not on {}: give "
                   "--layer {} or an SAE of this layer",
                   sae,
                   hook,
                   layer,
                   hook);
}

/// Feature ids worth a motif search and tracks: the best feature of every concept that clears
/// chance, then the features with the best test scores, `n` in all.
std::vector<std::int64_t> top_features(const fs::path& align_dir, int n) {
    std::vector<std::int64_t> ids;
    std::set<std::int64_t> seen;
    const auto feature_id = [](const std::string& name) -> std::optional<std::int64_t> {
        if (!starts_with(name, "f/")) {
            return std::nullopt;
        }
        try {
            return std::stoll(name.substr(2));
        } catch (const std::exception&) {
            return std::nullopt;
        }
    };
    const auto read_table = [](const fs::path& path) {
        std::ifstream in(path);
        EVOSCOPE_CHECK_IO(in.good(), "cannot read '{}'", path.string());
        std::vector<std::map<std::string, std::string>> rows;
        std::string line;
        std::vector<std::string> header;
        while (std::getline(in, line)) {
            std::vector<std::string> fields;
            for (const auto f : split(line, '\t')) {
                fields.emplace_back(f);
            }
            if (header.empty()) {
                header = fields;
                continue;
            }
            std::map<std::string, std::string> row;
            for (std::size_t i = 0; i < header.size() && i < fields.size(); ++i) {
                row[header[i]] = fields[i];
            }
            rows.push_back(std::move(row));
        }
        return rows;
    };
    for (const auto& row : read_table(align_dir / "concepts.tsv")) {
        if (static_cast<int>(ids.size()) >= n) {
            break;
        }
        const auto it = row.find("clears_chance");
        if (it == row.end() || it->second != "yes") {
            continue;
        }
        if (const auto id = feature_id(row.at("best_feature")); id && seen.insert(*id).second) {
            ids.push_back(*id);
        }
    }
    auto features = read_table(align_dir / "features.tsv");
    const auto score = [](const std::map<std::string, std::string>& row) {
        try {
            return std::stod(row.at("test_score"));
        } catch (const std::exception&) {
            return -1.0;
        }
    };
    std::stable_sort(features.begin(), features.end(), [&](const auto& a, const auto& b) {
        return score(a) > score(b);
    });
    for (const auto& row : features) {
        if (static_cast<int>(ids.size()) >= n) {
            break;
        }
        if (const auto id = feature_id(row.at("feature")); id && seen.insert(*id).second) {
            ids.push_back(*id);
        }
    }
    return ids;
}

struct Plan {
    std::vector<Step> steps;
    json inputs;
    json settings;
};

}  // namespace

std::string bundled_data_dir() {
    if (const char* env = std::getenv("EVOSCOPE_DATA_DIR"); env != nullptr && *env != '\0') {
        return env;
    }
    return EVOSCOPE_DATA_DIR;
}

std::string file_md5(const fs::path& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    EVOSCOPE_CHECK_IO(f != nullptr, "cannot read '{}'", path.string());
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
    Md5 md5;
    std::vector<char> buffer(1 << 20);
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), f)) > 0) {
        md5.update(buffer.data(), n);
    }
    EVOSCOPE_CHECK_IO(std::ferror(f) == 0, "cannot read '{}'", path.string());
    return md5.hex();
}

MainJobResult run_main_job(const MainJobOptions& options) {
    RunClock clock;
    const std::string data = bundled_data_dir();
    const bool demo = options.fasta.empty();
    EVOSCOPE_CHECK_USAGE(!demo || options.annotations.empty(),
                         "--annotations needs the genome it describes (-f/--fasta)");
    const std::string fasta =
        demo ? fmt::format("{}/genomes/{}.fa", data, kDemoGenome) : options.fasta;
    const std::string annotations =
        demo ? fmt::format("{}/genomes/{}.gff3", data, kDemoGenome) : options.annotations;
    EVOSCOPE_CHECK_USAGE(!annotations.empty(),
                         "evoscope run needs an annotation of the genome (-a/--annotations: "
                         "GFF3, GTF, BED or GenBank) to align features with");
    const std::string model =
        options.model.empty() ? data + "/models/evoscope-small.safetensors" : options.model;
    const std::string motif_db =
        options.motifs.empty() ? data + "/motifs/jaspar_vertebrates.pfm" : options.motifs;
    const fs::path outdir = options.outdir.empty()
                                ? fs::path(demo ? "evoscope-demo" : "evoscope-run")
                                : fs::path(options.outdir);
    const std::string exe =
        options.executable.empty() ? self_executable("evoscope").string() : options.executable;

    // --- Inputs, checked before anything is written.
    EVOSCOPE_CHECK(!fs::exists(outdir) || fs::is_directory(outdir),
                   "output '{}' exists and is not a folder",
                   outdir.string());
    EVOSCOPE_CHECK(fs::exists(model), "--model '{}': no such file", model);
    EVOSCOPE_CHECK(fs::exists(motif_db), "--motifs '{}': no such file", motif_db);
    const SafetensorsReader model_reader(model);
    const ModelInfo info = read_model_info(model);
    const std::string layer =
        options.layer.empty() ? default_layer(model_reader, info.num_layers) : options.layer;
    check_layer(layer, info, model);
    if (!options.sae.empty()) {
        check_sae(options.sae, layer, info.hidden_size);
    }
    // The annotation against the FASTA (unknown contigs, malformed lines), read in a forked
    // copy so that this process stays small and the steps' peak-memory figures stay their own.
    run_in_fork([&] {
        ConceptSourceOptions source;
        source.annotations = annotations;
        source.fasta = fasta;
        const ConceptSource concepts = load_concepts(source);
        EVOSCOPE_CHECK(!concepts.concepts.concepts.empty(),
                       "'{}': no concept could be derived from this annotation",
                       annotations);
    });
    const std::int64_t window = options.window_bp > 0      ? options.window_bp
                                : info.trained_context > 1 ? info.trained_context - 1
                                                           : 8192;
    const std::int64_t stride = options.stride_bp > 0 ? options.stride_bp : window / 2;
    EVOSCOPE_CHECK_USAGE(
        stride <= window, "--stride {} is larger than --window {}", stride, window);
    std::int64_t genome_bp = 0;
    {
        std::ifstream fai(fasta + ".fai");
        std::string line;
        while (std::getline(fai, line)) {
            const auto fields = split(line, '\t');
            if (fields.size() >= 2) {
                genome_bp += std::stoll(std::string(fields[1]));
            }
        }
    }
    const std::int64_t positions = 2 * std::max<std::int64_t>(genome_bp, 1);
    // SAE tokens: every position of both strands about twice, at least 300 k and at most 5 M
    // (the demo's 309 k positions: 618 k tokens, held-out EV 0.65 in the issue-11 run; one
    // pass gave 0.47).
    const std::int64_t tokens = options.tokens > 0
                                    ? options.tokens
                                    : std::clamp<std::int64_t>(2 * positions, 300000, 5000000);
    const std::string control_yaml = std::string(kOutToken) + "/control/config.yml";
    const bool control = options.control && !info.config_yaml.empty();
    if (options.control && !control) {
        EVOSCOPE_LOG_WARN(
            "'{}' records no config (evoscope.config metadata): no random-init control", model);
    }

    // --- The steps.
    Plan plan;
    const std::string out = kOutToken;
    const std::string acts = out + "/acts/" + layer;
    const std::string sae = options.sae.empty() ? out + "/sae" : options.sae;
    const auto fixed = [](std::vector<std::string> cmd) {
        return [cmd] {
            return std::vector<std::vector<std::string>>{cmd};
        };
    };
    auto add = [&](Step step) {
        plan.steps.push_back(std::move(step));
    };
    const auto embed_command = [&](const std::string& weights, const std::string& output) {
        std::vector<std::string> cmd = {"model",
                                        "embed",
                                        "-m",
                                        weights,
                                        "-f",
                                        fasta,
                                        "--layer",
                                        layer,
                                        "--strand",
                                        "both",
                                        "-w",
                                        std::to_string(window),
                                        "-s",
                                        std::to_string(stride),
                                        "-o",
                                        output,
                                        "--force"};
        for (const auto& r : options.regions) {
            cmd.insert(cmd.end(), {"-r", r});
        }
        return cmd;
    };
    const std::vector<std::string> embed_cmd = embed_command(model, out + "/acts");
    const double embed_weight = static_cast<double>(positions) * static_cast<double>(window) /
                                static_cast<double>(stride) / 1e6;
    add({"embed",
         "activations of " + layer + " over both strands",
         fixed(embed_cmd),
         embed_cmd,
         {fasta, model},
         {},
         "acts",
         embed_weight * 60,
         true});
    const std::vector<std::string> train_args = {"--arch",
                                                 "batchtopk",
                                                 "--expansion",
                                                 std::to_string(options.expansion),
                                                 "--k",
                                                 std::to_string(options.k),
                                                 "--tokens",
                                                 std::to_string(tokens),
                                                 "--seed",
                                                 "1"};
    if (options.sae.empty()) {
        std::vector<std::string> cmd = {"sae", "train", "--acts", acts};
        cmd.insert(cmd.end(), train_args.begin(), train_args.end());
        cmd.insert(cmd.end(), {"-o", out + "/sae", "--force"});
        add({"sae-train",
             "BatchTopK SAE on the activations",
             fixed(cmd),
             cmd,
             {},
             {"embed"},
             "sae",
             static_cast<double>(tokens) / 1e6 * 18,
             true});
    }
    {
        std::vector<std::string> cmd = {
            "sae", "encode", "--sae", sae, "--acts", acts, "-o", out + "/features", "--force"};
        add({"encode",
             "feature store",
             fixed(cmd),
             cmd,
             options.sae.empty() ? std::vector<std::string>{} : std::vector<std::string>{sae},
             options.sae.empty() ? std::vector<std::string>{"embed", "sae-train"}
                                 : std::vector<std::string>{"embed"},
             "features",
             static_cast<double>(positions) / 1e6 * 10,
             true});
    }
    if (control) {
        std::vector<std::string> init = {"model",
                                         "init",
                                         "--config",
                                         control_yaml,
                                         "--seed",
                                         "7",
                                         "-o",
                                         out + "/control/model.safetensors",
                                         "--force"};
        add({"control-init",
             "random-init model of the same architecture",
             fixed(init),
             init,
             {model},
             {},
             "control/model.safetensors",
             0.2,
             true});
        const auto embed_c =
            embed_command(out + "/control/model.safetensors", out + "/control/acts");
        // The shipped model's windows, not the random model's (it records no trained context).
        add({"control-embed",
             "control activations",
             fixed(embed_c),
             embed_c,
             {fasta},
             {"control-init"},
             "control/acts",
             embed_weight * 60,
             true});
        std::vector<std::string> train_c = {
            "sae", "train", "--acts", out + "/control/acts/" + layer};
        train_c.insert(train_c.end(), train_args.begin(), train_args.end());
        train_c.insert(train_c.end(), {"-o", out + "/control/sae", "--force"});
        add({"control-sae-train",
             "control SAE",
             fixed(train_c),
             train_c,
             {},
             {"control-embed"},
             "control/sae",
             static_cast<double>(tokens) / 1e6 * 18,
             true});
        std::vector<std::string> enc_c = {"sae",
                                          "encode",
                                          "--sae",
                                          out + "/control/sae",
                                          "--acts",
                                          out + "/control/acts/" + layer,
                                          "-o",
                                          out + "/control/features",
                                          "--force"};
        add({"control-encode",
             "control feature store",
             fixed(enc_c),
             enc_c,
             {},
             {"control-embed", "control-sae-train"},
             "control/features",
             static_cast<double>(positions) / 1e6 * 10,
             true});
    }
    {
        std::vector<std::string> cmd = {"align",
                                        "--features",
                                        out + "/features",
                                        "--neurons",
                                        acts,
                                        "-a",
                                        annotations,
                                        "-f",
                                        fasta,
                                        "--shifts",
                                        std::to_string(options.shifts),
                                        "-o",
                                        out + "/align",
                                        "--force"};
        std::vector<std::string> after = {"embed", "encode"};
        if (control) {
            cmd.insert(cmd.end(), {"--control-features", out + "/control/features"});
            after.push_back("control-encode");
        }
        if (options.sae.empty()) {
            cmd.insert(cmd.end(), {"--labels-out", out + "/sae/labels.tsv"});
        }
        add({"align",
             "features vs concepts, baselines, chance bound",
             fixed(cmd),
             cmd,
             {annotations, fasta},
             after,
             "align",
             static_cast<double>(positions) / 1e6 * (1 + options.shifts * 0.027),
             false});
    }
    // Motifs and tracks draw the same features, chosen from align's tables when the step starts:
    // the best feature of every concept that clears chance, then the best test scores.
    const int n_top = options.top_features;
    const std::string top = "<top " + std::to_string(n_top) + ">";
    const auto top_ids = [outdir, n_top] {
        return top_features(outdir / "align", n_top);
    };
    {
        const auto motifs_command = [=](const std::string& id) {
            return std::vector<std::string>{"motifs",
                                            "discover",
                                            "--features",
                                            out + "/features",
                                            "--feature",
                                            id,
                                            "-f",
                                            fasta,
                                            "--motifs",
                                            motif_db,
                                            "-o",
                                            out + "/motifs/f" + id,
                                            "--force"};
        };
        add({"motifs",
             fmt::format("motif discovery for the top {} features", n_top),
             [=] {
                 std::vector<std::vector<std::string>> cmds;
                 for (const auto id : top_ids()) {
                     cmds.push_back(motifs_command(std::to_string(id)));
                 }
                 return cmds;
             },
             motifs_command(top),
             {motif_db},
             {"align"},
             "motifs",
             static_cast<double>(n_top) * 0.035,
             false});
    }

    {
        // Genome-browser tracks of the same features, labelled and coloured by align's table.
        const auto tracks_command = [=](const std::string& ids) {
            return std::vector<std::string>{"tracks",
                                            "--features",
                                            out + "/features",
                                            "-f",
                                            fasta,
                                            "--align",
                                            out + "/align",
                                            "--feature-ids",
                                            ids,
                                            "-a",
                                            annotations,
                                            "-o",
                                            out + "/tracks",
                                            "--force"};
        };
        add({"tracks",
             "bigWig/BED tracks, deepTools matrices, IGV/UCSC/igv.js configs",
             [=] {
                 std::string ids;
                 for (const auto id : top_ids()) {
                     ids += (ids.empty() ? "" : ",") + std::to_string(id);
                 }
                 return std::vector<std::vector<std::string>>{tracks_command(ids)};
             },
             tracks_command(top),
             {fasta, annotations},
             {"encode", "align"},
             "tracks",
             static_cast<double>(positions) / 1e6 * 1.0,
             false});
    }

    {
        // The offline HTML report of everything above (reads run.json, written just before).
        const std::vector<std::string> cmd = {"report",
                                              "--run",
                                              out,
                                              "-f",
                                              fasta,
                                              "-a",
                                              annotations,
                                              "-o",
                                              out + "/report",
                                              "--force"};
        add({"report",
             "offline HTML report",
             fixed(cmd),
             cmd,
             {fasta, annotations},
             {"encode", "align", "motifs", "tracks"},
             "report",
             static_cast<double>(positions) / 1e6 * 2.0,
             false});
    }

    plan.inputs = {{"fasta", fasta},
                   {"annotations", annotations},
                   {"model", model},
                   {"sae", options.sae},
                   {"motifs", motif_db}};
    plan.settings = {{"layer", layer},
                     {"window_bp", window},
                     {"stride_bp", stride},
                     {"genome_bp", genome_bp},
                     {"sae_tokens", tokens},
                     {"expansion", options.expansion},
                     {"k", options.k},
                     {"control", control},
                     {"shifts", options.shifts},
                     {"top_features", options.top_features},
                     {"device", options.device},
                     {"demo", demo}};

    // --- Keys.
    std::map<std::string, std::string> digests;
    std::map<std::string, std::string> keys;
    for (const auto& step : plan.steps) {
        json k = {{"step", step.name}, {"command", step.plan}, {"version", version_string()}};
        for (const auto& input : step.inputs) {
            if (input.find(kOutToken) == std::string::npos) {
                k["inputs"][input] = path_digest(input, digests);
            }
        }
        for (const auto& a : step.after) {
            k["after"][a] = keys.at(a);
        }
        keys[step.name] = md5_hex(k.dump());
    }

    // --- Run.
    const fs::path state = outdir / kStateDir / "steps";
    const fs::path logs = outdir / "logs";
    if (!options.dry_run) {
        create_output_dir(state);
        create_output_dir(logs);
    }
    const std::string out_text = outdir.string();
    MainJobResult result;
    result.outdir = outdir;
    result.run_json = outdir / "run.json";
    json run = {{"evoscope_version", version_string()},
                {"command", command_line()},
                {"started", now_iso8601()},
                {"inputs", json::object()},
                {"settings", plan.settings},
                {"steps", json::array()}};
    for (const auto& [role, path] : plan.inputs.items()) {
        const auto p = path.get<std::string>();
        run["inputs"][role] = {{"path", p}, {"md5", p.empty() ? "" : path_digest(p, digests)}};
    }
    double total_weight = 0;
    for (const auto& s : plan.steps) {
        total_weight += s.weight;
    }
    double done_weight = 0;
    double ran_weight = 0;
    double ran_seconds = 0;
    const auto n_steps = plan.steps.size();
    EVOSCOPE_LOG_INFO("{} -> {}: {} steps (layer {}, windows {} / stride {}, {} SAE tokens{})",
                      fasta,
                      out_text,
                      n_steps,
                      layer,
                      window,
                      stride,
                      tokens,
                      control ? ", random-init control" : "");
    for (std::size_t i = 0; i < n_steps; ++i) {
        const Step& step = plan.steps[i];
        const std::string key = keys.at(step.name);
        const fs::path record = state / (step.name + ".json");
        const fs::path output = outdir / step.output;
        bool reuse = false;
        if (!options.force && fs::exists(record) && fs::exists(output)) {
            try {
                std::ifstream in(record);
                reuse = json::parse(in).value("key", "") == key;
            } catch (const json::exception&) {
                reuse = false;
            }
        }
        MainJobStep done{step.name, "", 0, 0};
        json entry = {{"name", step.name}, {"key", key}, {"output", step.output}};
        if (options.dry_run) {
            done.status = reuse ? "would reuse" : "would run";
            fmt::print("{}\t{}\t{}\n", step.name, done.status, shell_join(step.plan));
            result.steps.push_back(done);
            continue;
        }
        if (reuse) {
            std::ifstream in(record);
            entry = json::parse(in);
            entry["status"] = "reused";
            done.status = "reused";
            done.wall_seconds = entry.value("wall_seconds", 0.0);
            done.peak_rss_bytes = entry.value("peak_rss_bytes", std::int64_t{0});
            EVOSCOPE_LOG_INFO(
                "step {}/{} {}: reused (same inputs and command as the finished "
                "run recorded in {})",
                i + 1,
                n_steps,
                step.name,
                record.string());
            done_weight += step.weight;
            run["steps"].push_back(entry);
            result.steps.push_back(done);
            continue;
        }
        // Commands of this step, with {OUT} replaced.
        std::vector<std::vector<std::string>> commands;
        for (auto cmd : step.commands()) {
            for (auto& a : cmd) {
                a = substitute(a, out_text);
            }
            commands.push_back(std::move(cmd));
        }
        if (step.name == "report") {
            // The report shows the run's provenance: what has run so far.
            json partial = run;
            partial["wall_seconds"] = clock.wall_seconds();
            write_file_atomic(result.run_json, partial.dump(2) + "\n");
        }
        if (step.name == "control-init") {
            // The model's own config, for a random model of the same architecture.
            create_output_dir(outdir / "control");
            write_file_atomic(outdir / "control" / "config.yml", info.config_yaml);
        }
        // A step starts from a clean output (a partial one from an interrupted run goes).
        std::error_code ec;
        fs::remove_all(output, ec);
        fs::remove(record, ec);
        std::string eta;
        if (ran_weight > 0) {
            const double rate = ran_seconds / ran_weight;
            eta = fmt::format("; run ETA ~{}", human_seconds(rate * (total_weight - done_weight)));
        }
        EVOSCOPE_LOG_INFO("step {}/{} {}: {} (elapsed {}{})",
                          i + 1,
                          n_steps,
                          step.name,
                          step.what,
                          human_seconds(clock.wall_seconds()),
                          eta);
        ChildResult total;
        total.exit_code = 0;
        json cmds = json::array();
        const fs::path log_path = logs / (step.name + ".log");
        for (std::size_t c = 0; c < commands.size(); ++c) {
            std::vector<std::string> argv = {exe};
            argv.insert(argv.end(), commands[c].begin(), commands[c].end());
            if (options.threads > 0) {
                argv.insert(argv.end(), {"--threads", std::to_string(options.threads)});
            }
            if (step.torch && options.device != "cpu" && commands[c][1] != "init") {
                argv.insert(argv.end(), {"--device", options.device});
            }
            cmds.push_back(shell_join(argv));
            EVOSCOPE_LOG_DEBUG("{}", shell_join(argv));
            ChildOptions child;
            child.log_path =
                commands.size() == 1 ? log_path : logs / fmt::format("{}.{}.log", step.name, c + 1);
            const ChildResult r = run_child(argv, child);
            total.wall_seconds += r.wall_seconds;
            total.cpu_seconds += r.cpu_seconds;
            total.peak_rss_bytes = std::max(total.peak_rss_bytes, r.peak_rss_bytes);
            if (r.exit_code != 0) {
                throw InputError(fmt::format(
                    "step {} failed (exit {}){}; its log: {}; finished steps are kept, so "
                    "running the same command again resumes here",
                    step.name,
                    r.exit_code,
                    r.last_error_line.empty() ? "" : ": " + r.last_error_line,
                    child.log_path.string()));
            }
        }
        if (step.name == "motifs") {
            create_output_dir(output);
        }
        entry["status"] = "ran";
        entry["commands"] = cmds;
        entry["wall_seconds"] = total.wall_seconds;
        entry["cpu_seconds"] = total.cpu_seconds;
        entry["peak_rss_bytes"] = total.peak_rss_bytes;
        entry["finished"] = now_iso8601();
        write_file_atomic(record, entry.dump(2) + "\n");
        done.status = "ran";
        done.wall_seconds = total.wall_seconds;
        done.peak_rss_bytes = total.peak_rss_bytes;
        done_weight += step.weight;
        ran_weight += step.weight;
        ran_seconds += total.wall_seconds;
        EVOSCOPE_LOG_INFO("step {}/{} {}: done in {}, peak {:.2f} GB",
                          i + 1,
                          n_steps,
                          step.name,
                          human_seconds(total.wall_seconds),
                          static_cast<double>(total.peak_rss_bytes) / 1e9);
        run["steps"].push_back(entry);
        result.steps.push_back(done);
    }
    if (options.dry_run) {
        return result;
    }
    run["finished"] = now_iso8601();
    run["wall_seconds"] = clock.wall_seconds();
    write_file_atomic(result.run_json, run.dump(2) + "\n");

    // Closing summary: one line per step.
    EVOSCOPE_LOG_INFO("{:<18} {:<7} {:>12} {:>11}", "step", "status", "wall time", "peak memory");
    double peak = 0;
    for (const auto& s : result.steps) {
        EVOSCOPE_LOG_INFO("{:<18} {:<7} {:>12} {:>8.2f} GB",
                          s.name,
                          s.status,
                          human_seconds(s.wall_seconds),
                          static_cast<double>(s.peak_rss_bytes) / 1e9);
        peak = std::max(peak, static_cast<double>(s.peak_rss_bytes) / 1e9);
    }
    const fs::path report = outdir / "report" / "index.html";
    if (fs::exists(report)) {
        result.report = report;
    }
    EVOSCOPE_LOG_INFO("done in {} (peak {:.2f} GB in one step); results in {}/{}",
                      human_seconds(clock.wall_seconds()),
                      peak,
                      out_text,
                      result.report.empty()
                          ? std::string(" (align/concepts.tsv: the concept table)")
                          : std::string("; open report/index.html"));
    return result;
}

}  // namespace evoscope::pipelines
