// BED reader for read_annotation (UCSC BED / GA4GH BEDv1: 0-based half-open, 3 to 12
// columns; BED12 blocks are exons, thickStart..thickEnd the coding range).
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/strings.hpp"
#include "genomics/detail/annotation_reader.hpp"

namespace evoscope::genomics::detail {

namespace {

/// A comma-separated list of integers with an optional trailing comma ("90,100,").
std::vector<std::int64_t> int_list(std::string_view text,
                                   std::string_view what,
                                   std::size_t line_no,
                                   const ReadContext& context) {
    std::vector<std::int64_t> out;
    auto items = split(text, ',');
    if (!items.empty() && items.back().empty())
        items.pop_back();
    for (const auto item : items) {
        try {
            out.push_back(parse_int64(item, what));
        } catch (const InputError&) {
            context.fail(line_no, fmt::format("invalid {} '{}'", what, text));
        }
    }
    return out;
}

}  // namespace

void read_bed(LineSource& lines, ReadContext& context) {
    auto& features = context.out.features;
    std::map<std::string, int, std::less<>> name_uses;
    std::string line;
    while (lines.next(line)) {
        const std::size_t line_no = lines.line_no();
        const std::string_view text = trim(line);
        if (text.empty() || text.front() == '#')
            continue;
        // Tab-separated when there is a tab (names may hold spaces), else whitespace.
        const auto fields =
            line.find('\t') != std::string::npos ? split(text, '\t') : split_whitespace(text);
        if (fields.front() == "track" || fields.front() == "browser")
            continue;
        try {
            if (fields.size() < 3) {
                context.fail(
                    line_no,
                    fmt::format("expected at least 3 columns (contig, begin, end), found {}",
                                fields.size()));
            }
            auto number = [&](std::string_view field, std::string_view what) {
                try {
                    return parse_int64(field, what);
                } catch (const InputError&) {
                    context.fail(line_no, fmt::format("invalid {} '{}'", what, field));
                }
            };
            const std::int64_t begin = number(fields[1], "begin");
            const std::int64_t end = number(fields[2], "end");
            if (begin < 0)
                context.fail(line_no, fmt::format("negative begin {}", begin));
            if (begin > end)
                context.fail(line_no, fmt::format("begin {} is after end {}", begin, end));
            AnnotationFeature f;
            f.source = "BED";
            f.type = context.options.bed_type;
            f.line = line_no;
            if (fields.size() >= 4 && fields[3] != ".")
                f.name = std::string(fields[3]);
            if (fields.size() >= 5 && fields[4] != ".") {
                try {
                    f.score = parse_double(fields[4], "score");
                } catch (const InputError&) {
                    context.fail(line_no, fmt::format("invalid score '{}'", fields[4]));
                }
            }
            if (fields.size() >= 6) {
                if (fields[5] == "+") {
                    f.strand = Strand::Forward;
                } else if (fields[5] == "-") {
                    f.strand = Strand::Reverse;
                } else if (fields[5] != ".") {
                    context.fail(line_no,
                                 fmt::format("invalid strand '{}' in column 6 (expected '+', "
                                             "'-' or '.')",
                                             fields[5]));
                }
            }
            std::int64_t thick_begin = begin;
            std::int64_t thick_end = end;
            if (fields.size() >= 8) {
                thick_begin = number(fields[6], "thickStart");
                thick_end = number(fields[7], "thickEnd");
                if (thick_begin < begin || thick_end > end || thick_begin > thick_end) {
                    context.fail(line_no,
                                 fmt::format("thickStart..thickEnd {}..{} is not inside {}..{}",
                                             thick_begin,
                                             thick_end,
                                             begin,
                                             end));
                }
            }
            std::vector<FeaturePart> blocks;
            const bool bed12 = fields.size() >= 12;
            if (bed12) {
                const std::int64_t count = number(fields[9], "blockCount");
                const auto sizes = int_list(fields[10], "blockSizes", line_no, context);
                const auto starts = int_list(fields[11], "blockStarts", line_no, context);
                if (count < 1 || sizes.size() != static_cast<std::size_t>(count) ||
                    starts.size() != static_cast<std::size_t>(count)) {
                    context.fail(line_no,
                                 fmt::format("blockCount {} does not match {} blockSizes and {} "
                                             "blockStarts",
                                             count,
                                             sizes.size(),
                                             starts.size()));
                }
                for (std::size_t i = 0; i < sizes.size(); ++i) {
                    const std::int64_t b = begin + starts[i];
                    const std::int64_t e = b + sizes[i];
                    if (sizes[i] < 0 || starts[i] < 0 || e > end ||
                        (!blocks.empty() && b < blocks.back().end)) {
                        context.fail(line_no,
                                     fmt::format("block {} ({}..{}) is outside the feature or "
                                                 "overlaps the block before it",
                                                 i + 1,
                                                 b,
                                                 e));
                    }
                    blocks.push_back(FeaturePart{b, e, -1, line_no});
                }
                // BEDv1: the first block starts at chromStart and the last ends at chromEnd.
                if (blocks.front().begin != begin || blocks.back().end != end) {
                    context.fail(line_no,
                                 "the blocks do not start at chromStart and end at chromEnd");
                }
            }
            const ContigInfo* info = context.contig(fields[0], line_no);
            if (info == nullptr)
                continue;
            context.check_end(*info, end, line_no);
            f.contig = info->name;

            if (!bed12) {
                f.parts.push_back(FeaturePart{begin, end, -1, line_no});
                for (std::size_t i = 6; i < fields.size(); ++i) {
                    static constexpr const char* kNames[] = {
                        "thickStart", "thickEnd", "itemRgb", "blockCount", "blockSizes"};
                    f.attributes.emplace_back(kNames[i - 6], std::string(fields[i]));
                }
                features.push_back(std::move(f));
                continue;
            }

            // BED12: transcript + exons (the blocks) + CDS (the blocks cut to the thick range).
            const bool coding = thick_begin < thick_end;
            f.type = coding ? "mRNA" : "transcript";
            std::string base = f.name.empty() ? fmt::format("bed_line_{}", line_no) : f.name;
            const int uses = ++name_uses[base];
            f.id = uses == 1 ? base : fmt::format("{}_{}", base, uses);
            f.parts.push_back(FeaturePart{begin, end, -1, line_no});
            f.attributes.emplace_back("thickStart", std::string(fields[6]));
            f.attributes.emplace_back("thickEnd", std::string(fields[7]));
            f.attributes.emplace_back("itemRgb", std::string(fields[8]));
            const std::string id = f.id;
            AnnotationFeature cds;
            cds.contig = f.contig;
            cds.source = f.source;
            cds.type = "CDS";
            cds.strand = f.strand;
            cds.id = "CDS:" + id;
            cds.parents = {id};
            cds.name = f.name;
            cds.line = line_no;
            for (const auto& block : blocks) {
                const std::int64_t b = std::max(block.begin, thick_begin);
                const std::int64_t e = std::min(block.end, thick_end);
                if (b < e)
                    cds.parts.push_back(FeaturePart{b, e, -1, line_no});
            }
            if (!cds.parts.empty()) {
                std::vector<std::int64_t> lengths;
                for (const auto& p : cds.parts)
                    lengths.push_back(p.end - p.begin);
                const bool reverse = f.strand == Strand::Reverse;
                if (reverse)
                    std::reverse(lengths.begin(), lengths.end());
                const auto phases = phases_from_5prime(lengths, 0);
                for (std::size_t i = 0; i < cds.parts.size(); ++i)
                    cds.parts[i].phase = phases[reverse ? cds.parts.size() - 1 - i : i];
            }
            features.push_back(std::move(f));
            for (const auto& block : blocks) {
                AnnotationFeature exon;
                exon.contig = cds.contig;
                exon.source = cds.source;
                exon.type = "exon";
                exon.strand = cds.strand;
                exon.parents = {id};
                exon.line = line_no;
                exon.parts.push_back(block);
                features.push_back(std::move(exon));
            }
            if (coding && !cds.parts.empty())
                features.push_back(std::move(cds));
        } catch (const FormatError& e) {
            context.skip_or_rethrow(e);
        }
    }
}

}  // namespace evoscope::genomics::detail
