#include "genomics/regions.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/strings.hpp"
#include "genomics/detail/hts_handles.hpp"

namespace evoscope::genomics {

// --- ContigAliases ----------------------------------------------------------------------------

ContigAliases ContigAliases::from_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw IoError(fmt::format(
            "cannot read contig alias file '{}': {}", path.string(), std::strerror(errno)));
    }
    ContigAliases out;
    std::string line;
    std::int64_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        const std::string_view text = trim(line);
        if (text.empty() || text.front() == '#')
            continue;
        const auto names = split_whitespace(text);
        EVOSCOPE_CHECK_FORMAT(names.size() >= 2,
                              "{}:{}: expected two contig names (e.g. 'chr1 1'), found '{}'",
                              path.string(),
                              line_no,
                              text);
        for (std::size_t i = 1; i < names.size(); ++i) {
            out.add(std::string(names[0]), std::string(names[i]));
        }
    }
    EVOSCOPE_CHECK_IO(!in.bad(), "cannot read contig alias file '{}'", path.string());
    return out;
}

void ContigAliases::add(std::string a, std::string b) {
    if (a == b)
        return;
    auto link = [this](const std::string& from, const std::string& to) {
        auto& v = links_[from];
        if (std::find(v.begin(), v.end(), to) == v.end())
            v.push_back(to);
    };
    link(a, b);
    link(b, a);
}

std::vector<std::string> ContigAliases::aliases_of(std::string_view name) const {
    // Breadth-first over the alias graph: direct aliases first, then aliases of aliases.
    std::vector<std::string> out;
    std::set<std::string, std::less<>> seen{std::string(name)};
    std::deque<std::string_view> queue{name};
    while (!queue.empty()) {
        const auto it = links_.find(queue.front());
        queue.pop_front();
        if (it == links_.end())
            continue;
        for (const auto& next : it->second) {
            if (seen.insert(next).second) {
                out.push_back(next);
                queue.push_back(next);
            }
        }
    }
    return out;
}

// --- ContigSet --------------------------------------------------------------------------------

ContigSet::ContigSet(std::vector<ContigInfo> contigs, ContigAliases aliases)
    : contigs_(std::move(contigs)), aliases_(std::move(aliases)) {
    for (std::size_t i = 0; i < contigs_.size(); ++i)
        index_.emplace(contigs_[i].name, i);
}

const ContigInfo* ContigSet::find(std::string_view name) const {
    if (const auto it = index_.find(name); it != index_.end())
        return &contigs_[it->second];
    if (aliases_.empty())
        return nullptr;
    for (const auto& alias : aliases_.aliases_of(name)) {
        if (const auto it = index_.find(alias); it != index_.end())
            return &contigs_[it->second];
    }
    return nullptr;
}

std::optional<std::string> ContigSet::resolve(std::string_view name) const {
    const ContigInfo* info = find(name);
    if (info == nullptr)
        return std::nullopt;
    return info->name;
}

const ContigInfo& ContigSet::require(std::string_view name, std::string_view context) const {
    if (const ContigInfo* info = find(name))
        return *info;
    std::vector<std::string> names;
    names.reserve(contigs_.size());
    for (const auto& c : contigs_)
        names.push_back(c.name);
    if (names.empty()) {
        throw InputError(
            fmt::format("unknown contig '{}'{}; the reference has no contigs", name, context));
    }
    throw InputError(fmt::format("unknown contig '{}'{}; closest names: {}",
                                 name,
                                 context,
                                 fmt::join(closest_names(name, names, 3), ", ")));
}

// --- region strings ---------------------------------------------------------------------------

namespace {

std::int64_t parse_position(std::string_view number,
                            std::string_view which,
                            std::string_view region) {
    try {
        return parse_int64_commas(number, which);
    } catch (const InputError&) {
        throw InputError(
            fmt::format("invalid region '{}': {} '{}' is not a number", region, which, number));
    }
}

}  // namespace

Interval parse_region(std::string_view text_in, const ContigSet& contigs) {
    const std::string_view text = trim(text_in);
    EVOSCOPE_CHECK(!text.empty(), "empty region");

    std::string_view name;
    std::optional<std::string_view> coords;
    if (text.front() == '{') {
        const std::size_t close = text.find('}');
        EVOSCOPE_CHECK(
            close != std::string_view::npos, "invalid region '{}': '{{' without '}}'", text);
        name = text.substr(1, close - 1);
        const std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            EVOSCOPE_CHECK(
                rest.front() == ':', "invalid region '{}': expected ':' after '}}'", text);
            coords = rest.substr(1);
        }
    } else if (contigs.resolve(text)) {
        name = text;  // htslib's rule: a whole-string contig match wins ("HLA-A*01:01")
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            name = text;
        } else {
            name = text.substr(0, colon);
            coords = text.substr(colon + 1);
        }
    }
    const ContigInfo& info =
        contigs.require(name, coords ? fmt::format(" in region '{}'", text) : std::string());
    if (!coords)
        return Interval{info.name, 0, info.length, Strand::Unknown};

    EVOSCOPE_CHECK(!coords->empty(), "invalid region '{}': no position after ':'", text);
    const std::size_t dash = coords->find('-');
    const std::int64_t begin_1b = parse_position(coords->substr(0, dash), "begin", text);
    std::int64_t end_1b = begin_1b;  // "ctg:pos" is a single base (bcftools convention)
    if (dash != std::string_view::npos) {
        const std::string_view end_text = coords->substr(dash + 1);
        end_1b = end_text.empty() ? info.length : parse_position(end_text, "end", text);
    }
    EVOSCOPE_CHECK(
        begin_1b >= 1, "invalid region '{}': begin must be >= 1 (positions are 1-based)", text);
    EVOSCOPE_CHECK(begin_1b <= end_1b,
                   "invalid region '{}': begin {} is after end {}",
                   text,
                   begin_1b,
                   end_1b);
    EVOSCOPE_CHECK(end_1b <= info.length,
                   "region '{}' is out of bounds: contig '{}' has {} bases",
                   text,
                   info.name,
                   info.length);
    return Interval{info.name, begin_1b - 1, end_1b, Strand::Unknown};
}

