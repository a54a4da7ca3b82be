#include "pipelines/report.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "annotate/feature_peaks.hpp"
#include "annotate/feature_summary.hpp"
#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "core/run_info.hpp"
#include "core/strings.hpp"
#include "genomics/annotation.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/motifs.hpp"
#include "genomics/regions.hpp"
#include "genomics/sequence.hpp"
#include "pipelines/report_assets.hpp"
#include "store/feature_store.hpp"

namespace evoscope::pipelines {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    EVOSCOPE_CHECK_IO(in.good(), "cannot read {}", path.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// A TSV file with a header line: columns and rows of strings (empty and '#' lines skipped).
struct Table {
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;

    int column(std::string_view name) const {
        for (std::size_t i = 0; i < columns.size(); ++i) {
            if (columns[i] == name) {
                return static_cast<int>(i);
            }
        }
        return -1;
    }
};

Table read_table(const fs::path& path) {
    const std::string text = read_text(path);
    Table t;
    std::size_t line_no = 0;
    for (auto line : split(text, '\n')) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.empty() || line.front() == '#') {
            continue;
        }
        std::vector<std::string> fields;
        for (auto f : split(line, '\t')) {
            fields.emplace_back(f);
        }
        if (t.columns.empty()) {
            t.columns = std::move(fields);
            continue;
        }
        EVOSCOPE_CHECK_FORMAT(fields.size() == t.columns.size(),
                              "{}:{}: {} fields, the header has {}",
                              path.string(),
                              line_no,
                              fields.size(),
                              t.columns.size());
        t.rows.push_back(std::move(fields));
    }
    EVOSCOPE_CHECK_FORMAT(!t.columns.empty(), "{}: empty (no header line)", path.string());
    return t;
}

/// A number when the text is one, null for NA/empty, else the text.
json cell(const std::string& text) {
    if (text.empty() || text == "NA" || text == "nan") {
        return nullptr;
    }
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end == text.c_str() + text.size() && std::isfinite(v)) {
        return v;
    }
    return text;
}

double number_or(const std::string& text, double fallback) {
    const json c = cell(text);
    return c.is_number() ? c.get<double>() : fallback;
}

/// "f/123" (align's name of a store feature) or "123" -> 123.
std::optional<std::uint32_t> feature_id(std::string_view name) {
    if (starts_with(name, "f/")) {
        name.remove_prefix(2);
    }
    if (name.empty() || name.size() > 9) {
        return std::nullopt;
    }
    std::uint32_t v = 0;
    for (const char c : name) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        v = v * 10 + static_cast<std::uint32_t>(c - '0');
    }
    return v;
}

json read_json_file(const fs::path& path) {
    const std::string text = read_text(path);
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        throw FormatError(fmt::format("{}: not JSON ({})", path.string(), e.what()));
    }
}

std::string base64(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const auto n = (static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16U) |
                       (static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8U) |
                       static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 2]));
        out += kAlphabet[(n >> 18U) & 63U];
        out += kAlphabet[(n >> 12U) & 63U];
        out += kAlphabet[(n >> 6U) & 63U];
        out += kAlphabet[n & 63U];
    }
    if (i < bytes.size()) {
        unsigned n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16U;
        if (i + 1 < bytes.size()) {
            n |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8U;
        }
        out += kAlphabet[(n >> 18U) & 63U];
        out += kAlphabet[(n >> 12U) & 63U];
        out += i + 1 < bytes.size() ? kAlphabet[(n >> 6U) & 63U] : '=';
        out += '=';
    }
    return out;
}

/// A float with 5 significant digits, as a JSON number (what the page shows and tests read).
json rounded(float v) {
    return std::stod(fmt::format("{:.5g}", v));
}

/// The value of `--name X`, `--name=X` or `-s X` in a command line as align records it.
std::string option_in_command(const std::string& command,
                              std::string_view long_name,
                              std::string_view short_name) {
    const auto words = split_whitespace(command);
    for (std::size_t i = 0; i < words.size(); ++i) {
        const auto w = words[i];
        if ((w == long_name || w == short_name) && i + 1 < words.size()) {
            std::string v(words[i + 1]);
            if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front()) {
                v = v.substr(1, v.size() - 2);
            }
            return v;
        }
        if (starts_with(w, std::string(long_name) + "=")) {
            return std::string(w.substr(long_name.size() + 1));
        }
    }
    return {};
}

/// The first of `candidates` that exists, or "".
std::string first_existing(const std::vector<fs::path>& candidates) {
    for (const auto& c : candidates) {
        std::error_code ec;
        if (!c.empty() && fs::is_regular_file(c, ec)) {
            return c.string();
        }
    }
    return {};
}

