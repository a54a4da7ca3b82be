// GTF read as an annotation (genomics/annotation.hpp), format forced.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_annotation.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return evoscope::fuzz::fuzz_annotation(
        data, size, evoscope::genomics::AnnotationFormat::Gtf, "input.gtf");
}
