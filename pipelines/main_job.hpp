/// @file
/// The main job behind `evoscope run`: the whole chain on one genome, as a sequence of steps,
/// each one an evoscope command run as a child process (the same commands a user or the
/// Snakemake workflow runs, so their outputs are the same):
///
///   embed        model embed: the layer's activations over both strands      -> acts/
///   sae-train    sae train (skipped when an SAE is given)                      -> sae/
///   encode       sae encode: the feature store                                 -> features/
///   control-*    model init (random weights, same architecture), embed, sae train, encode
///                                                                              -> control/
///   align        align: concepts, neuron and control baselines, chance bound   -> align/
///   motifs       motifs discover for the top features                          -> motifs/f<ID>/
///   tracks       tracks: bigWig/BED per top feature, browser configs           -> tracks/
///   report       report: the offline HTML report                               -> report/
///
/// Every step has a key: the MD5 of its command (with the output folder written as {OUT}),
/// the content of its input files and the keys of the steps it reads from. A finished step
/// records its key, command, wall time and peak memory in OUT/.evoscope/steps/NAME.json; a
/// re-run skips every step whose record holds the same key and whose output exists, so an
/// interrupted run resumes at the step it stopped in, and a changed input redoes exactly the
/// steps downstream of it. OUT/run.json holds the provenance of the whole run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace evoscope::pipelines {

struct MainJobOptions {
    std::string fasta;                 ///< empty: the bundled demo genome
    std::string annotations;           ///< empty with the demo genome: its GFF3
    std::string model;                 ///< empty: the shipped data/models/evoscope-small
    std::string sae;                   ///< an SAE to load instead of training one
    std::string layer;                 ///< empty: the model's recommended layer
    std::string outdir;                ///< empty: evoscope-demo (demo) or evoscope-run
    std::vector<std::string> regions;  ///< restrict the embedding to these regions
    std::string motifs;                ///< motif database for discovery; empty: bundled JASPAR
    std::int64_t window_bp = 0;        ///< 0: the model's trained context
    std::int64_t stride_bp = 0;        ///< 0: half the window
    std::int64_t expansion = 8;        ///< SAE width = expansion x the layer width
    std::int64_t k = 16;               ///< BatchTopK k
    std::int64_t tokens = 0;           ///< SAE training tokens; 0: automatic
    bool control = true;               ///< the random-init control SAE
    int shifts = 100;                  ///< chance-bound shifts
    int top_features = 8;              ///< features that get motif discovery and tracks
    std::string device = "cpu";        ///< cpu, cuda or cuda:N (model and SAE steps)
    int threads = 0;                   ///< passed to every step (0: all cores)
    bool force = false;                ///< redo every step
    bool dry_run = false;              ///< print the steps and whether they would run
    std::string executable;            ///< evoscope itself; empty: this process's binary
};

struct MainJobStep {
    std::string name;
    std::string status;  ///< "ran", "reused", "would run", "would reuse"
    double wall_seconds = 0;
    std::int64_t peak_rss_bytes = 0;
};

struct MainJobResult {
    std::filesystem::path outdir;
    std::filesystem::path run_json;  ///< OUTDIR/run.json
    std::filesystem::path report;    ///< OUTDIR/report/index.html (when the report step ran)
    std::vector<MainJobStep> steps;
};

/// Folder of the bundled data (data/ in the source tree, or $EVOSCOPE_DATA_DIR).
std::string bundled_data_dir();

/// Runs the job. @throws evoscope::Error on bad input (checked before any step starts, so a
/// bad input leaves nothing behind) or when a step fails (naming the step and its log).
MainJobResult run_main_job(const MainJobOptions& options);

/// MD5 of a file's bytes as 32 hex digits (htslib's hts_md5). @throws IoError.
std::string file_md5(const std::filesystem::path& path);

}  // namespace evoscope::pipelines
