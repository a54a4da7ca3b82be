#include "pipelines/variants_windows.hpp"

#include <memory>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/variants.hpp"

namespace evoscope::pipelines {
namespace {

void write_record(std::string& buf,
                  const std::string& header,
                  const std::string& seq,
                  int line_width) {
    buf += '>';
    buf += header;
    buf += '\n';
    const std::size_t width = line_width > 0 ? static_cast<std::size_t>(line_width) : seq.size();
    for (std::size_t pos = 0; pos < seq.size(); pos += width) {
        buf.append(seq, pos, width);
        buf += '\n';
    }
}

}  // namespace

VariantsWindowsResult run_variants_windows(const VariantsWindowsOptions& config) {
    genomics::FastaOptions fasta_options;
    fasta_options.index_cache_dir = config.index_cache_dir;
    const genomics::FastaReader fasta(config.fasta, fasta_options);
    genomics::VcfOptions options;
    options.regions = config.regions;
    options.skip_ref_mismatch = config.skip_ref_mismatch;
    genomics::VcfReader reader(config.vcf, fasta, options);
    OutputFile out(config.output, config.force);
    std::string buf;
    std::int64_t n_unwindowable = 0;
    std::int64_t n_pairs = 0;
    while (auto variant = reader.next()) {
        genomics::VariantWindowPair pair;
        try {
            pair = genomics::make_variant_windows(fasta, *variant, config.window_bp);
        } catch (const InputError& e) {
            // A REF longer than the window, or a contig shorter than it: skip, count, say so.
            EVOSCOPE_LOG_WARN("skipping {}:{} {}>{}: {}",
                              variant->contig,
                              variant->pos + 1,
                              variant->ref,
                              variant->alt,
                              e.what());
            ++n_unwindowable;
            continue;
        }
        const std::string name = fmt::format(
            "{}:{}:{}:{}", variant->contig, variant->pos + 1, variant->ref, variant->alt);
        const std::string where = fmt::format("window={}:{}-{} id={}",
                                              pair.ref_window.contig,
                                              pair.ref_window.begin + 1,
                                              pair.ref_window.end,
                                              variant->id);
        buf.clear();
        write_record(buf, name + "/ref " + where, pair.ref_seq, config.line_width);
        write_record(buf, name + "/alt " + where, pair.alt_seq, config.line_width);
        out.write(buf);
        ++n_pairs;
    }
    out.commit();
    EVOSCOPE_LOG_INFO("{}; {} variants skipped that no {}-bp window can hold",
                      reader.summary_line(),
                      n_unwindowable,
                      config.window_bp);
    return VariantsWindowsResult{n_pairs, n_unwindowable};
}

}  // namespace evoscope::pipelines
