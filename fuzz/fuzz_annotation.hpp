/// @file
/// The body of the annotation targets (fuzz_gff3, fuzz_gtf, fuzz_bed_annotation, fuzz_genbank):
/// read_annotation with the format forced, strict and lenient, against small.fa's contigs.
/// These targets are only built once genomics/ defines read_annotation (fuzz/CMakeLists.txt).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_genomics.hpp"
#include "genomics/annotation.hpp"

namespace evoscope::fuzz {

inline int fuzz_annotation(const std::uint8_t* data,
                           std::size_t size,
                           genomics::AnnotationFormat format,
                           std::string_view file_name) {
    const auto path = write_input(data, size, file_name);
    for (const bool lenient : {false, true}) {
        guarded([&] {
            genomics::AnnotationOptions options;
            options.format = format;
            options.lenient = lenient;
            options.skip_unknown_contigs = lenient;
            genomics::Annotation annotation =
                genomics::read_annotation(path, small_contigs(), options);
            annotation.finalize();
        });
    }
    return 0;
}

}  // namespace evoscope::fuzz