std::vector<Interval> parse_regions(const std::vector<std::string>& texts,
                                    const ContigSet& contigs) {
    std::vector<Interval> out;
    out.reserve(texts.size());
    for (const auto& t : texts)
        out.push_back(parse_region(t, contigs));
    return out;
}

// --- BED --------------------------------------------------------------------------------------

std::vector<Interval> read_bed_regions(const std::filesystem::path& path,
                                       const ContigSet& contigs) {
    const std::string where = path == "-" ? std::string("<stdin>") : path.string();
    // BGZF reads plain, gzip and bgzip input alike, and "-" is stdin.
    detail::BgzfPtr fp(bgzf_open(path.c_str(), "r"));
    if (!fp) {
        throw IoError(fmt::format("cannot read BED file '{}': {}", where, std::strerror(errno)));
    }
    std::vector<Interval> out;
    detail::KString line;
    std::int64_t line_no = 0;
    while (true) {
        const int got = bgzf_getline(fp.get(), '\n', &line.ks);
        if (got == -1)
            break;
        EVOSCOPE_CHECK_IO(got >= 0, "cannot read BED file '{}' after line {}", where, line_no);
        ++line_no;
        const std::string_view text = trim(std::string_view(line.ks.s, line.ks.l));
        if (text.empty() || text.front() == '#')
            continue;
        const auto fields = split_whitespace(text);
        if (fields.front() == "track" || fields.front() == "browser")
            continue;
        EVOSCOPE_CHECK_FORMAT(fields.size() >= 3,
                              "{}:{}: expected at least 3 columns (contig, begin, end), found {}",
                              where,
                              line_no,
                              fields.size());
        auto number = [&](std::string_view field, std::string_view what) {
            try {
                return parse_int64(field, what);
            } catch (const InputError&) {
                throw FormatError(
                    fmt::format("{}:{}: invalid {} '{}'", where, line_no, what, field));
            }
        };
        const std::int64_t begin = number(fields[1], "begin");
        const std::int64_t end = number(fields[2], "end");
        EVOSCOPE_CHECK_FORMAT(begin >= 0, "{}:{}: negative begin {}", where, line_no, begin);
        EVOSCOPE_CHECK_FORMAT(
            begin <= end, "{}:{}: begin {} is after end {}", where, line_no, begin, end);
        const ContigInfo& info =
            contigs.require(fields[0], fmt::format(" at {}:{}", where, line_no));
        EVOSCOPE_CHECK(end <= info.length,
                       "{}:{}: end {} is beyond the end of contig '{}' ({} bp)",
                       where,
                       line_no,
                       end,
                       info.name,
                       info.length);
        Strand strand = Strand::Unknown;
        if (fields.size() >= 6) {
            try {
                strand = parse_strand(fields[5]);
            } catch (const InputError&) {
                throw FormatError(
                    fmt::format("{}:{}: invalid strand '{}' in column 6 (expected "
                                "'+', '-' or '.')",
                                where,
                                line_no,
                                fields[5]));
            }
        }
        out.push_back(Interval{info.name, begin, end, strand});
    }
    return out;
}

std::vector<Interval> whole_genome(const ContigSet& contigs) {
    std::vector<Interval> out;
    out.reserve(contigs.contigs().size());
    for (const auto& c : contigs.contigs()) {
        out.push_back(Interval{c.name, 0, c.length, Strand::Unknown});
    }
    return out;
}

HoldoutSplit split_holdout(const Interval& region, double fraction) {
    EVOSCOPE_CHECK(
        fraction > 0 && fraction < 1, "--holdout-fraction {} is outside (0, 1)", fraction);
    const auto length = static_cast<long double>(region.length());
    const long double exact = length * static_cast<long double>(fraction);
    auto n_eval = static_cast<std::int64_t>(std::ceil(exact - 1e-6L));
    n_eval = std::clamp<std::int64_t>(n_eval, 0, region.length());
    HoldoutSplit split{region, region};
    split.train.end = region.end - n_eval;
    split.eval.begin = region.end - n_eval;
    return split;
}

}  // namespace evoscope::genomics
