// VCF/BCF text through htslib and evoscope's checks around it (contig lookup, REF against the
// FASTA, symbolic and breakend ALTs), then the ref/alt windows of each variant. The reference is
// tests/data/genomics/small.fa (see fuzz_genomics.hpp).
#include <cstddef>
#include <cstdint>
#include <optional>

#include <htslib/hts_log.h>

#include "fuzz/fuzz_genomics.hpp"
#include "genomics/variants.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const evoscope::genomics::FastaReader fasta = [] {
        hts_set_log_level(HTS_LOG_OFF);
        return evoscope::genomics::FastaReader(evoscope::fuzz::small_fasta());
    }();
    const auto path = evoscope::fuzz::write_input(data, size, "input.vcf");
    return evoscope::fuzz::guarded([&] {
        evoscope::genomics::VcfOptions options;
        options.skip_ref_mismatch = (size % 2) == 1;
        evoscope::genomics::VcfReader reader(path, fasta, options);
        for (int i = 0; i < 1000; ++i) {
            std::optional<evoscope::genomics::Variant> variant = reader.next();
            if (!variant) {
                break;
            }
            evoscope::fuzz::guarded(
                [&] { (void)evoscope::genomics::make_variant_windows(fasta, *variant, 16); });
        }
        (void)reader.summary_line();
    });
}
