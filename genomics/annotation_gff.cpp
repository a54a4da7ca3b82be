// GFF3 and GTF readers for read_annotation.
//
// GFF3: The Sequence Ontology's "Generic Feature Format Version 3" (v1.26): 9 tab-separated
// columns, 1-based closed coordinates, column 9 `tag=value;...` with RFC 3986 percent-encoding,
// ID/Parent, multi-line features sharing one ID, directives ##sequence-region, ###, ##FASTA.
// GTF: GTF2.2 (Brent lab spec) as Ensembl and GENCODE write it: the same 8 first columns,
// column 9 `key "value";`, gene_id and transcript_id on every line (Ensembl gene lines have no
// transcript_id), CDS without the stop codon.
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/error.hpp"
#include "core/strings.hpp"
#include "genomics/detail/annotation_reader.hpp"

namespace evoscope::genomics::detail {

namespace {

/// Columns 1-8 of a GFF3 or GTF line, checked. `info` is null for an unknown contig that is
/// skipped.
struct GffColumns {
    const ContigInfo* info = nullptr;
    std::string source;
    std::string type;
    std::int64_t begin = 0;  // 0-based
    std::int64_t end = 0;    // exclusive
    std::optional<double> score;
    Strand strand = Strand::Unknown;
    int phase = -1;
    std::string_view attributes;
};

/// Splits on tabs, checks the column count and parses columns 1-8. `decode`: GFF3's
/// percent-decoding of seqid, source and type. The end is not checked against the contig
/// length here (GFF3 allows an end past it on circular contigs).
GffColumns parse_columns(std::string_view line,
                         std::size_t line_no,
                         ReadContext& context,
                         bool decode,
                         std::string_view format) {
    auto fields = split(line, '\t');
    while (fields.size() > 9 && fields.back().empty())
        fields.pop_back();  // a trailing tab (some GTF writers end lines with one)
    if (fields.size() != 9) {
        context.fail(
            line_no,
            fmt::format(
                "expected 9 tab-separated columns in a {} line, found {}", format, fields.size()));
    }
    GffColumns c;
    auto text = [&](std::string_view s) {
        return decode ? percent_decode(s) : std::string(s);
    };
    auto coordinate = [&](std::string_view s, std::string_view which) {
        std::int64_t v = 0;
        try {
            v = parse_int64(s, which);
        } catch (const InputError&) {
            context.fail(line_no, fmt::format("invalid {} '{}'", which, s));
        }
        if (v < 1) {
            context.fail(
                line_no,
                fmt::format("{} {} is not a position (coordinates are 1-based)", which, v));
        }
        return v;
    };
    const std::int64_t start = coordinate(fields[3], "start");
    const std::int64_t end = coordinate(fields[4], "end");
    if (start > end)
        context.fail(line_no, fmt::format("start {} is after end {}", start, end));
    c.begin = start - 1;
    c.end = end;
    c.source = text(fields[1]);
    c.type = text(fields[2]);
    if (c.type.empty())
        context.fail(line_no, "empty type (column 3)");
    if (fields[5] != ".") {
        try {
            c.score = parse_double(fields[5], "score");
        } catch (const InputError&) {
            context.fail(line_no, fmt::format("invalid score '{}'", fields[5]));
        }
    }
    if (fields[6] == "+") {
        c.strand = Strand::Forward;
    } else if (fields[6] == "-") {
        c.strand = Strand::Reverse;
    } else if (fields[6] == "." || fields[6] == "?") {
        c.strand = Strand::Unknown;
    } else {
        context.fail(line_no,
                     fmt::format("invalid strand '{}' (expected '+', '-', '.' or '?')", fields[6]));
    }
    c.phase = parse_phase(fields[7], context, line_no);
    c.attributes = fields[8];
    // Resolve the contig last, so that a malformed line is reported as such first.
    c.info = context.contig(decode ? percent_decode(fields[0]) : std::string(fields[0]), line_no);
    return c;
}

/// GFF3 "partial" conventions: NCBI's partial=true with start_range=.,N / end_range=N,.,
/// prodigal's partial=LR digits (1 = that edge runs off the sequence).
void apply_partial(AnnotationFeature& f) {
    const std::string* partial = f.attribute("partial");
    if (partial == nullptr)
        return;
    if (*partial == "true") {
        const bool start_range = f.attribute("start_range") != nullptr;
        const bool end_range = f.attribute("end_range") != nullptr;
        f.partial_begin = start_range || !end_range;
        f.partial_end = end_range || !start_range;
    } else if (partial->size() == 2) {
        f.partial_begin = (*partial)[0] == '1';
        f.partial_end = (*partial)[1] == '1';
    }
}

bool contains_string(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

// --- GFF3 -------------------------------------------------------------------------------------

void read_gff3(LineSource& lines, ReadContext& context) {
    auto& features = context.out.features;
    std::unordered_map<std::string, std::size_t> by_id;
    std::set<std::string> circular;  // contigs (FASTA names) with Is_circular=true
    std::vector<std::pair<std::size_t, std::size_t>> past_end;  // (feature, part) to check
    std::string line;
    while (lines.next(line)) {
        const std::size_t line_no = lines.line_no();
        if (line.empty() || line.find_first_not_of(" \t") == std::string::npos)
            continue;
        if (line[0] == '>' || starts_with(line, "##FASTA"))
            break;  // the sequence section (spec: ##FASTA; a bare '>' is tolerated)
        if (line[0] == '#') {
            if (starts_with(line, "##sequence-region")) {
                const auto words = split_whitespace(line);
                if (words.size() == 4) {
                    try {
                        const std::int64_t last = parse_int64(words[3], "end");
                        const std::string name = percent_decode(words[1]);
                        context.out.sequence_regions[context.contigs.resolve(name).value_or(name)] =
                            last;
                    } catch (const InputError&) {
                        try {
                            context.fail(line_no, "invalid ##sequence-region directive");
                        } catch (const FormatError& e) {
                            context.skip_or_rethrow(e);
                        }
                    }
                }
            }
            continue;  // comments, ###, other directives
        }
        try {
            GffColumns c = parse_columns(line, line_no, context, true, "GFF3");
            AnnotationFeature f;
            f.source = std::move(c.source);
            f.type = std::move(c.type);
            f.strand = c.strand;
            f.score = c.score;
            f.line = line_no;
            // The spec requires a phase on CDS lines, but real files (and converters) leave
            // it out: such parts keep phase -1 rather than failing the whole file.
            const std::string_view attrs = trim(c.attributes);
            bool is_circular = false;
            if (attrs != "." && !attrs.empty()) {
                for (const std::string_view field_raw : split(attrs, ';')) {
                    const std::string_view field = trim(field_raw);
                    if (field.empty())
                        continue;
                    const std::size_t eq = field.find('=');
                    if (eq == std::string_view::npos || eq == 0) {
                        context.fail(line_no,
                                     fmt::format("attribute '{}' is not tag=value", field));
                    }
                    std::string tag = percent_decode(field.substr(0, eq));
                    const std::string_view raw = field.substr(eq + 1);
                    if (tag == "Parent") {
                        for (const std::string_view p : split(raw, ',')) {
                            std::string parent = percent_decode(trim(p));
                            if (parent.empty())
                                context.fail(line_no, "empty Parent");
                            if (!contains_string(f.parents, parent))
                                f.parents.push_back(std::move(parent));
                        }
                    } else if (tag == "ID") {
                        f.id = percent_decode(raw);
                        if (f.id.empty())
                            context.fail(line_no, "empty ID");
                    } else if (tag == "Name") {
                        f.name = percent_decode(raw);
                    } else if (tag == "Is_circular") {
                        is_circular = raw == "true";
                    }
                    f.attributes.emplace_back(std::move(tag), percent_decode(raw));
                }
            }
            if (c.info == nullptr) {
                if (!f.id.empty())
                    context.skipped_ids.insert(f.id);
                continue;
            }
            f.contig = c.info->name;
            if (is_circular)
                circular.insert(f.contig);
            apply_partial(f);
            const FeaturePart part{c.begin, c.end, c.phase, line_no};
            std::size_t index = features.size();
            if (!f.id.empty()) {
                const auto [it, inserted] = by_id.emplace(f.id, features.size());
                if (!inserted) {
                    // Another line of a multi-line feature (spec: discontinuous features
                    // share one ID); it must agree on contig, type and strand.
                    AnnotationFeature& first = features[it->second];
                    if (first.type != f.type || first.contig != f.contig ||
                        first.strand != f.strand) {
                        context.fail(line_no,
                                     fmt::format("ID '{}' was used at line {} for a {} on {} ({}) "
                                                 "and here for a {} on {} ({}); IDs must be unique",
                                                 f.id,
                                                 first.line,
                                                 first.type,
                                                 first.contig,
                                                 strand_char(first.strand),
                                                 f.type,
                                                 f.contig,
                                                 strand_char(f.strand)));
                    }
                    for (auto& p : f.parents) {
                        if (!contains_string(first.parents, p))
                            first.parents.push_back(std::move(p));
                    }
                    index = it->second;
                }
            }
            if (index == features.size())
                features.push_back(std::move(f));
            features[index].parts.push_back(part);
            if (c.end > c.info->length)
                past_end.emplace_back(index, features[index].parts.size() - 1);
        } catch (const FormatError& e) {
            context.skip_or_rethrow(e);
        }
    }

    // Ends past the contig: wrap around on circular contigs (the spec's Is_circular=true on the
    // landmark feature), an error otherwise.
    for (const auto& [fi, pi] : past_end) {
        AnnotationFeature& f = features[fi];
        const FeaturePart part = f.parts[pi];
        const ContigInfo& info = context.contigs.require(f.contig);
        if (circular.count(f.contig) == 0)
            context.check_end(info, part.end, part.line);
        const std::int64_t length = info.length;
        EVOSCOPE_CHECK(part.begin < length && part.end - length <= part.begin,
                       "{}:{}: feature {}..{} on circular contig '{}' ({} bp) is longer than "
                       "the contig or starts past its end",
                       context.where,
                       part.line,
                       part.begin + 1,
                       part.end,
                       info.name,
                       length);
        // [begin, length) then [0, end - length): on the reverse strand the wrapped piece is
        // the 5' one, so the phase given belongs to it.
        FeaturePart head{part.begin, length, part.phase, part.line};
        FeaturePart tail{0, part.end - length, part.phase, part.line};
        if (part.phase >= 0) {
            if (f.strand == Strand::Reverse) {
                head.phase = phases_from_5prime({tail.end, length - part.begin}, part.phase)[1];
            } else {
                tail.phase = phases_from_5prime({length - part.begin, tail.end}, part.phase)[1];
            }
        }
        f.parts[pi] = head;
        f.parts.push_back(tail);
    }
    for (auto& f : features)
        sort_parts(f);
}

// --- GTF --------------------------------------------------------------------------------------

namespace {

/// Column 9 of GTF: `key "value"; key value; ...` (values quoted or bare; a ';' inside quotes
/// belongs to the value).
std::vector<std::pair<std::string, std::string>> parse_gtf_attributes(std::string_view text,
                                                                      std::size_t line_no,
                                                                      const ReadContext& context) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t i = 0;
    const std::size_t n = text.size();
    auto skip_space = [&] {
        while (i < n && (text[i] == ' ' || text[i] == '\t'))
            ++i;
    };
    while (true) {
        skip_space();
        if (i >= n)
            break;
        if (text[i] == ';') {
            ++i;
            continue;
        }
        const std::size_t key_begin = i;
        while (i < n && text[i] != ' ' && text[i] != '\t' && text[i] != ';')
            ++i;
        std::string key(text.substr(key_begin, i - key_begin));
        skip_space();
        std::string value;
        if (i < n && text[i] == '"') {
            const std::size_t close = text.find('"', i + 1);
            if (close == std::string_view::npos) {
                context.fail(line_no, fmt::format("unterminated quote in attribute '{}'", key));
            }
            value = std::string(text.substr(i + 1, close - i - 1));
            i = close + 1;
        } else {
            const std::size_t value_begin = i;
            while (i < n && text[i] != ';')
                ++i;
            value = std::string(trim(text.substr(value_begin, i - value_begin)));
            if (value.empty()) {
                context.fail(
                    line_no,
                    fmt::format("attribute '{}' has no value (expected key \"value\";)", key));
            }
        }
        skip_space();
        if (i < n && text[i] != ';') {
            context.fail(line_no,
                         fmt::format("expected ';' after attribute '{}' \"{}\"", key, value));
        }
        out.emplace_back(std::move(key), std::move(value));
    }
    return out;
}

const std::string* find_value(const std::vector<std::pair<std::string, std::string>>& attrs,
                              std::string_view key) {
    for (const auto& [k, v] : attrs) {
        if (k == key)
            return &v;
    }
    return nullptr;
}

/// What the GTF lines tell about one gene or transcript.
struct GtfGroup {
    std::string contig;
    std::string source;
    Strand strand = Strand::Unknown;
    std::int64_t begin = 0;
    std::int64_t end = 0;
    std::size_t first_line = 0;
    std::string parent;  // transcripts: gene_id
    std::string name;    // gene_name / transcript_name
    bool coding = false;
    bool explicit_line = false;  // a gene / transcript line exists
    std::vector<std::pair<std::string, std::string>> attributes;
};

/// Extends the CDS by the stop codon (GTF2.2: "CDS ... does not include the stop codon"; GFF3
/// and GenBank CDS include it). A stop codon piece that touches a CDS part at its 3' end
/// extends it; a piece in the next exon (a split stop codon) becomes a part of its own; a piece
/// already inside the CDS changes nothing.
void merge_stop_codon(AnnotationFeature& cds, const AnnotationFeature& stop) {
    const bool reverse = cds.strand == Strand::Reverse;
    std::vector<bool> added(cds.parts.size(), false);
    for (const FeaturePart& s : stop.parts) {
        bool done = false;
        for (auto& c : cds.parts) {
            if (s.begin >= c.begin && s.end <= c.end) {
                done = true;  // already included
                break;
            }
            if (!reverse && c.end == s.begin) {
                c.end = s.end;
                done = true;
                break;
            }
            if (reverse && c.begin == s.end) {
                c.begin = s.begin;
                done = true;
                break;
            }
        }
        if (!done) {
            cds.parts.push_back(FeaturePart{s.begin, s.end, -1, s.line});
            added.push_back(true);
        }
    }
    // Phases of new parts follow from the part before them (5'->3').
    std::vector<std::size_t> order(cds.parts.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return reverse ? cds.parts[a].begin > cds.parts[b].begin
                       : cds.parts[a].begin < cds.parts[b].begin;
    });
    for (std::size_t k = 1; k < order.size(); ++k) {
        FeaturePart& part = cds.parts[order[k]];
        if (!added[order[k]])
            continue;
        const FeaturePart& prev = cds.parts[order[k - 1]];
        const int prev_phase = prev.phase < 0 ? 0 : prev.phase;
        part.phase = phases_from_5prime({prev.end - prev.begin, 0}, prev_phase)[1];
    }
    sort_parts(cds);
}

}  // namespace

void read_gtf(LineSource& lines, ReadContext& context) {
    auto& features = context.out.features;
    std::map<std::string, GtfGroup> genes;
    std::map<std::string, GtfGroup> transcripts;
    std::unordered_map<std::string, std::size_t> merged;  // "CDS:tx" -> feature index
    // Per feature: its gene_id and transcript_id, for placing synthesised parents.
    std::vector<std::pair<std::string, std::string>> owners;
    std::string line;
    while (lines.next(line)) {
        const std::size_t line_no = lines.line_no();
        if (line.empty() || line[0] == '#' || line.find_first_not_of(" \t") == std::string::npos)
            continue;
        try {
            GffColumns c = parse_columns(line, line_no, context, false, "GTF");
            auto attrs = parse_gtf_attributes(c.attributes, line_no, context);
            const std::string* gene_id = find_value(attrs, "gene_id");
            if (gene_id == nullptr || gene_id->empty())
                context.fail(line_no, fmt::format("{} line without gene_id", c.type));
            const std::string* transcript_id = find_value(attrs, "transcript_id");
            const bool is_gene = c.type == "gene";
            if (!is_gene && (transcript_id == nullptr || transcript_id->empty()))
                context.fail(line_no, fmt::format("{} line without transcript_id", c.type));
            if (c.info == nullptr)
                continue;
            context.check_end(*c.info, c.end, line_no);

            auto note = [&](std::map<std::string, GtfGroup>& groups,
                            const std::string& id,
                            std::string_view what) -> GtfGroup& {
                auto [it, inserted] = groups.try_emplace(id);
                GtfGroup& g = it->second;
                if (inserted) {
                    g.contig = c.info->name;
                    g.source = c.source;
                    g.strand = c.strand;
                    g.begin = c.begin;
                    g.end = c.end;
                    g.first_line = line_no;
                } else {
                    if (g.contig != c.info->name || g.strand != c.strand) {
                        context.fail(line_no,
                                     fmt::format("{} '{}' is on {} ({}) at line {} but on {} ({}) "
                                                 "here",
                                                 what,
                                                 id,
                                                 g.contig,
                                                 strand_char(g.strand),
                                                 g.first_line,
                                                 c.info->name,
                                                 strand_char(c.strand)));
                    }
                    g.begin = std::min(g.begin, c.begin);
                    g.end = std::max(g.end, c.end);
                }
                return g;
            };
            GtfGroup& gene = note(genes, *gene_id, "gene");
            if (const std::string* n = find_value(attrs, "gene_name"); n && gene.name.empty())
                gene.name = *n;
            if (is_gene) {
                if (gene.explicit_line)
                    context.fail(line_no, fmt::format("second gene line for '{}'", *gene_id));
                gene.explicit_line = true;
            }
            GtfGroup* transcript = nullptr;
            if (!is_gene) {
                transcript = &note(transcripts, *transcript_id, "transcript");
                if (transcript->parent.empty()) {
                    transcript->parent = *gene_id;
                    transcript->attributes = {{"gene_id", *gene_id},
                                              {"transcript_id", *transcript_id}};
                } else if (transcript->parent != *gene_id) {
                    context.fail(line_no,
                                 fmt::format("transcript '{}' belongs to gene '{}' at line {} "
                                             "but to '{}' here",
                                             *transcript_id,
                                             transcript->parent,
                                             transcript->first_line,
                                             *gene_id));
                }
                if (const std::string* n = find_value(attrs, "transcript_name");
                    n && transcript->name.empty()) {
                    transcript->name = *n;
                }
                if (c.type == "CDS" || c.type == "start_codon" || c.type == "stop_codon")
                    transcript->coding = true;
            }

            AnnotationFeature f;
            f.contig = c.info->name;
            f.source = c.source;
            f.type = c.type;
            f.strand = c.strand;
            f.score = c.score;
            f.line = line_no;
            const bool is_transcript = c.type == "transcript" || c.type == "mRNA";
            if (is_gene) {
                f.id = *gene_id;
                f.name = gene.name;
            } else if (is_transcript) {
                if (transcript->explicit_line) {
                    context.fail(line_no,
                                 fmt::format("second transcript line for '{}'", *transcript_id));
                }
                transcript->explicit_line = true;
                f.id = *transcript_id;
                f.parents = {*gene_id};
                f.name = transcript->name;
            } else {
                f.parents = {*transcript_id};
            }
            f.attributes = std::move(attrs);
            const FeaturePart part{c.begin, c.end, c.phase, line_no};
            if (c.type == "CDS" || c.type == "start_codon" || c.type == "stop_codon") {
                // One feature per transcript with one part per line (as GFF3's shared ID).
                const std::string key = c.type + ":" + *transcript_id;
                const auto [it, inserted] = merged.emplace(key, features.size());
                if (!inserted) {
                    features[it->second].parts.push_back(part);
                    continue;
                }
                f.id = key;
            }
            f.parts.push_back(part);
            owners.emplace_back(*gene_id, is_gene ? std::string() : *transcript_id);
            features.push_back(std::move(f));
        } catch (const FormatError& e) {
            context.skip_or_rethrow(e);
        }
    }

    for (auto& f : features)
        sort_parts(f);
    // Stop codons into CDS.
    for (const auto& [key, index] : merged) {
        if (!starts_with(key, "stop_codon:"))
            continue;
        const std::string cds_key = "CDS:" + key.substr(std::string_view("stop_codon:").size());
        if (const auto it = merged.find(cds_key); it != merged.end())
            merge_stop_codon(features[it->second], features[index]);
    }

    // Synthesised gene and transcript features go just before their first line's feature.
    auto make = [](const GtfGroup& g, std::string type, std::string id) {
        AnnotationFeature f;
        f.contig = g.contig;
        f.source = g.source;
        f.type = std::move(type);
        f.strand = g.strand;
        f.id = std::move(id);
        f.name = g.name;
        f.line = g.first_line;
        f.parts.push_back(FeaturePart{g.begin, g.end, -1, 0});
        return f;
    };
    std::vector<AnnotationFeature> out;
    out.reserve(features.size() + genes.size() + transcripts.size());
    std::set<std::string> emitted_genes;
    std::set<std::string> emitted_transcripts;
    for (std::size_t i = 0; i < features.size(); ++i) {
        const auto& [gene_id, transcript_id] = owners[i];
        if (emitted_genes.insert(gene_id).second) {
            const GtfGroup& g = genes.at(gene_id);
            if (!g.explicit_line) {
                AnnotationFeature gene = make(g, "gene", gene_id);
                gene.attributes = {{"gene_id", gene_id}};
                out.push_back(std::move(gene));
            }
        }
        if (!transcript_id.empty() && emitted_transcripts.insert(transcript_id).second) {
            const GtfGroup& t = transcripts.at(transcript_id);
            if (!t.explicit_line) {
                AnnotationFeature tx =
                    make(t, t.coding ? "mRNA" : "transcript", std::string(transcript_id));
                tx.parents = {t.parent};
                tx.attributes = t.attributes;
                out.push_back(std::move(tx));
            }
        }
        out.push_back(std::move(features[i]));
    }
    features = std::move(out);
}

}  // namespace evoscope::genomics::detail
