/// @file
/// `evoscope variants windows`: for each variant of a VCF/BCF, a reference and an alternate
/// window of the same length centred on it, as FASTA.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace evoscope::pipelines {

struct VariantsWindowsOptions {
    std::string vcf;
    std::string fasta;
    std::string index_cache_dir;
    std::vector<std::string> regions;
    std::int64_t window_bp = 8192;
    bool skip_ref_mismatch = false;
    int line_width = 60;
    std::string output = "-";
    bool force = false;
};

struct VariantsWindowsResult {
    std::int64_t n_pairs = 0;         ///< reference/alternate pairs written
    std::int64_t n_unwindowable = 0;  ///< variants no window of the length can hold
};

/// Writes the window pairs. @throws evoscope::Error on bad input (nothing is left behind).
VariantsWindowsResult run_variants_windows(const VariantsWindowsOptions& options);

}  // namespace evoscope::pipelines