struct Inputs {
    fs::path run;
    fs::path align;
    fs::path features;
    fs::path sae;
    fs::path motifs;
    fs::path output;
    std::string fasta;
    std::string fasta_from;  ///< where the FASTA path came from, in words
    std::string annotations;
    std::string annotations_from;
};

Inputs resolve_inputs(const ReportOptions& o,
                      const json& run_json,
                      const json& align_summary,
                      std::vector<std::string>& notes) {
    Inputs in;
    in.run = o.run;
    const auto pick = [&](const std::string& explicit_path, const char* conventional) {
        if (!explicit_path.empty()) {
            return fs::path(explicit_path);
        }
        return o.run.empty() ? fs::path() : in.run / conventional;
    };
    in.align = pick(o.align, "align");
    in.features = pick(o.features, "features");
    in.sae = pick(o.sae, "sae");
    in.motifs = pick(o.motifs_dir, "motifs");
    in.output = pick(o.output, "report");
    EVOSCOPE_CHECK_USAGE(!in.align.empty() && !in.features.empty() && !in.output.empty(),
                         "give --run DIR, or --align, --features and -o");
    // FASTA and annotation: explicit, else the run's record (run.json), else align's command.
    const auto from_run = [&](const char* key) -> std::string {
        const auto lookup = [&](const json& obj) -> std::string {
            if (!obj.is_object() || !obj.contains(key)) {
                return {};
            }
            const json& v = obj[key];
            if (v.is_string()) {
                return v.get<std::string>();
            }
            if (v.is_object() && v.contains("path") && v["path"].is_string()) {
                return v["path"].get<std::string>();
            }
            return {};
        };
        if (auto p = lookup(run_json); !p.empty()) {
            return p;
        }
        return run_json.contains("inputs") ? lookup(run_json["inputs"]) : std::string();
    };
    const std::string command =
        align_summary.contains("command") && align_summary["command"].is_string()
            ? align_summary["command"].get<std::string>()
            : std::string();
    const auto locate = [&](const std::string& path) -> std::string {
        if (path.empty()) {
            return {};
        }
        const fs::path p(path);
        if (p.is_absolute()) {
            return first_existing({p});
        }
        return first_existing({p, in.run / p, in.align.parent_path() / p});
    };
    const auto resolve = [&](const std::string& explicit_path,
                             const char* key,
                             std::string_view long_name,
                             std::string_view short_name,
                             std::string& from) -> std::string {
        if (!explicit_path.empty()) {
            from = "given";
            return explicit_path;
        }
        if (auto p = locate(from_run(key)); !p.empty()) {
            from = "run.json";
            return p;
        }
        if (auto p = locate(option_in_command(command, long_name, short_name)); !p.empty()) {
            from = "the align command";
            return p;
        }
        return {};
    };
    in.fasta = resolve(o.fasta, "fasta", "--fasta", "-f", in.fasta_from);
    in.annotations =
        resolve(o.annotations, "annotations", "--annotations", "-a", in.annotations_from);
    if (in.fasta.empty()) {
        notes.push_back(
            "No reference FASTA (give --fasta): examples show activations without bases and the "
            "browser has no sequence track.");
    }
    if (in.annotations.empty()) {
        notes.push_back("No annotation (give --annotations): the browser has no annotation track.");
    }
    return in;
}

/// Page features: the best features of concepts (those that clear chance first, by test
/// score), then features with a motif folder, then the other labelled features by test score.
struct FeatureChoice {
    std::vector<std::uint32_t> pages;
    std::vector<std::uint32_t> browser;
    int n_dropped = 0;
};

double concept_test_score(const Table& concepts, const std::vector<std::string>& row) {
    const int score = concepts.column("score");
    const bool domain = score >= 0 && row[static_cast<std::size_t>(score)] == "domain_f1";
    const int col = concepts.column(domain ? "test_domain_f1" : "test_f1");
    return col >= 0 ? number_or(row[static_cast<std::size_t>(col)], 0.0) : 0.0;
}

bool column_is(const Table& t,
               const std::vector<std::string>& row,
               std::string_view column,
               std::string_view value) {
    const int c = t.column(column);
    return c >= 0 && row[static_cast<std::size_t>(c)] == value;
}

