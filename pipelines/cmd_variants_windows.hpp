/// @file
/// `evoscope variants-windows`: for each variant of a VCF/BCF, a reference and an alternate
/// window of the same length centred on it, as FASTA.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipelines/cli.hpp"

namespace evoscope::pipelines {

struct VariantsWindowsConfig {
    CommonOptions common;
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

Command register_variants_windows(CLI::App& root);
int run_variants_windows(const VariantsWindowsConfig& config);

}  // namespace evoscope::pipelines
