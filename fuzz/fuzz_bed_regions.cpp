// BED region files (plain or gzip) against the contigs of small.fa with aliases.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_genomics.hpp"
#include "genomics/regions.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = evoscope::fuzz::write_input(data, size, "input.bed");
    return evoscope::fuzz::guarded(
        [&] { (void)evoscope::genomics::read_bed_regions(path, evoscope::fuzz::small_contigs()); });
}