FeatureChoice choose_features(const ReportOptions& o,
                              const Table& concepts,
                              const Table& features,
                              const std::set<std::uint32_t>& with_motif,
                              std::int64_t d_sae) {
    std::vector<std::pair<double, std::uint32_t>> cleared;
    std::vector<std::pair<double, std::uint32_t>> others;
    const int best_col = concepts.column("best_feature");
    for (const auto& row : concepts.rows) {
        if (best_col < 0) {
            break;
        }
        const auto id = feature_id(row[static_cast<std::size_t>(best_col)]);
        if (!id || *id >= d_sae) {
            continue;
        }
        const double s = concept_test_score(concepts, row);
        (column_is(concepts, row, "clears_chance", "yes") ? cleared : others).emplace_back(s, *id);
    }
    const auto by_score = [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    };
    std::stable_sort(cleared.begin(), cleared.end(), by_score);
    std::stable_sort(others.begin(), others.end(), by_score);
    std::vector<std::uint32_t> order;
    std::set<std::uint32_t> seen;
    const auto add = [&](std::uint32_t id) {
        if (seen.insert(id).second) {
            order.push_back(id);
        }
    };
    for (const auto& [s, id] : cleared) {
        add(id);
    }
    const auto n_cleared_features = order.size();
    for (const auto& [s, id] : others) {
        add(id);
    }
    for (const auto id : with_motif) {
        if (id < d_sae) {
            add(id);
        }
    }
    std::vector<std::pair<double, std::uint32_t>> labelled;
    const int fcol = features.column("feature");
    const int tcol = features.column("test_score");
    const int lcol = features.column("label");
    for (const auto& row : features.rows) {
        if (fcol < 0 || tcol < 0 || lcol < 0 || row[static_cast<std::size_t>(lcol)] == "-") {
            continue;
        }
        if (const auto id = feature_id(row[static_cast<std::size_t>(fcol)]); id && *id < d_sae) {
            labelled.emplace_back(number_or(row[static_cast<std::size_t>(tcol)], 0.0), *id);
        }
    }
    std::stable_sort(labelled.begin(), labelled.end(), by_score);
    for (const auto& [s, id] : labelled) {
        add(id);
    }
    FeatureChoice choice;
    const auto n_pages =
        std::min<std::size_t>(order.size(), static_cast<std::size_t>(std::max(0, o.max_features)));
    choice.n_dropped = static_cast<int>(order.size() - n_pages);
    choice.pages.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_pages));
    (void)n_cleared_features;
    const auto n_browser = std::min<std::size_t>(
        choice.pages.size(), static_cast<std::size_t>(std::max(0, o.browser_features)));
    choice.browser.assign(choice.pages.begin(),
                          choice.pages.begin() + static_cast<std::ptrdiff_t>(n_browser));
    return choice;
}

json table_json(const Table& t) {
    json rows = json::array();
    for (const auto& row : t.rows) {
        json r = json::array();
        for (const auto& c : row) {
            r.push_back(cell(c));
        }
        rows.push_back(std::move(r));
    }
    return {{"columns", t.columns}, {"rows", std::move(rows)}};
}

/// An SVG file's text without its XML declaration (to inline it into HTML).
std::string inline_svg(const fs::path& path) {
    std::string svg = read_text(path);
    if (const auto pos = svg.find("<svg"); pos != std::string::npos) {
        svg.erase(0, pos);
    }
    return svg;
}

json motif_json(const fs::path& dir) {
    json m = json::object();
    m["folder"] = dir.string();
    if (fs::exists(dir / "logo.svg")) {
        m["logo_svg"] = inline_svg(dir / "logo.svg");
    }
    if (fs::exists(dir / "motif.meme")) {
        try {
            const auto file = genomics::read_motifs(dir / "motif.meme");
            if (!file.motifs.empty()) {
                const auto& motif = file.motifs.front();
                m["id"] = motif.id;
                m["width"] = motif.width();
                m["consensus"] = genomics::consensus(motif.probabilities());
            }
        } catch (const Error& e) {
            m["meme_error"] = e.what();
        }
    }
    if (fs::exists(dir / "peaks.bed")) {
        const std::string bed = read_text(dir / "peaks.bed");
        m["n_peaks"] = std::count(bed.begin(), bed.end(), '\n');
    }
    if (fs::exists(dir / "tomtom.tsv")) {
        const Table t = read_table(dir / "tomtom.tsv");
        json matches = json::array();
        for (std::size_t i = 0; i < t.rows.size() && i < 5; ++i) {
            json row = json::object();
            for (std::size_t c = 0; c < t.columns.size(); ++c) {
                row[t.columns[c]] = cell(t.rows[i][c]);
            }
            matches.push_back(std::move(row));
        }
        m["matches"] = std::move(matches);
        m["n_matches"] = t.rows.size();
    }
    return m;
}

