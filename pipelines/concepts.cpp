#include "pipelines/concepts.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"

namespace evoscope::pipelines {

ConceptSource load_concepts(const ConceptSourceOptions& options) {
    if (options.annotations.empty())
        throw UsageError("--annotations is required");
    if (options.fasta.empty())
        throw UsageError("--fasta is required (the annotation's contigs are checked against it)");
    const genomics::FastaReader fasta(options.fasta);
    genomics::ContigAliases aliases;
    if (!options.rename_contigs.empty())
        aliases = genomics::ContigAliases::from_file(options.rename_contigs);
    const genomics::ContigSet contigs(fasta.contigs(), aliases);

    genomics::AnnotationOptions read_options;
    read_options.format = genomics::parse_annotation_format(options.format);
    read_options.lenient = options.lenient;
    read_options.skip_unknown_contigs = options.skip_unknown_contigs;
    ConceptSource source;
    source.annotation = genomics::read_annotation(options.annotations, contigs, read_options);
    const auto& a = source.annotation;
    EVOSCOPE_LOG_INFO(
        "{}: {} features read ({}){}{}",
        options.annotations,
        a.features.size(),
        genomics::annotation_format_name(a.format),
        a.n_skipped > 0 ? fmt::format(", {} malformed lines skipped", a.n_skipped) : "",
        a.n_unknown_contig > 0
            ? fmt::format(", {} features on unknown contigs skipped", a.n_unknown_contig)
            : "");
    source.concepts = annotate::derive_concepts(a, fasta.contigs(), options.concept_options);
    return source;
}

std::string format_concepts_table(const annotate::ConceptSet& set) {
    std::int64_t genome = 0;
    for (const auto& c : set.contigs)
        genome += c.length;
    std::string out =
        "concept\tcategory\tn_positive\tn_positive_fwd\tn_positive_rev\tn_elements\t"
        "genome_fraction\tdescription\n";
    for (const auto& c : set.concepts) {
        const auto n = c.n_positive();
        out += fmt::format(
            "{}\t{}\t{}\t{}\t{}\t{}\t{:.6f}\t{}\n",
            c.name,
            c.category,
            n,
            c.n_positive(0),
            c.n_positive(1),
            c.elements.size(),
            genome > 0 ? static_cast<double>(n) / (2.0 * static_cast<double>(genome)) : 0.0,
            c.description);
    }
    return out;
}

namespace {

/// A concept name as a file name: anything but [A-Za-z0-9._-] becomes '_'.
std::string file_stem(std::string_view name) {
    std::string out(name);
    for (auto& ch : out) {
        const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                        (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok)
            ch = '_';
    }
    return out;
}

void write_bed_dir(const annotate::ConceptSet& set, const std::filesystem::path& dir, bool force) {
    if (std::filesystem::exists(dir) && !force)
        throw InputError(fmt::format("{}: exists (use --force to overwrite)", dir.string()));
    // Built beside the target and renamed, so a failure leaves nothing half written.
    const auto temp = temp_path_for(dir);
    create_output_dir(temp);
    try {
        for (const auto& c : set.concepts) {
            std::string text =
                fmt::format("track name=\"{}\" description=\"{}\"\n", c.name, c.description);
            for (const auto& e : c.elements) {
                const auto& contig = set.contigs[static_cast<std::size_t>(e.contig)].name;
                for (const auto& p : e.parts) {
                    text += fmt::format("{}\t{}\t{}\t{}\t0\t{}\n",
                                        contig,
                                        p.begin,
                                        p.end,
                                        e.label.empty() ? c.name : e.label,
                                        e.strand == 0 ? '+' : '-');
                }
            }
            write_file_atomic(temp / (file_stem(c.name) + ".bed"), text);
        }
        commit_temp_dir(temp, dir);
    } catch (...) {
        std::error_code ec;
        std::filesystem::remove_all(temp, ec);
        throw;
    }
}

}  // namespace

ConceptsResult run_concepts(const ConceptsOptions& options) {
    ConceptsResult result;
    result.source = load_concepts(options.source);
    const auto& set = result.source.concepts;
    OutputFile out(options.output, options.force || options.output == "-");
    out.write(format_concepts_table(set));
    if (!options.bed_dir.empty())
        write_bed_dir(set, options.bed_dir, options.force);
    out.commit();
    EVOSCOPE_LOG_INFO(
        "{} concepts over {} contigs{}",
        set.concepts.size(),
        set.contigs.size(),
        options.bed_dir.empty() ? "" : fmt::format("; BED tracks in {}", options.bed_dir));
    return result;
}

}  // namespace evoscope::pipelines
