/// @file
/// The reference the genomics targets check their input against: tests/data/genomics/small.fa
/// (contigs ctg1 120 bp, ctg2 37 bp, HLA-A*01:01 30 bp, MT 16 bp, 1 25 bp) with the aliases of
/// tests/data/genomics/aliases.tsv (chrM = MT, chr1 = 1, chr2 = ctg2).
#pragma once

#include <filesystem>

#include "fuzz/fuzz_support.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"

namespace evoscope::fuzz {

inline const genomics::ContigSet& small_contigs() {
    static const genomics::ContigSet contigs = [] {
        genomics::ContigAliases aliases;
        aliases.add("chrM", "MT");
        aliases.add("chr1", "1");
        aliases.add("chr2", "ctg2");
        return genomics::ContigSet(
            {{"ctg1", 120}, {"ctg2", 37}, {"HLA-A*01:01", 30}, {"MT", 16}, {"1", 25}}, aliases);
    }();
    return contigs;
}

/// small.fa and its .fai copied into the scratch folder (nothing is written into the source tree).
inline const std::filesystem::path& small_fasta() {
    static const std::filesystem::path path = [] {
        const std::filesystem::path source =
            std::filesystem::path(EVOSCOPE_SOURCE_DIR) / "tests" / "data" / "genomics";
        const auto copy = [&](const char* name) {
            std::filesystem::copy_file(source / name,
                                       scratch_dir() / name,
                                       std::filesystem::copy_options::overwrite_existing);
        };
        copy("small.fa");
        copy("small.fa.fai");
        return scratch_dir() / "small.fa";
    }();
    return path;
}

}  // namespace evoscope::fuzz
