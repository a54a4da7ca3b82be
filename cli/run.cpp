#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/options.hpp"
#include "pipelines/main_job.hpp"

namespace evoscope::cli {

RunFn setup_run(CLI::App& command) {
    auto* app = &command;
    auto config = std::make_shared<pipelines::MainJobOptions>();
    app->footer(
        "Steps: embed -> sae-train (unless --sae) -> encode -> control (random-init model, "
        "unless --no-control) -> align -> motifs -> tracks -> report. Finished steps are "
        "recorded in OUTDIR/.evoscope/ and reused when their inputs and command are unchanged, "
        "so an interrupted run resumes; --force redoes everything.\n"
        "Examples:\n"
        "  evoscope run                                  # the bundled demo -> ./evoscope-demo/\n"
        "  evoscope run -f genome.fa -a genes.gff3 -o out/\n"
        "  evoscope run -f genome.fa -a genes.gff3 --sae my_sae/ --layer blocks.5 -o out/\n"
        "  evoscope run -f genome.fa -a genes.gff3 -o out/ --dry-run   # what would run");
    app->add_option("-f,--fasta",
                    config->fasta,
                    "Genome FASTA (default: the bundled A. thaliana chloroplast demo)");
    app->add_option("-a,--annotations",
                    config->annotations,
                    "Annotation of the genome: GFF3, GTF, BED or GenBank (default with the "
                    "demo: its GFF3)");
    app->add_option("-m,--model",
                    config->model,
                    "Model .safetensors (default: the shipped data/models/evoscope-small)");
    app->add_option("--sae",
                    config->sae,
                    "Use this SAE instead of training one (SAELens folder, Goodfire .pt, "
                    "dictionary_learning ae.pt)");
    app->add_option("-l,--layer",
                    config->layer,
                    "Activation site (default: the model's recommended layer, else the block "
                    "3/4 of the way down)");
    app->add_option("-o,--outdir",
                    config->outdir,
                    "Output folder (default: evoscope-demo for the demo, else evoscope-run)");
    app->add_option("-r,--region", config->regions, "Embed only these regions; repeatable");
    app->add_option("--motifs",
                    config->motifs,
                    "Motif database for discovery (default: the bundled JASPAR vertebrates)");
    app->add_option("-w,--window", config->window_bp, "Window bp (0: the model's trained context)")
        ->capture_default_str();
    app->add_option("-s,--stride", config->stride_bp, "Stride bp (0: half the window)")
        ->capture_default_str();
    app->add_option("--expansion", config->expansion, "SAE width / layer width")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app->add_option("-k,--k", config->k, "BatchTopK k")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app->add_option("--tokens",
                    config->tokens,
                    "SAE training tokens (0: each position of both strands once, 0.3-5 M)")
        ->capture_default_str();
    app->add_flag("!--no-control",
                  config->control,
                  "Skip the random-init control (model init + embed + SAE of the same shape)");
    app->add_option("--shifts", config->shifts, "Circular shifts for the chance bound")
        ->capture_default_str();
    app->add_option(
           "--top-features", config->top_features, "Features that get motif discovery and tracks")
        ->capture_default_str();
    app->add_option("--device", config->device, "cpu, cuda or cuda:N (model and SAE steps)")
        ->capture_default_str();
    app->add_flag("--force", config->force, "Redo every step, even finished ones");
    app->add_flag("-n,--dry-run", config->dry_run, "Print the steps and whether they would run");
    return [config, app] {
        if (const auto* threads = app->get_option_no_throw("--threads"); threads != nullptr) {
            config->threads = threads->as<int>();
        }
        pipelines::run_main_job(*config);
    };
}

}  // namespace evoscope::cli
