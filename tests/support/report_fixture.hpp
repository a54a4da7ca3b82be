/// @file
/// A small, deterministic run folder for `evoscope report` tests (the pipelines unit test and
/// the browser test): two contigs (chrA 6,000 bp, chrB 2,500 bp) with a GFF3, a feature store of
/// 8 features whose values are closed formulas (fixture_value), align outputs with align's
/// columns, an SAE folder, one motif folder (motifs/f2/) and a run.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace evoscope::test {

/// The value the fixture store holds for `feature` at 0-based `pos` of `contig` on `strand`
/// (0 = not active). Feature 0 is never active; 1 is active over the CDS of chrA (+) and a
/// stretch of chrA (-); 2 has bumps every 400 bp (both contigs, +); 3 is active at every third
/// base of both contigs (+), dense enough to be binned under a small run budget.
float fixture_value(std::uint32_t feature,
                    const std::string& contig,
                    std::int64_t pos,
                    char strand);

/// Writes the run folder into `dir` (created): genome.fa, genes.gff3, features/, align/, sae/,
/// motifs/f2/, run.json. align/summary.json's command names genome.fa and genes.gff3 with
/// absolute paths (as `evoscope align` records a command typed with them).
void write_report_fixture(const std::filesystem::path& dir);

}  // namespace evoscope::test