json sae_json(const fs::path& dir, std::vector<std::string>& notes) {
    json sae = json::object();
    if (dir.empty() || !fs::is_directory(dir)) {
        notes.push_back(fmt::format("No SAE folder ({}): no training figures.",
                                    dir.empty() ? "give --sae" : dir.string()));
        return sae;
    }
    sae["folder"] = dir.string();
    if (fs::exists(dir / "cfg.json")) {
        sae["cfg"] = read_json_file(dir / "cfg.json");
    } else {
        notes.push_back(fmt::format("{} has no cfg.json.", dir.string()));
    }
    if (fs::exists(dir / "train_log.tsv")) {
        const Table t = read_table(dir / "train_log.tsv");
        // At most ~400 rows: every evaluation row and evenly spaced training rows.
        const std::size_t stride = std::max<std::size_t>(1, t.rows.size() / 300);
        const int eval_col = t.column("eval_explained_variance");
        json rows = json::array();
        for (std::size_t i = 0; i < t.rows.size(); ++i) {
            const bool eval =
                eval_col >= 0 && t.rows[i][static_cast<std::size_t>(eval_col)] != "NA";
            if (eval || i % stride == 0 || i + 1 == t.rows.size()) {
                json r = json::array();
                for (const auto& c : t.rows[i]) {
                    r.push_back(cell(c));
                }
                rows.push_back(std::move(r));
            }
        }
        sae["log"] = {{"columns", t.columns}, {"rows", std::move(rows)}, {"n_rows", t.rows.size()}};
    } else {
        notes.push_back(fmt::format("{} has no train_log.tsv: no training curves.", dir.string()));
    }
    if (fs::exists(dir / "curves.svg")) {
        sae["curves_svg"] = inline_svg(dir / "curves.svg");
    }
    if (fs::exists(dir / "labels.tsv")) {
        sae["labels"] = true;
    }
    return sae;
}

json store_json(const sae::FeatureStore& store, const fs::path& path) {
    const auto& h = store.header();
    json s = {{"path", path.string()},
              {"d_sae", h.d_sae},
              {"sae_path", h.sae_path},
              {"sae_hash", h.sae_hash},
              {"model_path", h.model_path},
              {"model_hash", h.model_hash},
              {"site", h.site},
              {"window_bp", h.window_bp},
              {"stride_bp", h.stride_bp},
              {"stitching", h.stitching},
              {"drop_first", h.drop_first},
              {"n_positions", store.n_positions()},
              {"n_nonzero", store.n_nonzero()}};
    json contigs = json::array();
    for (const auto& c : store.contigs()) {
        contigs.push_back({{"name", c.name}, {"length", c.length}});
    }
    s["contigs"] = std::move(contigs);
    try {
        s["provenance"] = json::parse(h.provenance_json);
    } catch (const json::exception&) {
        s["provenance"] = h.provenance_json;
    }
    return s;
}

/// The browser's annotation: one igv.js feature per record, in input order, at most `limit`.
/// Exons, introns, UTRs and codons are shown as the parts of their CDS or transcript, and a
/// record with shown children (a gene with its CDS) is left to them, so that a gene model is one
/// row; a record without a name takes its parent's.
json annotation_features(const genomics::Annotation& annotation,
                         std::int64_t limit,
                         std::vector<std::string>& notes) {
    static const std::set<std::string, std::less<>> kSkip = {"region",
                                                             "source",
                                                             "chromosome",
                                                             "exon",
                                                             "intron",
                                                             "five_prime_UTR",
                                                             "three_prime_UTR",
                                                             "start_codon",
                                                             "stop_codon"};
    const auto shown = [&](std::size_t i) {
        const auto& f = annotation.features[i];
        return kSkip.count(f.type) == 0 && !f.parts.empty();
    };
    // Its own name or /gene, else the nearest ancestor's (up to a few levels), else its ID.
    const auto name_of = [&](const genomics::AnnotationFeature& feature) -> std::string {
        const genomics::AnnotationFeature* f = &feature;
        for (int depth = 0; depth < 4 && f != nullptr; ++depth) {
            if (!f->name.empty()) {
                return f->name;
            }
            if (const auto* gene = f->attribute("gene"); gene != nullptr) {
                return *gene;
            }
            const auto parent =
                f->parents.empty() ? std::nullopt : annotation.find(f->parents.front());
            f = parent ? &annotation.features[*parent] : nullptr;
        }
        return !feature.id.empty() ? feature.id : feature.type;
    };
    json out = json::array();
    std::int64_t n_left = 0;
    for (std::size_t i = 0; i < annotation.features.size(); ++i) {
        if (!shown(i)) {
            continue;
        }
        const auto children = annotation.children(i);
        if (std::any_of(children.begin(), children.end(), shown)) {
            continue;
        }
        if (static_cast<std::int64_t>(out.size()) >= limit) {
            ++n_left;
            continue;
        }
        const auto& f = annotation.features[i];
        json j = {{"chr", f.contig},
                  {"start", f.begin()},
                  {"end", f.end()},
                  {"type", f.type},
                  {"name", name_of(f)}};
        if (f.strand == genomics::Strand::Forward) {
            j["strand"] = "+";
        } else if (f.strand == genomics::Strand::Reverse) {
            j["strand"] = "-";
        }
        if (f.parts.size() > 1) {
            json exons = json::array();
            for (const auto& p : f.parts) {
                exons.push_back({{"start", p.begin}, {"end", p.end}});
            }
            j["exons"] = std::move(exons);
        }
        out.push_back(std::move(j));
    }
    if (n_left > 0) {
        notes.push_back(fmt::format(
            "The browser's annotation track holds the first {} gene models; {} more were left out "
            "(--max-annotation-features).",
            limit,
            n_left));
    }
    return out;
}

