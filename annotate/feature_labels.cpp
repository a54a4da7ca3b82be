#include "annotate/feature_labels.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/error.hpp"
#include "core/strings.hpp"

namespace evoscope::annotate {
namespace {

std::vector<std::string_view> split_tabs(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (true) {
        const std::size_t tab = line.find('\t', start);
        out.push_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
        if (tab == std::string_view::npos) {
            return out;
        }
        start = tab + 1;
    }
}

bool parse_u32(std::string_view text, std::uint32_t& out) {
    const auto* end = text.data() + text.size();
    const auto r = std::from_chars(text.data(), end, out);
    return !text.empty() && r.ec == std::errc{} && r.ptr == end;
}

/// "12", "f12", "f/12" -> 12.
bool parse_feature_name(std::string_view text, std::uint32_t& out) {
    if (text.starts_with("f/")) {
        text.remove_prefix(2);
    } else if (text.starts_with('f')) {
        text.remove_prefix(1);
    }
    return parse_u32(text, out);
}

double parse_score(std::string_view text, const std::string& where) {
    const std::string s(text);
    if (s == "NA" || s == "nan") {
        return 0.0;
    }
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    EVOSCOPE_CHECK_FORMAT(
        !s.empty() && end == s.c_str() + s.size(), "{}: '{}' is not a number", where, s);
    return v;
}

}  // namespace

std::vector<FeatureLabel> read_feature_labels(const std::filesystem::path& align_dir_or_file) {
    const std::filesystem::path path = std::filesystem::is_directory(align_dir_or_file)
                                           ? align_dir_or_file / "features.tsv"
                                           : align_dir_or_file;
    std::ifstream in(path);
    EVOSCOPE_CHECK_IO(in.good(),
                      "{}: cannot read ({}; an `evoscope align` output folder has it)",
                      path.string(),
                      std::strerror(errno));
    std::string line;
    std::size_t line_no = 0;
    std::map<std::string, std::size_t, std::less<>> column;
    const char* needed[] = {"feature", "label", "concept", "val_score", "test_score"};
    std::vector<FeatureLabel> out;
    while (std::getline(in, line)) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.empty()) {
            continue;
        }
        const auto f = split_tabs(line);
        if (column.empty()) {
            for (std::size_t i = 0; i < f.size(); ++i) {
                column.emplace(std::string(f[i]), i);
            }
            for (const char* name : needed) {
                EVOSCOPE_CHECK_FORMAT(column.count(name) == 1,
                                      "{}:{}: no '{}' column (is this align's features.tsv?)",
                                      path.string(),
                                      line_no,
                                      name);
            }
            continue;
        }
        const std::string where = fmt::format("{}:{}", path.string(), line_no);
        EVOSCOPE_CHECK_FORMAT(f.size() == column.size(),
                              "{}: {} columns, the header has {}",
                              where,
                              f.size(),
                              column.size());
        FeatureLabel label;
        EVOSCOPE_CHECK_FORMAT(parse_feature_name(f[column.at("feature")], label.id),
                              "{}: feature '{}' is not f/N",
                              where,
                              f[column.at("feature")]);
        label.label = std::string(f[column.at("label")]);
        label.concept_name = std::string(f[column.at("concept")]);
        label.val_score = parse_score(f[column.at("val_score")], where);
        label.test_score = parse_score(f[column.at("test_score")], where);
        out.push_back(std::move(label));
    }
    EVOSCOPE_CHECK_FORMAT(!column.empty(), "{}: empty file", path.string());
    return out;
}

