#include "pipelines/concepts.hpp"

#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/options.hpp"

namespace evoscope::cli {

RunFn setup_concepts(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::ConceptsOptions>();
    app->footer(
        "Examples:\n"
        "  evoscope concepts -a data/genomes/ctrachomatis.gff3 -f data/genomes/ctrachomatis.fa\n"
        "  evoscope concepts -a genes.gtf -f genome.fa -o concepts.tsv --bed-dir concepts/\n"
        "Output (TSV, header line): concept, category, n_positive (bases, both strands),\n"
        "n_positive_fwd, n_positive_rev, n_elements (instances), genome_fraction (n_positive over\n"
        "twice the genome length), description. Concepts are strand-aware: a feature's bases\n"
        "count on its own strand (unstranded features on both). --bed-dir writes one BED6 per\n"
        "concept with its elements (for IGV, UCSC, JBrowse).");
    add_concept_source_options(*app, config->source);
    app->add_option("-o,--output", config->output, "Concepts table (TSV), - for stdout");
    app->add_option("--bed-dir", config->bed_dir, "Write one BED6 per concept into this folder");
    app->add_flag("--force", config->force, "Overwrite existing outputs");
    return [config] {
        pipelines::run_concepts(*config);
    };
}

}  // namespace evoscope::cli