std::string utc_now() {
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

ReportResult run_report(const ReportOptions& options) {
    EVOSCOPE_CHECK_USAGE(options.max_features >= 0, "--max-features must be >= 0");
    EVOSCOPE_CHECK_USAGE(options.browser_features >= 0, "--browser-features must be >= 0");
    EVOSCOPE_CHECK_USAGE(options.track_runs >= 1, "--track-runs must be >= 1");
    EVOSCOPE_CHECK_USAGE(options.examples >= 0, "--examples must be >= 0");
    EVOSCOPE_CHECK_USAGE(options.flank_bp >= 0 && options.flank_bp <= 1000,
                         "--flank must be in [0, 1000]");
    EVOSCOPE_CHECK_USAGE(options.histogram_bins >= 1 && options.histogram_bins <= 1000,
                         "--histogram-bins must be in [1, 1000]");
    const auto start = std::chrono::steady_clock::now();
    ReportResult result;
    auto& notes = result.notes;

    // run.json and align/summary.json first: they may name the FASTA and the annotation.
    json run_json = json::object();
    if (!options.run.empty()) {
        EVOSCOPE_CHECK(fs::is_directory(options.run), "run folder {} does not exist", options.run);
        const fs::path rj = fs::path(options.run) / "run.json";
        if (fs::exists(rj)) {
            run_json = read_json_file(rj);
        } else {
            notes.push_back(
                fmt::format("No run.json in {}: the provenance below is what each "
                            "input records about itself.",
                            options.run));
        }
    } else {
        notes.push_back("No run folder (--run): no run.json provenance.");
    }
    const fs::path align_dir =
        !options.align.empty() ? fs::path(options.align) : fs::path(options.run) / "align";
    EVOSCOPE_CHECK(fs::exists(align_dir / "concepts.tsv") && fs::exists(align_dir / "features.tsv"),
                   "align results not found: {} needs concepts.tsv and features.tsv (run evoscope "
                   "align, or give --align)",
                   align_dir.string());
    json align_summary = json::object();
    if (fs::exists(align_dir / "summary.json")) {
        align_summary = read_json_file(align_dir / "summary.json");
    } else {
        notes.push_back(fmt::format("{} has no summary.json.", align_dir.string()));
    }
    const Inputs in = resolve_inputs(options, run_json, align_summary, notes);
    EVOSCOPE_CHECK(fs::exists(in.features / "manifest.json"),
                   "feature store not found: {} (run evoscope sae encode, or give --features)",
                   in.features.string());
    EVOSCOPE_CHECK(options.force || !fs::exists(in.output),
                   "{} exists (use --force to replace it)",
                   in.output.string());

    const sae::FeatureStore store(in.features);
    const Table concepts = read_table(in.align / "concepts.tsv");
    const Table features = read_table(in.align / "features.tsv");
    std::optional<genomics::FastaReader> fasta;
    if (!in.fasta.empty()) {
        fasta.emplace(in.fasta);
        for (const auto& c : store.contigs()) {
            const auto len = fasta->contig_length(c.name);
            EVOSCOPE_CHECK(len.has_value() && *len == c.length,
                           "contig '{}' ({} bp) of the feature store is not in {} with that length",
                           c.name,
                           c.length,
                           in.fasta);
        }
    }

    // Motif folders: motifs/f<ID>/.
    std::set<std::uint32_t> with_motif;
    if (!in.motifs.empty() && fs::is_directory(in.motifs)) {
        for (const auto& entry : fs::directory_iterator(in.motifs)) {
            const auto name = entry.path().filename().string();
            if (entry.is_directory() && name.size() > 1 && name[0] == 'f') {
                if (const auto id = feature_id(std::string_view(name).substr(1)); id) {
                    with_motif.insert(*id);
                }
            }
        }
    }
    if (with_motif.empty()) {
        notes.push_back(
            fmt::format("No motifs ({} has no f<ID>/ folders from evoscope motifs discover): "
                        "feature views have no logos.",
                        in.motifs.empty() ? "no --motifs-dir" : in.motifs.string()));
    }

    const auto choice = choose_features(options, concepts, features, with_motif, store.d_sae());
    if (choice.n_dropped > 0) {
        notes.push_back(
            fmt::format("{} more features (best features of concepts, features with "
                        "motifs, labelled features) have no view (--max-features {}).",
                        choice.n_dropped,
                        options.max_features));
    }
    EVOSCOPE_LOG_INFO("report: {} feature views, {} browser features; reading the store",
                      choice.pages.size(),
                      choice.browser.size());

    // Per-feature facts: the features.tsv row, the concepts it is best for, histogram, examples.
    std::map<std::uint32_t, json> rows_by_feature;
    if (const int fcol = features.column("feature"); fcol >= 0) {
        for (const auto& row : features.rows) {
            if (const auto id = feature_id(row[static_cast<std::size_t>(fcol)]); id) {
                json r = json::object();
                for (std::size_t c = 0; c < features.columns.size(); ++c) {
                    r[features.columns[c]] = cell(row[c]);
                }
                rows_by_feature[*id] = std::move(r);
            }
        }
    }
    std::map<std::uint32_t, std::vector<std::string>> best_for;
    json concept_rows = table_json(concepts);
    {
        // Derived columns: the feature id behind best_feature, the test score (domain F1 or F1
        // as the score column says) and whether the concept is identified under align's rule.
        const int best_col = concepts.column("best_feature");
        const int name_col = concepts.column("concept");
        concept_rows["derived_columns"] = {"feature_id", "test_score", "identified"};
        json derived = json::array();
        int n_identified = 0;
        for (const auto& row : concepts.rows) {
            std::optional<std::uint32_t> id;
            if (best_col >= 0) {
                id = feature_id(row[static_cast<std::size_t>(best_col)]);
            }
            const double test = concept_test_score(concepts, row);
            const int vcol = concepts.column("val_score");
            const int tcol = concepts.column("trivial_f1");
            const double val = vcol >= 0 ? number_or(row[static_cast<std::size_t>(vcol)], 0) : 0;
            const double trivial =
                tcol >= 0 ? number_or(row[static_cast<std::size_t>(tcol)], 0) : 0;
            const bool identified = id.has_value() && val > 0.5 && test > 0.5 &&
                                    column_is(concepts, row, "clears_chance", "yes") &&
                                    test > trivial;
            n_identified += identified ? 1 : 0;
            if (id && name_col >= 0) {
                best_for[*id].push_back(row[static_cast<std::size_t>(name_col)]);
            }
            derived.push_back({id ? json(*id) : json(nullptr), test, identified});
        }
        concept_rows["derived"] = std::move(derived);
        concept_rows["n_identified"] = n_identified;
    }

    const auto histograms =
        annotate::feature_histograms(store, choice.pages, options.histogram_bins);
    annotate::FeaturePeakOptions peak_options;
    // Examples are the strongest peaks; only values >= 0.2 of the maximum are candidates (all of
    // them would cost a map entry per active position of every feature with a view).
    peak_options.min_fraction = 0.2;
    peak_options.min_distance = 2 * options.flank_bp + 1;
    peak_options.max_peaks = options.examples;
    const auto peaks = options.examples > 0
                           ? annotate::feature_peaks(store, choice.pages, peak_options)
                           : std::vector<std::vector<annotate::FeaturePeak>>(choice.pages.size());
    json feature_views = json::object();
    for (std::size_t i = 0; i < choice.pages.size(); ++i) {
        const auto id = choice.pages[i];
        json v = json::object();
        v["id"] = id;
        v["name"] = fmt::format("f/{}", id);
        v["row"] = rows_by_feature.count(id) != 0 ? rows_by_feature[id] : json(nullptr);
        v["best_for"] = best_for.count(id) != 0 ? json(best_for[id]) : json::array();
        v["browser"] =
            std::find(choice.browser.begin(), choice.browser.end(), id) != choice.browser.end();
        const auto& h = histograms[i];
        v["histogram"] = {{"max", rounded(h.max_value)},
                          {"n_covered", h.n_covered},
                          {"n_active", h.n_active},
                          {"counts", h.counts}};
        json examples = json::array();
        for (const auto& p : peaks[i]) {
            const auto len = *std::find_if(store.contigs().begin(),
                                           store.contigs().end(),
                                           [&](const auto& c) { return c.name == p.contig; });
            const std::int64_t b = std::max<std::int64_t>(0, p.position - options.flank_bp);
            const std::int64_t e = std::min(len.length, p.position + options.flank_bp + 1);
            auto values = store.feature_track(id, p.contig, b, e, p.strand);
            std::string seq;
            if (fasta) {
                seq = fasta->fetch(p.contig, b, e);
                genomics::to_upper_in_place(seq);
            }
            if (p.strand == '-') {
                std::reverse(values.begin(), values.end());
                if (!seq.empty()) {
                    genomics::reverse_complement_in_place(seq);
                }
            }
            json vals = json::array();
            for (const float x : values) {
                vals.push_back(std::isnan(x) ? json(nullptr) : rounded(x));
            }
            examples.push_back({{"contig", p.contig},
                                {"position", p.position},
                                {"strand", std::string(1, p.strand)},
                                {"value", rounded(p.value)},
                                {"begin", b},
                                {"end", e},
                                {"sequence", seq},
                                {"values", std::move(vals)}});
        }
        v["examples"] = std::move(examples);
        if (with_motif.count(id) != 0) {
            v["motif"] = motif_json(in.motifs / fmt::format("f{}", id));
        }
        feature_views[std::to_string(id)] = std::move(v);
    }
    result.n_feature_views = static_cast<int>(choice.pages.size());

    // The browser: reference, annotation, feature tracks.
    const auto assets = report_assets();
    std::string igv_js;
    std::string igv_license;
    if (!options.igv_js.empty()) {
        igv_js = read_text(options.igv_js);
        const fs::path lic = fs::path(options.igv_js).parent_path().parent_path() / "LICENSE";
        if (fs::exists(lic)) {
            igv_license = read_text(lic);
        }
    } else if (const auto a = report_asset("igv.min.js"); a) {
        igv_js = std::string(*a);
        igv_license = std::string(report_asset("igv-LICENSE.txt").value_or(""));
    }
    result.browser = !igv_js.empty();
    json tracks = json::object();
    json browser_meta = json::object();
    browser_meta["available"] = result.browser;
    if (!result.browser) {
        notes.push_back(
            "No genome browser: this evoscope was built without igv.js (run scripts/setup.sh "
            "--deps and build again, or give --igv-js node_modules/igv/dist/igv.min.js).");
    } else {
        std::int64_t genome_bp = 0;
        json contig_names = json::array();
        for (const auto& c : store.contigs()) {
            genome_bp += c.length;
            contig_names.push_back(c.name);
        }
        tracks["contigs"] = contig_names;
        if (fasta && genome_bp <= options.max_sequence_bp) {
            std::string text;
            for (const auto& c : store.contigs()) {
                text += ">" + c.name + "\n";
                std::string seq = fasta->fetch(c.name, 0, c.length);
                for (std::size_t p = 0; p < seq.size(); p += 80) {
                    text.append(seq, p, 80);
                    text += '\n';
                }
            }
            tracks["reference"] = {{"format", "fasta"},
                                   {"url", "data:text/plain;base64," + base64(text)}};
        } else {
            std::string text;
            for (const auto& c : store.contigs()) {
                text += fmt::format("{}\t{}\n", c.name, c.length);
            }
            tracks["reference"] = {{"format", "chromsizes"},
                                   {"url", "data:text/plain;base64," + base64(text)}};
            if (fasta) {
                notes.push_back(
                    fmt::format("The genome ({} bp) is larger than --max-sequence-bp "
                                "{}: the browser shows no bases.",
                                genome_bp,
                                options.max_sequence_bp));
            }
        }
        if (!in.annotations.empty()) {
            std::vector<genomics::ContigInfo> infos;
            for (const auto& c : store.contigs()) {
                infos.push_back({c.name, c.length});
            }
            genomics::AnnotationOptions ao;
            ao.lenient = true;
            ao.skip_unknown_contigs = true;
            const auto annotation =
                genomics::read_annotation(in.annotations, genomics::ContigSet(infos), ao);
            tracks["annotation"] =
                annotation_features(annotation, options.max_annotation_features, notes);
            tracks["annotation_name"] = fs::path(in.annotations).filename().string();
        }
        const auto binned = annotate::binned_tracks(
            store, choice.browser, static_cast<std::size_t>(options.track_runs));
        json feature_tracks = json::array();
        for (const auto& t : binned) {
            json runs = json::array();
            for (std::size_t c = 0; c < t.runs.size(); ++c) {
                if (t.runs[c].empty()) {
                    continue;
                }
                // Compact: begins as deltas from the previous run's end, lengths, values.
                json starts = json::array();
                json lengths = json::array();
                json values = json::array();
                std::int64_t prev = 0;
                for (const auto& r : t.runs[c]) {
                    starts.push_back(r.begin - prev);
                    lengths.push_back(r.end - r.begin);
                    values.push_back(rounded(r.value));
                    prev = r.end;
                }
                runs.push_back({c, std::move(starts), std::move(lengths), std::move(values)});
            }
            std::string label;
            if (rows_by_feature.count(t.feature) != 0) {
                const auto& r = rows_by_feature[t.feature];
                if (r.contains("label") && r["label"].is_string() && r["label"] != "-") {
                    label = r["label"].get<std::string>();
                }
            }
            feature_tracks.push_back({{"feature", t.feature},
                                      {"strand", std::string(1, t.strand)},
                                      {"bin_bp", t.bin_bp},
                                      {"over_budget", t.over_budget},
                                      {"label", label},
                                      {"n_runs", t.n_runs()},
                                      {"runs", std::move(runs)}});
            if (t.bin_bp > 1) {
                EVOSCOPE_LOG_INFO("report: feature {} ({}) in {}-bp bins ({} runs)",
                                  t.feature,
                                  t.strand,
                                  t.bin_bp,
                                  t.n_runs());
            }
        }
        result.n_browser_tracks = static_cast<int>(binned.size());
        tracks["features"] = std::move(feature_tracks);
        // First view: the top peak of the first browser feature, +-100 bp.
        if (!choice.browser.empty() && !peaks.empty() && !peaks.front().empty()) {
            const auto& p = peaks.front().front();
            browser_meta["locus"] = fmt::format(
                "{}:{}-{}", p.contig, std::max<std::int64_t>(1, p.position - 99), p.position + 101);
        } else if (!store.contigs().empty()) {
            browser_meta["locus"] = store.contigs().front().name;
        }
    }

    // data.js: everything but the browser's data.
    json data = json::object();
    data["title"] = in.run.empty() ? std::string("evoscope report")
                                   : fmt::format("evoscope report: {}",
                                                 fs::absolute(in.run).filename().string());
    data["notes"] = notes;
    data["align"] = {{"folder", in.align.string()}, {"summary", align_summary}};
    data["concepts"] = std::move(concept_rows);
    data["features_columns"] = features.columns;
    data["feature_order"] = choice.pages;
    data["features"] = std::move(feature_views);
    data["browser"] = std::move(browser_meta);
    data["sae"] = sae_json(in.sae, notes);
    data["notes"] = notes;  // again: sae_json may have added some
    data["provenance"] = {{"run", run_json},
                          {"store", store_json(store, in.features)},
                          {"inputs",
                           {{"run", in.run.string()},
                            {"align", in.align.string()},
                            {"features", in.features.string()},
                            {"sae", in.sae.string()},
                            {"motifs", in.motifs.string()},
                            {"fasta", in.fasta},
                            {"fasta_from", in.fasta_from},
                            {"annotations", in.annotations},
                            {"annotations_from", in.annotations_from}}},
                          {"report",
                           {{"version", version_string()},
                            {"command", command_line()},
                            {"created", utc_now()},
                            {"options",
                             {{"max_features", options.max_features},
                              {"browser_features", options.browser_features},
                              {"track_runs", options.track_runs},
                              {"max_sequence_bp", options.max_sequence_bp},
                              {"examples", options.examples},
                              {"flank_bp", options.flank_bp},
                              {"histogram_bins", options.histogram_bins}}}}}};

    // The folder, built beside the target and renamed into place.
    const fs::path tmp = temp_path_for(in.output);
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

    const auto put = [&](const std::string& name, std::string_view content) {
        write_file_atomic(tmp / name, content);
        result.files.push_back({name, static_cast<std::int64_t>(content.size())});
        result.total_bytes += static_cast<std::int64_t>(content.size());
    };
    std::string html(report_asset("report.html").value_or(""));
    EVOSCOPE_ASSERT_MSG(!html.empty(), "report.html is not built in");
    const std::string marker = "<!--IGV-->";
    if (const auto pos = html.find(marker); pos != std::string::npos) {
        html.replace(
            pos, marker.size(), result.browser ? "<script src=\"igv.min.js\"></script>" : "");
    }
    put("index.html", html);
    put("report.js", report_asset("report.js").value_or(""));
    put("report.css", report_asset("report.css").value_or(""));
    put("data.js", "window.EVOSCOPE_REPORT = " + data.dump() + ";\n");
    if (result.browser) {
        put("tracks.js", "window.EVOSCOPE_TRACKS = " + tracks.dump() + ";\n");
        put("igv.min.js", igv_js);
        if (!igv_license.empty()) {
            put("igv-LICENSE.txt", igv_license);
        }
    } else {
        put("tracks.js", "window.EVOSCOPE_TRACKS = null;\n");
    }
    commit_temp_dir(tmp, in.output);
    guard.keep = true;
    result.output = in.output.string();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string sizes;
    for (const auto& f : result.files) {
        sizes += fmt::format("{}{} {:.1f} kB",
                             sizes.empty() ? "" : ", ",
                             f.name,
                             static_cast<double>(f.size_bytes) / 1e3);
    }
    EVOSCOPE_LOG_INFO("report: {} ({:.2f} MB: {}); {} feature views, {} browser tracks; {:.1f} s",
                      (in.output / "index.html").string(),
                      static_cast<double>(result.total_bytes) / 1e6,
                      sizes,
                      result.n_feature_views,
                      result.n_browser_tracks,
                      seconds);
    for (const auto& n : notes) {
        EVOSCOPE_LOG_INFO("report: {}", n);
    }
    return result;
}

}  // namespace evoscope::pipelines
