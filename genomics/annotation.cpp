#include "genomics/annotation.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"
#include "genomics/detail/annotation_reader.hpp"

namespace evoscope::genomics {

// --- formats ----------------------------------------------------------------------------------

const char* annotation_format_name(AnnotationFormat format) {
    switch (format) {
        case AnnotationFormat::Auto:
            return "auto";
        case AnnotationFormat::Gff3:
            return "gff3";
        case AnnotationFormat::Gtf:
            return "gtf";
        case AnnotationFormat::Bed:
            return "bed";
        case AnnotationFormat::GenBank:
            return "genbank";
    }
    return "auto";
}

AnnotationFormat parse_annotation_format(std::string_view text) {
    std::string lower(trim(text));
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    if (lower == "auto")
        return AnnotationFormat::Auto;
    if (lower == "gff3" || lower == "gff")
        return AnnotationFormat::Gff3;
    if (lower == "gtf")
        return AnnotationFormat::Gtf;
    if (lower == "bed")
        return AnnotationFormat::Bed;
    if (lower == "genbank" || lower == "gb" || lower == "gbk")
        return AnnotationFormat::GenBank;
    throw InputError(fmt::format(
        "unknown annotation format '{}' (choices: auto, gff3, gtf, bed, genbank)", text));
}

// --- records ----------------------------------------------------------------------------------

const std::string* AnnotationFeature::attribute(std::string_view key) const {
    for (const auto& [k, v] : attributes) {
        if (k == key)
            return &v;
    }
    return nullptr;
}

std::optional<std::size_t> Annotation::find(std::string_view id) const {
    if (const auto it = id_index.find(id); it != id_index.end())
        return it->second;
    return std::nullopt;
}

std::vector<std::size_t> Annotation::children(std::size_t index) const {
    if (index >= features.size() || features[index].id.empty())
        return {};
    if (const auto it = child_index.find(features[index].id); it != child_index.end())
        return it->second;
    return {};
}

std::size_t Annotation::count(std::string_view type) const {
    return static_cast<std::size_t>(std::count_if(
        features.begin(), features.end(), [&](const auto& f) { return f.type == type; }));
}

void Annotation::finalize() {
    id_index.clear();
    child_index.clear();
    for (std::size_t i = 0; i < features.size(); ++i) {
        if (!features[i].id.empty())
            id_index.emplace(features[i].id, i);
    }
    for (std::size_t i = 0; i < features.size(); ++i) {
        for (const auto& parent : features[i].parents) {
            auto& kids = child_index[parent];
            if (kids.empty() || kids.back() != i)
                kids.push_back(i);
        }
    }
}

namespace detail {

// --- LineSource -------------------------------------------------------------------------------

LineSource::LineSource(const std::filesystem::path& path, std::string where)
    : where_(std::move(where)) {
    // BGZF reads plain, gzip and bgzip input alike, and "-" is stdin.
    fp_.reset(bgzf_open(path.c_str(), "r"));
    if (!fp_) {
        throw IoError(
            fmt::format("cannot read annotation file '{}': {}", where_, std::strerror(errno)));
    }
}

bool LineSource::next(std::string& line) {
    if (has_pushed_) {
        has_pushed_ = false;
        line = std::move(pushed_);
        ++line_no_;
        return true;
    }
    const int got = bgzf_getline(fp_.get(), '\n', &buffer_.ks);
    if (got == -1)
        return false;
    EVOSCOPE_CHECK_IO(got >= 0, "cannot read annotation file '{}' after line {}", where_, line_no_);
    ++line_no_;
    std::size_t n = buffer_.ks.l;
    if (n > 0 && buffer_.ks.s[n - 1] == '\r')
        --n;
    line.assign(buffer_.ks.s, n);
    return true;
}

void LineSource::unget(std::string line) {
    EVOSCOPE_ASSERT_MSG(!has_pushed_, "LineSource::unget called twice");
    pushed_ = std::move(line);
    has_pushed_ = true;
    --line_no_;
}

// --- ReadContext ------------------------------------------------------------------------------

void ReadContext::fail(std::size_t line, std::string_view what) const {
    throw FormatError(fmt::format("{}:{}: {}", where, line, what));
}

void ReadContext::skip_or_rethrow(const FormatError& error) {
    if (!options.lenient)
        throw error;
    ++out.n_skipped;
    constexpr std::size_t kLogged = 5;
    if (out.n_skipped <= kLogged) {
        EVOSCOPE_LOG_WARN("skipping a malformed annotation line: {}", error.what());
    } else if (out.n_skipped == kLogged + 1) {
        EVOSCOPE_LOG_WARN("{}: more malformed lines skipped (not logged)", where);
    }
}

const ContigInfo* ReadContext::contig(std::string_view name, std::size_t line) {
    if (options.skip_unknown_contigs && !contigs.resolve(name)) {
        ++out.n_unknown_contig;
        return nullptr;
    }
    return &contigs.require(name, fmt::format(" at {}:{}", where, line));
}

void ReadContext::check_end(const ContigInfo& info, std::int64_t end, std::size_t line) const {
    EVOSCOPE_CHECK(end <= info.length,
                   "{}:{}: end {} is beyond the end of contig '{}' ({} bp)",
                   where,
                   line,
                   end,
                   info.name,
                   info.length);
}

// --- helpers ----------------------------------------------------------------------------------

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string percent_decode(std::string_view text) {
    if (text.find('%') == std::string_view::npos)
        return std::string(text);
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(text[i]);
    }
    return out;
}

int parse_phase(std::string_view text, const ReadContext& context, std::size_t line) {
    if (text == ".")
        return -1;
    if (text.size() == 1 && text[0] >= '0' && text[0] <= '2')
        return text[0] - '0';
    context.fail(line, fmt::format("invalid phase '{}' (expected 0, 1, 2 or '.')", text));
}

std::vector<int> phases_from_5prime(const std::vector<std::int64_t>& lengths, int first_phase) {
    std::vector<int> phases;
    phases.reserve(lengths.size());
    std::int64_t before = 0;  // coding bases in the parts before this one
    for (const std::int64_t length : lengths) {
        // The first complete codon starts `first_phase` bases into the CDS; a part starts
        // (before - first_phase) mod 3 bases into a codon, so that many bases are left over.
        const std::int64_t into_codon = ((before - first_phase) % 3 + 3) % 3;
        phases.push_back(static_cast<int>((3 - into_codon) % 3));
        before += length;
    }
    return phases;
}

void sort_parts(AnnotationFeature& feature) {
    std::stable_sort(
        feature.parts.begin(), feature.parts.end(), [](const FeaturePart& a, const FeaturePart& b) {
            return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
        });
    if (!feature.parts.empty()) {
        feature.line = std::min_element(feature.parts.begin(),
                                        feature.parts.end(),
                                        [](const FeaturePart& a, const FeaturePart& b) {
                                            return a.line < b.line;
                                        })
                           ->line;
        if (feature.line == 0) {
            for (const auto& p : feature.parts) {
                if (p.line != 0 && (feature.line == 0 || p.line < feature.line))
                    feature.line = p.line;
            }
        }
    }
}

// --- format detection -------------------------------------------------------------------------

namespace {

std::string lower_extension(const std::filesystem::path& path) {
    std::filesystem::path p = path;
    std::string ext = p.extension().string();
    auto lower = [](std::string s) {
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
            return static_cast<char>(std::tolower(c));
        });
        return s;
    };
    ext = lower(ext);
    if (ext == ".gz" || ext == ".bgz") {
        p = p.stem();
        ext = lower(p.extension().string());
    }
    return ext;
}