std::vector<std::uint32_t> parse_feature_ids(std::string_view text) {
    std::vector<std::uint32_t> out;
    std::set<std::uint32_t> seen;
    auto push = [&](std::uint32_t id) {
        if (seen.insert(id).second) {
            out.push_back(id);
        }
    };
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = text.find(',', start);
        const std::string_view item =
            trim(text.substr(start, comma == std::string_view::npos ? comma : comma - start));
        start = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
        if (item.empty()) {
            continue;
        }
        const std::size_t dash = item.find('-');
        std::uint32_t a = 0;
        std::uint32_t b = 0;
        if (dash == std::string_view::npos) {
            EVOSCOPE_CHECK_USAGE(parse_feature_name(item, a),
                                 "feature id '{}' is not a number (give ids like 12,57,100-103)",
                                 item);
            push(a);
            continue;
        }
        EVOSCOPE_CHECK_USAGE(parse_feature_name(trim(item.substr(0, dash)), a) &&
                                 parse_feature_name(trim(item.substr(dash + 1)), b) && a <= b &&
                                 b - a < (1U << 24),
                             "feature range '{}' is not FIRST-LAST with FIRST <= LAST",
                             item);
        for (std::uint32_t id = a; id <= b; ++id) {
            push(id);
            if (id == b) {
                break;
            }
        }
    }
    EVOSCOPE_CHECK_USAGE(!out.empty(), "no feature ids in '{}'", text);
    return out;
}

std::vector<std::uint32_t> top_features_per_concept(const std::vector<FeatureLabel>& labels,
                                                    int n) {
    std::map<std::string, std::vector<const FeatureLabel*>> by_concept;  // std::string: C order
    for (const auto& l : labels) {
        if (l.labelled()) {
            by_concept[l.concept_name].push_back(&l);
        }
    }
    std::vector<std::uint32_t> out;
    for (auto& [name, group] : by_concept) {
        std::sort(group.begin(), group.end(), [](const FeatureLabel* a, const FeatureLabel* b) {
            return std::make_tuple(-a->test_score, -a->val_score, a->id) <
                   std::make_tuple(-b->test_score, -b->val_score, b->id);
        });
        for (std::size_t i = 0; i < group.size() && static_cast<int>(i) < n; ++i) {
            out.push_back(group[i]->id);
        }
    }
    return out;
}

std::array<int, 3> concept_color(std::string_view concept_name) {
    static const std::map<std::string_view, std::array<int, 3>> fixed = {
        {"gene", {31, 119, 180}},
        {"CDS", {44, 160, 44}},
        {"codon_pos_1", {0, 109, 44}},
        {"codon_pos_2", {65, 171, 93}},
        {"codon_pos_3", {161, 217, 155}},
        {"start_codon", {23, 190, 207}},
        {"stop_codon", {188, 189, 34}},
        {"exon", {255, 127, 14}},
        {"intron", {255, 187, 120}},
        {"five_prime_UTR", {174, 199, 232}},
        {"three_prime_UTR", {158, 218, 229}},
        {"splice_donor", {197, 176, 213}},
        {"splice_acceptor", {196, 156, 148}},
        {"RBS_window", {227, 119, 194}},
        {"promoter_proximal", {140, 86, 75}},
        {"tRNA", {214, 39, 40}},
        {"rRNA", {148, 103, 189}},
        {"tmRNA", {255, 152, 150}},
        {"ncRNA", {247, 182, 210}},
        {"repeat", {219, 219, 141}},
        {"intergenic", {82, 84, 163}},
        {"-", {160, 160, 160}},
    };
    // A label "CDS+motif:X" takes its concept's colour.
    const std::string_view base = concept_name.substr(0, concept_name.find('+'));
    if (const auto it = fixed.find(base); it != fixed.end()) {
        return it->second;
    }
    static constexpr std::array<std::array<int, 3>, 10> palette = {{{57, 59, 121},
                                                                    {99, 121, 57},
                                                                    {140, 109, 49},
                                                                    {132, 60, 57},
                                                                    {123, 65, 115},
                                                                    {107, 110, 207},
                                                                    {181, 207, 107},
                                                                    {231, 186, 82},
                                                                    {214, 97, 107},
                                                                    {206, 109, 189}}};
    // FNV-1a: the same name gets the same colour in every run and on every platform.
    std::uint32_t h = 2166136261U;
    for (const char c : base) {
        h = (h ^ static_cast<unsigned char>(c)) * 16777619U;
    }
    return palette[h % palette.size()];
}

}  // namespace evoscope::annotate
