#include "pipelines/window_source.hpp"

#include <iterator>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/log.hpp"

namespace evoscope::pipelines {
namespace {

genomics::FastaOptions fasta_options(const WindowSourceOptions& o) {
    genomics::FastaOptions options;
    options.index_cache_dir = o.index_cache_dir;
    return options;
}

}  // namespace

void append_bed6_window(std::string& out, const genomics::Interval& window) {
    const char strand = genomics::strand_char(window.strand);
    fmt::format_to(std::back_inserter(out),
                   "{}\t{}\t{}\t{}:{}-{}({})\t0\t{}\n",
                   window.contig,
                   window.begin,
                   window.end,
                   window.contig,
                   window.begin + 1,
                   window.end,
                   strand,
                   strand);
}

WindowSource::WindowSource(const WindowSourceOptions& o) : fasta_(o.fasta, fasta_options(o)) {
    genomics::ContigAliases aliases;
    if (!o.rename_contigs.empty()) {
        aliases = genomics::ContigAliases::from_file(o.rename_contigs);
    }
    contigs_ = std::make_unique<genomics::ContigSet>(fasta_.contigs(), std::move(aliases));

    for (const auto& text : o.regions) {
        regions_.push_back(genomics::parse_region(text, *contigs_));
    }
    if (!o.regions_bed.empty()) {
        auto from_bed = genomics::read_bed_regions(o.regions_bed, *contigs_);
        EVOSCOPE_CHECK(!from_bed.empty(), "regions file '{}' contains no regions", o.regions_bed);
        regions_.insert(regions_.end(), from_bed.begin(), from_bed.end());
    }
    if (regions_.empty()) {
        regions_ = genomics::whole_genome(*contigs_);
    }

    config_.window_bp = o.window_bp > 0 ? o.window_bp : kDefaultWindowBp;
    config_.stride_bp = o.stride_bp > 0 ? o.stride_bp : config_.window_bp;
    config_.strand = genomics::parse_strand_mode(o.strand);
    config_.end_policy = genomics::parse_end_policy(o.end_policy);
    config_.case_policy = genomics::parse_case_policy(o.soft_mask);
    config_.max_n_fraction = o.max_n_fraction;
    for (const auto& name : o.circular) {
        if (name == "all" || name == "*") {
            config_.circular.insert("*");
        } else {
            config_.circular.insert(contigs_->require(name, " (given to --circular)").name);
        }
    }
    genomics::validate(config_);
    EVOSCOPE_LOG_DEBUG("{}: {} contig(s), {} region(s), window {} bp, stride {} bp",
                       o.fasta,
                       fasta_.contigs().size(),
                       regions_.size(),
                       config_.window_bp,
                       config_.stride_bp);
}

genomics::WindowStream WindowSource::stream() const {
    return genomics::WindowStream(fasta_, regions_, config_);
}

}  // namespace evoscope::pipelines