AnnotationFormat format_from_extension(const std::filesystem::path& path) {
    const std::string ext = lower_extension(path);
    if (ext == ".gff3")
        return AnnotationFormat::Gff3;  // ".gff" may be GFF3 or GTF/GFF2: the content decides
    if (ext == ".gtf")
        return AnnotationFormat::Gtf;
    if (ext == ".bed")
        return AnnotationFormat::Bed;
    if (ext == ".gb" || ext == ".gbk" || ext == ".gbff" || ext == ".genbank")
        return AnnotationFormat::GenBank;
    return AnnotationFormat::Auto;
}

/// Looks at the first data lines: "LOCUS" -> GenBank, "##gff-version 3" -> GFF3, 9 tab
/// columns with `key "value";` -> GTF, with `tag=value` -> GFF3, 3+ columns with numbers in 2
/// and 3 -> BED.
AnnotationFormat sniff_format(const std::filesystem::path& path, const std::string& where) {
    LineSource lines(path, where);
    std::string line;
    for (int seen = 0; seen < 200 && lines.next(line);) {
        const std::string_view text = trim(line);
        if (text.empty())
            continue;
        if (starts_with(text, "LOCUS "))
            return AnnotationFormat::GenBank;
        if (starts_with(text, "##gff-version")) {
            const std::string_view version = trim(text.substr(13));
            return starts_with(version, "2") ? AnnotationFormat::Gtf : AnnotationFormat::Gff3;
        }
        if (text.front() == '#' || starts_with(text, "track") || starts_with(text, "browser"))
            continue;
        ++seen;
        const auto fields = split(line, '\t');
        if (fields.size() >= 9) {
            const std::string_view attrs = trim(fields[8]);
            if (attrs.find('"') != std::string_view::npos ||
                attrs.find("gene_id ") != std::string_view::npos) {
                return AnnotationFormat::Gtf;
            }
            if (attrs.find('=') != std::string_view::npos || attrs == ".")
                return AnnotationFormat::Gff3;
        }
        const auto words = split_whitespace(text);
        auto is_number = [](std::string_view s) {
            return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
                return std::isdigit(static_cast<unsigned char>(c)) != 0;
            });
        };
        if (words.size() >= 3 && is_number(words[1]) && is_number(words[2]))
            return AnnotationFormat::Bed;
        break;
    }
    throw FormatError(fmt::format(
        "cannot tell the format of annotation file '{}' (not GFF3, GTF, BED or GenBank); "
        "name the format explicitly",
        where));
}

