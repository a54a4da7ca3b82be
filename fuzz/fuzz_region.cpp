// Region strings ("ctg1:1,001-2,000", "{HLA-A*01:01}:1-10", "chrM:5-") as given to -r.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_genomics.hpp"
#include "genomics/regions.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    return evoscope::fuzz::guarded(
        [&] { (void)evoscope::genomics::parse_region(text, evoscope::fuzz::small_contigs()); });
}
