// GenBank flat file reader for read_annotation. Follows the INSDC Feature Table Definition
// (DDBJ/ENA/GenBank, v11.x): feature keys from column 6, locations and qualifiers from column
// 22; locations n..m, <n..>m, n, n^m, complement(), join(), order(); qualifiers /key=value,
// /key="value" (a '"' inside a value is written '""'), /key; NCBI's GenBank release notes for
// the LOCUS/ACCESSION/VERSION/FEATURES/ORIGIN/"//" record layout.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"
#include "genomics/detail/annotation_reader.hpp"

namespace evoscope::genomics::detail {

namespace {

/// One interval of a location, in 1-based closed coordinates as written.
struct Segment {
    std::int64_t first = 0;
    std::int64_t last = 0;
    bool reverse = false;
    bool partial_low = false;   // '<' on the lower coordinate
    bool partial_high = false;  // '>' on the upper coordinate
    bool site = false;          // n^m: between two bases, no base of its own
};

/// Recursive-descent parser of a location string (whitespace already removed). Segments come
/// out in 5'->3' order of the feature: complement() reverses the order of what it holds.
class LocationParser {
public:
    explicit LocationParser(std::string_view text) : text_(text) {}

    std::vector<Segment> parse() {
        auto out = location();
        if (pos_ != text_.size())
            error("unexpected text");
        return out;
    }

private:
    [[noreturn]] void error(std::string_view what) {
        throw FormatError(fmt::format("{} at position {}", what, pos_ + 1));
    }

    bool eat(std::string_view token) {
        if (text_.substr(pos_, token.size()) == token) {
            pos_ += token.size();
            return true;
        }
        return false;
    }

    void expect(char c) {
        if (pos_ >= text_.size() || text_[pos_] != c)
            error(fmt::format("expected '{}'", c));
        ++pos_;
    }

    std::vector<Segment> location() {
        if (eat("complement(")) {
            auto inner = location();
            expect(')');
            std::reverse(inner.begin(), inner.end());
            for (auto& s : inner)
                s.reverse = !s.reverse;
            return inner;
        }
        if (eat("join(") || eat("order(")) {
            std::vector<Segment> out;
            do {
                auto part = location();
                out.insert(out.end(), part.begin(), part.end());
            } while (eat(","));
            expect(')');
            return out;
        }
        return {range()};
    }

    std::int64_t number() {
        const std::size_t start = pos_;
        while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_])) != 0)
            ++pos_;
        if (pos_ == start) {
            if (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_])) != 0)
                error("unsupported location operator or remote entry");
            error("expected a position");
        }
        try {
            return parse_int64(text_.substr(start, pos_ - start), "position");
        } catch (const InputError&) {
            error("position out of range");
        }
    }

    Segment range() {
        Segment s;
        s.partial_low = eat("<");
        s.first = number();
        if (eat("..")) {
            s.partial_high = eat(">");
            s.last = number();
        } else if (eat("^")) {
            s.last = number();
            s.site = true;
        } else {
            s.last = s.first;  // a single base
        }
        if (s.first < 1)
            error("positions are 1-based");
        // first > last is left to the caller: it spans the origin of a circular sequence.
        return s;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
};

struct RawFeature {
    std::string key;
    std::string location;
    std::size_t line = 0;
    std::vector<std::pair<std::string, std::string>> qualifiers;
    bool open_quote = false;
};

/// Strips the outer quotes and undoubles '""'.
std::string unquote(std::string_view value) {
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
    }
    std::string out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
        out.push_back(value[i]);
        if (value[i] == '"' && i + 1 < value.size() && value[i + 1] == '"')
            ++i;
    }
    return out;
}

bool quote_closed(std::string_view value) {
    // Opened by the first '"'; closed when the count of '"' is even (doubled quotes inside
    // come in pairs).
    return std::count(value.begin(), value.end(), '"') % 2 == 0;
}

