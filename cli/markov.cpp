#include "pipelines/markov.hpp"

#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/options.hpp"

namespace evoscope::cli {

RunFn setup_markov(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::MarkovOptions>();
    app->footer(
        "Examples:\n"
        "  evoscope markov -f data/genomes/lambda.fa --holdout-fraction 0.1 --order 0-12\n"
        "  evoscope markov -f a.fa -f b.fa --holdout-fraction 0.1 --smoothing both --per-fasta\n"
        "  evoscope markov -f genome.fa --train chr1 --train chr2:1-1,000,000 --eval-bed "
        "heldout.bed -k 8\n"
        "Output (TSV, header line): order, smoothing, train (model: 'all' or the FASTA's name "
        "with\n"
        "--per-fasta), eval (FASTA name, contig or 1-based region per --by; 'all' = total when "
        "there\n"
        "are several), n_bases (A/C/G/T scored), n_skipped (other bytes), bits_per_base.\n"
        "--holdout-fraction F splits each region (default: every contig) of length L into train =\n"
        "the first L - ceil(F*L) bases and eval = the last ceil(F*L) bases.\n"
        "Training counts k-mers on both strands; any non-ACGT byte breaks the context. The first "
        "K\n"
        "bases of an eval region (or after an N) are scored with the shorter contexts available.\n"
        "Memory: 4^(K+1) 32-bit counts per order, 358 MB for K = 12 (380 MB with kn).");
    app->add_option(
           "-f,--fasta", config->fasta, "FASTA file (plain or bgzip); repeatable, one per genome")
        ->required()
        ->take_all();
    app->add_option("-k,--order", config->orders, "Markov orders: 5, 0-12 or 0,2,4-6 (0..12)");
    app->add_option("--smoothing",
                    config->smoothing,
                    "kn (interpolated modified Kneser-Ney), add-one (Laplace) or both")
        ->take_all();
    app->add_option("--train",
                    config->train_regions,
                    "Training region contig[:begin-end] (1-based inclusive); repeatable")
        ->take_all();
    app->add_option(
        "--train-bed", config->train_bed, "BED file of training regions (0-based half-open)");
    app->add_option("--eval",
                    config->eval_regions,
                    "Evaluation region contig[:begin-end] (1-based inclusive); repeatable")
        ->take_all();
    app->add_option(
        "--eval-bed", config->eval_bed, "BED file of evaluation regions (0-based half-open)");
    app->add_option(
           "--holdout-fraction",
           config->holdout_fraction,
           "Split each region (-r/-R, default every contig): train = first part, eval = last "
           "ceil(F*length) bases")
        ->check(CLI::Range(0.0, 1.0));
    app->add_option("-r,--region",
                    config->regions,
                    "Region to split with --holdout-fraction (1-based inclusive); repeatable")
        ->take_all();
    app->add_option("-R,--regions-file",
                    config->regions_bed,
                    "BED file of regions to split with --holdout-fraction");
    app->add_option(
           "--train-strand",
           config->train_strand,
           "Count training k-mers on: + (forward only) or both (forward and reverse complement)")
        ->check(CLI::IsMember({"+", "both"}));
    app->add_option("--eval-strand",
                    config->eval_strand,
                    "Score eval regions on +, - (reverse complement) or both (pooled)")
        ->check(CLI::IsMember({"+", "-", "both"}));
    app->add_option("--by", config->by, "One row per: fasta, contig or region")
        ->check(CLI::IsMember({"fasta", "contig", "region"}));
    app->add_flag(
        "--per-fasta",
        config->per_fasta,
        "Train one model per FASTA on its own training regions (default: one pooled model)");
    app->add_flag("--allow-overlap",
                  config->allow_overlap,
                  "Score eval regions that overlap training regions (a warning, not an error)");
    app->add_option("--index-cache",
                    config->index_cache_dir,
                    "Folder for FASTA indexes when the FASTA's folder is read-only (default: "
                    "~/.cache/evoscope)");
    app->add_option("-o,--output", config->output, "Output TSV, - for stdout");
    app->add_flag("--force", config->force, "Overwrite an existing output file");
    return [config] {
        pipelines::run_markov(*config);
    };
}

}  // namespace evoscope::cli