/// A Parent that no feature has: FormatError at the child's line (or, lenient, the child is
/// dropped). Children of features dropped for an unknown contig are dropped with them.
void check_parents(ReadContext& context) {
    auto& features = context.out.features;
    std::set<std::string, std::less<>> ids;
    for (const auto& f : features) {
        if (!f.id.empty())
            ids.insert(f.id);
    }
    // Dropping a feature can orphan its own children, so repeat until nothing changes.
    bool changed = true;
    while (changed) {
        changed = false;
        std::vector<AnnotationFeature> kept;
        kept.reserve(features.size());
        for (auto& f : features) {
            bool drop = false;
            for (const auto& parent : f.parents) {
                if (ids.count(parent) != 0)
                    continue;
                if (context.skipped_ids.count(parent) != 0) {
                    ++context.out.n_unknown_contig;
                } else {
                    try {
                        context.fail(f.line,
                                     fmt::format("Parent '{}' of {}{} is not the ID of any "
                                                 "feature in the file",
                                                 parent,
                                                 f.type,
                                                 f.id.empty() ? "" : " '" + f.id + "'"));
                    } catch (const FormatError& e) {
                        context.skip_or_rethrow(e);
                    }
                }
                drop = true;
                break;
            }
            if (drop) {
                if (!f.id.empty()) {
                    ids.erase(f.id);
                    context.skipped_ids.insert(f.id);
                }
                changed = true;
            } else {
                kept.push_back(std::move(f));
            }
        }
        features = std::move(kept);
    }
}

}  // namespace

}  // namespace detail

// --- read_annotation --------------------------------------------------------------------------

Annotation read_annotation(const std::filesystem::path& path,
                           const ContigSet& contigs,
                           const AnnotationOptions& options) {
    const bool is_stdin = path == "-";
    const std::string where = is_stdin ? std::string("<stdin>") : path.string();
    AnnotationFormat format = options.format;
    if (format == AnnotationFormat::Auto) {
        EVOSCOPE_CHECK(!is_stdin,
                       "reading an annotation from stdin needs an explicit format "
                       "(gff3, gtf, bed or genbank)");
        format = detail::format_from_extension(path);
        if (format == AnnotationFormat::Auto)
            format = detail::sniff_format(path, where);
    }

    Annotation out;
    out.path = path;
    out.format = format;
    detail::LineSource lines(path, where);
    detail::ReadContext context(where, contigs, options, out);
    switch (format) {
        case AnnotationFormat::Gff3:
            detail::read_gff3(lines, context);
            break;
        case AnnotationFormat::Gtf:
            detail::read_gtf(lines, context);
            break;
        case AnnotationFormat::Bed:
            detail::read_bed(lines, context);
            break;
        case AnnotationFormat::GenBank:
            detail::read_genbank(lines, context);
            break;
        case AnnotationFormat::Auto:
            EVOSCOPE_ASSERT_MSG(false, "annotation format not resolved");
    }
    detail::check_parents(context);
    out.finalize();
    if (out.n_skipped > 0) {
        EVOSCOPE_LOG_WARN("{}: skipped {} malformed line(s)", where, out.n_skipped);
    }
    if (out.n_unknown_contig > 0) {
        EVOSCOPE_LOG_INFO(
            "{}: skipped {} feature line(s) on unknown contigs", where, out.n_unknown_contig);
    }
    return out;
}

}  // namespace evoscope::genomics
