/// @file
/// Text tracks for genome browsers: BED9 lines (BEDv1: 0-based half-open, score 0-1000, itemRgb
/// "R,G,B"), bedGraph lines, and bgzip compression with a tabix index (htslib's BGZF and
/// tbx_index_build, BED preset: contig in column 1, 0-based begin in 2, end in 3), which is
/// what `tabix file.bed.gz chr:1-100` and IGV need for large files.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

namespace evoscope::genomics {

/// One BED9 line. Names must not hold tabs or spaces (BEDv1 without -tab).
struct Bed9Record {
    std::string contig;
    std::int64_t begin = 0;  ///< 0-based
    std::int64_t end = 0;    ///< exclusive
    std::string name = ".";
    int score = 0;  ///< 0..1000
    char strand = '.';
    std::int64_t thick_begin = 0;
    std::int64_t thick_end = 0;
    std::array<int, 3> rgb{0, 0, 0};
};

/// "contig\tbegin\tend\tname\tscore\tstrand\tthickBegin\tthickEnd\tR,G,B\n".
/// @throws InputError when the record breaks BEDv1 (begin < 0, end < begin, thick outside the
///         item, score outside 0..1000, strand not + - ., whitespace in the name, colour
///         outside 0..255).
std::string format_bed9(const Bed9Record& record);

/// "contig\tbegin\tend\tvalue\n", the value in the shortest form that reads back as the same
/// float32.
std::string format_bedgraph(const std::string& contig,
                            std::int64_t begin,
                            std::int64_t end,
                            float value);

/// Compresses `text_path` (a BED or bedGraph file sorted by contig, then begin, with each
/// contig's lines together) to `text_path` + ".gz" with BGZF, builds the tabix index beside it
/// (".gz.tbi"; lines starting with '#', "track" or "browser" are skipped) and removes the text
/// file. Returns the .gz path.
/// @throws IoError when a file cannot be read or written; InputError naming the file when
///         tabix refuses it (unsorted lines).
std::filesystem::path bgzip_and_index(const std::filesystem::path& text_path);

}  // namespace evoscope::genomics