bool is_rna_key(std::string_view key) {
    return key == "mRNA" || key == "tRNA" || key == "rRNA" || key == "ncRNA" || key == "tmRNA" ||
           key == "misc_RNA" || key == "precursor_RNA" || key == "prim_transcript";
}

/// A converted feature and what linking needs.
struct Converted {
    AnnotationFeature feature;
    std::string tag;                 // /locus_tag, else /gene
    std::vector<FeaturePart> exons;  // RNA: its segments (synthesised exon children)
};

const std::string* qualifier(const RawFeature& raw, std::string_view key) {
    for (const auto& [k, v] : raw.qualifiers) {
        if (k == key)
            return &v;
    }
    return nullptr;
}

class UniqueIds {
public:
    std::string make(const std::string& base) {
        const int n = ++uses_[base];
        std::string id = n == 1 ? base : fmt::format("{}_{}", base, n);
        while (n > 1 && uses_.count(id) != 0)
            id += "_";
        if (n > 1)
            uses_[id] = 1;
        return id;
    }

private:
    std::map<std::string, int, std::less<>> uses_;
};

}  // namespace

void read_genbank(LineSource& lines, ReadContext& context) {
    std::vector<Converted> converted;
    std::string line;
    std::string locus;
    std::string accession;
    std::string version;
    std::size_t locus_line = 0;
    bool circular = false;  // LOCUS topology

    // Converts one raw feature of the record on `info`.
    auto convert = [&](RawFeature& raw, const ContigInfo& info) {
        if (raw.key == "source")
            return;
        std::string loc;
        for (const char ch : raw.location) {
            if (ch != ' ')
                loc.push_back(ch);
        }
        std::vector<Segment> segments;
        try {
            segments = LocationParser(loc).parse();
        } catch (const FormatError& e) {
            context.fail(raw.line,
                         fmt::format("invalid location '{}' of {}: {}", loc, raw.key, e.what()));
        }
        // n^m sites have no bases: they are dropped (a feature of sites only is skipped).
        std::vector<Segment> bases;
        for (const auto& s : segments) {
            if (s.site) {
                if (s.last != s.first + 1 && !(s.first == info.length && s.last == 1)) {
                    context.fail(raw.line,
                                 fmt::format("site {}^{} of {} is not between adjacent bases",
                                             s.first,
                                             s.last,
                                             raw.key));
                }
            } else if (s.first > s.last) {
                // "6801..100" on a circular record spans the origin (as NCBI and plasmid
                // editors write it): first..length then 1..last, 5'->3'.
                if (!circular) {
                    context.fail(raw.line,
                                 fmt::format("start {} is after end {} in the location of {} on "
                                             "a linear sequence",
                                             s.first,
                                             s.last,
                                             raw.key));
                }
                context.check_end(info, s.first, raw.line);
                Segment head = s;
                Segment tail = s;
                head.last = info.length;
                head.partial_high = false;
                tail.first = 1;
                tail.partial_low = false;
                if (s.reverse) {
                    bases.push_back(tail);
                    bases.push_back(head);
                } else {
                    bases.push_back(head);
                    bases.push_back(tail);
                }
            } else {
                bases.push_back(s);
            }
        }
        if (bases.empty()) {
            EVOSCOPE_LOG_DEBUG("{}:{}: skipping {} at a site between bases ({})",
                               context.where,
                               raw.line,
                               raw.key,
                               loc);
            return;
        }
        for (const auto& s : bases)
            context.check_end(info, s.last, raw.line);

        Converted c;
        AnnotationFeature& f = c.feature;
        f.contig = info.name;
        f.type = raw.key;
        f.source = "GenBank";
        f.line = raw.line;
        // Strand: the one all segments share; a trans-spliced feature with segments on both
        // strands gets the strand that covers more bases (forward on a tie).
        std::int64_t forward_bases = 0;
        std::int64_t reverse_bases = 0;
        for (const auto& s : bases) {
            (s.reverse ? reverse_bases : forward_bases) += s.last - s.first + 1;
            f.partial_begin = f.partial_begin || s.partial_low;
            f.partial_end = f.partial_end || s.partial_high;
        }
        f.strand = reverse_bases > forward_bases ? Strand::Reverse : Strand::Forward;
        std::vector<FeaturePart> parts;
        for (const auto& s : bases)
            parts.push_back(FeaturePart{s.first - 1, s.last, -1, raw.line});
        if (raw.key == "CDS") {
            int first_phase = 0;
            if (const std::string* cs = qualifier(raw, "codon_start")) {
                if (*cs != "1" && *cs != "2" && *cs != "3") {
                    context.fail(raw.line,
                                 fmt::format("invalid /codon_start={} (expected 1, 2 or 3)", *cs));
                }
                first_phase = (*cs)[0] - '1';
            }
            std::vector<std::int64_t> lengths;
            for (const auto& p : parts)
                lengths.push_back(p.end - p.begin);
            const auto phases = phases_from_5prime(lengths, first_phase);
            for (std::size_t i = 0; i < parts.size(); ++i)
                parts[i].phase = phases[i];
        }
        if (raw.key == "gene" || is_rna_key(raw.key)) {
            // GFF3 meaning: a gene or transcript is one span; a transcript's segments are its
            // exons.
            std::int64_t lo = parts.front().begin;
            std::int64_t hi = parts.front().end;
            for (const auto& p : parts) {
                lo = std::min(lo, p.begin);
                hi = std::max(hi, p.end);
            }
            if (is_rna_key(raw.key)) {
                c.exons = parts;
                std::sort(c.exons.begin(), c.exons.end(), [](const auto& a, const auto& b) {
                    return a.begin < b.begin;
                });
            }
            parts = {FeaturePart{lo, hi, -1, raw.line}};
        }
        f.parts = std::move(parts);
        sort_parts(f);
        if (const std::string* t = qualifier(raw, "locus_tag")) {
            c.tag = *t;
        } else if (const std::string* g = qualifier(raw, "gene")) {
            c.tag = *g;
        }
        if (const std::string* g = qualifier(raw, "gene")) {
            f.name = *g;
        } else if (const std::string* p = qualifier(raw, "product")) {
            f.name = *p;
        } else if (raw.key == "gene") {
            f.name = c.tag;
        }
        f.attributes = std::move(raw.qualifiers);
        converted.push_back(std::move(c));
    };

    while (lines.next(line)) {
        if (starts_with(line, "LOCUS")) {
            const auto words = split_whitespace(line);
            locus = words.size() >= 2 ? std::string(words[1]) : std::string();
            circular = std::find(words.begin(), words.end(), "circular") != words.end();
            accession.clear();
            version.clear();
            locus_line = lines.line_no();
            continue;
        }
        if (starts_with(line, "ACCESSION")) {
            const auto words = split_whitespace(line);
            if (words.size() >= 2)
                accession = std::string(words[1]);
            continue;
        }
        if (starts_with(line, "VERSION")) {
            const auto words = split_whitespace(line);
            if (words.size() >= 2)
                version = std::string(words[1]);
            continue;
        }
        if (!starts_with(line, "FEATURES"))
            continue;  // header fields, ORIGIN sequence, "//"
        const std::size_t features_line = lines.line_no();
        if (locus.empty()) {
            try {
                context.fail(features_line, "FEATURES without a LOCUS line before it");
            } catch (const FormatError& e) {
                context.skip_or_rethrow(e);
            }
        }
        // The contig: VERSION, then ACCESSION, then the LOCUS name, as the FASTA knows them.
        const ContigInfo* info = nullptr;
        for (const std::string* name : {&version, &accession, &locus}) {
            if (!name->empty() && context.contigs.resolve(*name)) {
                info = &context.contigs.require(*name);
                break;
            }
        }
        bool unknown = false;
        if (info == nullptr && !locus.empty()) {
            const std::size_t before = context.out.n_unknown_contig;
            info = context.contig(locus, locus_line);  // throws unless skip_unknown_contigs
            context.out.n_unknown_contig = before;     // counted per feature below
            unknown = true;
        }

        std::vector<RawFeature> raws;
        while (lines.next(line)) {
            if (line.empty())
                continue;
            if (line[0] != ' ') {
                lines.unget(std::move(line));
                break;
            }
            const std::size_t line_no = lines.line_no();
            const bool key_line =
                line.size() > 5 && line.compare(0, 5, "     ") == 0 && line[5] != ' ';
            if (key_line) {
                const auto words = split_whitespace(line);
                RawFeature raw;
                raw.key = std::string(words[0]);
                raw.line = line_no;
                const std::size_t key_end = line.find(' ', 5);
                if (key_end != std::string::npos)
                    raw.location = std::string(trim(std::string_view(line).substr(key_end)));
                raws.push_back(std::move(raw));
                continue;
            }
            const std::string_view content = trim(line);
            if (raws.empty()) {
                try {
                    context.fail(line_no, "text before the first feature key");
                } catch (const FormatError& e) {
                    context.skip_or_rethrow(e);
                }
                continue;
            }
            RawFeature& raw = raws.back();
            if (raw.open_quote) {
                auto& value = raw.qualifiers.back().second;
                // Long sequences (/translation) wrap without a space; prose wraps at spaces.
                if (raw.qualifiers.back().first != "translation")
                    value.push_back(' ');
                value.append(content);
                raw.open_quote = !quote_closed(value);
                if (!raw.open_quote)
                    value = unquote(value);
                continue;
            }
            if (!content.empty() && content.front() == '/') {
                const std::size_t eq = content.find('=');
                std::string key(content.substr(1, eq == std::string_view::npos ? eq : eq - 1));
                std::string value;
                if (eq != std::string_view::npos) {
                    value = std::string(content.substr(eq + 1));
                    if (!value.empty() && value.front() == '"') {
                        raw.open_quote = !quote_closed(value);
                        if (!raw.open_quote)
                            value = unquote(value);
                    }
                }
                raw.qualifiers.emplace_back(std::move(key), std::move(value));
                continue;
            }
            if (raw.qualifiers.empty()) {
                raw.location.append(content);  // a location continued on the next line
            } else {
                auto& value = raw.qualifiers.back().second;
                value.push_back(' ');
                value.append(content);
            }
        }
        for (auto& raw : raws) {
            try {
                if (raw.open_quote)
                    context.fail(raw.line,
                                 fmt::format("unterminated quote in {} qualifiers", raw.key));
                if (unknown && info == nullptr) {
                    if (raw.key != "source")
                        ++context.out.n_unknown_contig;
                    continue;
                }
                if (info != nullptr)
                    convert(raw, *info);
            } catch (const FormatError& e) {
                context.skip_or_rethrow(e);
            }
        }
    }

    // Linking (see the header): genes by /locus_tag (else /gene); a transcript's parent is its
    // gene; CDS, exons and other features go to the transcript of their group that contains
    // them (CDS: an mRNA whose exons hold every CDS part), else to the gene.
    UniqueIds ids;
    std::map<std::string, std::string> gene_of_tag;  // tag -> gene ID (first gene)
    std::map<std::string, std::vector<std::size_t>> rnas_of_tag;
    for (std::size_t i = 0; i < converted.size(); ++i) {
        Converted& c = converted[i];
        AnnotationFeature& f = c.feature;
        const std::string* qualifier_id = nullptr;
        if (f.type == "gene") {
            if (!c.tag.empty()) {
                f.id = ids.make(c.tag);
                gene_of_tag.emplace(c.tag, f.id);
            }
        } else if (is_rna_key(f.type)) {
            qualifier_id = f.attribute("transcript_id");
            f.id = ids.make(
                qualifier_id != nullptr
                    ? *qualifier_id
                    : fmt::format("{}:{}", f.type, c.tag.empty() ? std::to_string(f.line) : c.tag));
            if (!c.tag.empty())
                rnas_of_tag[c.tag].push_back(i);
        } else if (f.type == "CDS") {
            qualifier_id = f.attribute("protein_id");
            f.id = ids.make(
                qualifier_id != nullptr
                    ? *qualifier_id
                    : fmt::format("CDS:{}", c.tag.empty() ? std::to_string(f.line) : c.tag));
        }
    }
    auto contains = [](const AnnotationFeature& outer, const AnnotationFeature& inner) {
        return outer.contig == inner.contig && outer.strand == inner.strand &&
               outer.begin() <= inner.begin() && inner.end() <= outer.end();
    };
    std::set<std::size_t> claimed;  // mRNAs that already have a CDS
    // An explicit exon feature equal to a transcript's segment is that exon: it takes the place
    // of the synthesised one. (rna, segment) -> explicit exon.
    std::map<std::pair<std::size_t, std::size_t>, std::size_t> exon_source;
    std::vector<bool> drop(converted.size(), false);
    for (std::size_t i = 0; i < converted.size(); ++i) {
        Converted& c = converted[i];
        AnnotationFeature& f = c.feature;
        if (c.tag.empty() || f.type == "gene")
            continue;
        const auto gene = gene_of_tag.find(c.tag);
        if (is_rna_key(f.type)) {
            if (gene != gene_of_tag.end())
                f.parents = {gene->second};
            continue;
        }
        std::optional<std::size_t> parent_rna;
        if (const auto rnas = rnas_of_tag.find(c.tag); rnas != rnas_of_tag.end()) {
            for (const std::size_t r : rnas->second) {
                const Converted& rna = converted[r];
                if (!contains(rna.feature, f))
                    continue;
                if (f.type == "CDS") {
                    if (rna.feature.type != "mRNA")
                        continue;
                    const bool inside =
                        std::all_of(f.parts.begin(), f.parts.end(), [&](const auto& p) {
                            return std::any_of(
                                rna.exons.begin(), rna.exons.end(), [&](const auto& e) {
                                    return e.begin <= p.begin && p.end <= e.end;
                                });
                        });
                    if (!inside)
                        continue;
                    if (claimed.count(r) != 0) {
                        if (!parent_rna)
                            parent_rna = r;
                        continue;
                    }
                    parent_rna = r;
                    claimed.insert(r);
                    break;
                }
                if (f.type == "exon" && f.parts.size() == 1) {
                    for (std::size_t e = 0; e < rna.exons.size(); ++e) {
                        if (rna.exons[e].begin == f.begin() && rna.exons[e].end == f.end() &&
                            exon_source.emplace(std::make_pair(r, e), i).second) {
                            drop[i] = true;  // output with the transcript, below
                            break;
                        }
                    }
                }
                parent_rna = r;
                break;
            }
        }
        if (parent_rna) {
            f.parents = {converted[*parent_rna].feature.id};
        } else if (gene != gene_of_tag.end()) {
            f.parents = {gene->second};
        }
    }

    // Output in input order; a transcript's exons follow it.
    auto& features = context.out.features;
    for (std::size_t i = 0; i < converted.size(); ++i) {
        if (drop[i])
            continue;
        Converted& c = converted[i];
        const std::string rna_id = c.feature.id;
        const AnnotationFeature& rna = c.feature;
        std::vector<AnnotationFeature> exons;
        for (std::size_t e = 0; e < c.exons.size(); ++e) {
            AnnotationFeature exon;
            if (const auto it = exon_source.find({i, e}); it != exon_source.end()) {
                exon = std::move(converted[it->second].feature);
            } else {
                exon.contig = rna.contig;
                exon.source = rna.source;
                exon.type = "exon";
                exon.strand = rna.strand;
                exon.line = rna.line;
                exon.parts = {c.exons[e]};
                exon.parents = {rna_id};
            }
            exons.push_back(std::move(exon));
        }
        features.push_back(std::move(c.feature));
        for (auto& exon : exons)
            features.push_back(std::move(exon));
    }
}

}  // namespace evoscope::genomics::detail
