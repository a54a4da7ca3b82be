/// @file
/// The command-line layer shared by every subcommand: the registry of subcommands, the
/// options every subcommand has (-v, -q, --threads, --log-file), the exit-code policy
/// (0 ok, 1 user error, 2 usage error, 3 bug) and the closing summary line.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace evoscope::pipelines {

enum ExitCode : int { kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitBug = 3 };

/// Options every subcommand accepts.
struct CommonOptions {
    int verbose = 0;        ///< -v count
    bool quiet = false;     ///< -q: warnings and errors only
    std::string verbosity;  ///< --verbosity LEVEL (overrides -v/-q)
    int threads = 0;        ///< --threads (0 = all cores)
    std::string log_file;
};

/// A registered subcommand: its CLI11 app and the function that runs it after parsing.
struct Command {
    CLI::App* app = nullptr;     ///< the (possibly nested) CLI11 app that selects this command
    std::function<int()> run;
    std::string name;            ///< log context, e.g. "windows" or "model-init"
};

struct ModelInitConfig;
struct ConvertConfig;
struct ScoreConfig;
struct EmbedConfig;
struct ModelTrainConfig;
struct TrainSaeConfig;
struct EvalSaeConfig;
struct EncodeConfig;
struct ConvertSaeConfig;

/// The commands that need libtorch. The `evoscope` binary does not link libtorch (loading it
/// costs about a second and 160 MB before any work): it passes nullptr and hands those commands
/// to its companion binary `evoscope-torch` (same folder) with the same arguments. The companion
/// passes the real functions.
struct TorchRunners {
    int (*model_init)(const ModelInitConfig&) = nullptr;
    int (*convert)(const ConvertConfig&) = nullptr;
    int (*score)(const ScoreConfig&) = nullptr;
    int (*embed)(const EmbedConfig&) = nullptr;
    int (*train)(const ModelTrainConfig&) = nullptr;
    int (*train_sae)(const TrainSaeConfig&) = nullptr;
    int (*eval_sae)(const EvalSaeConfig&) = nullptr;
    int (*encode)(const EncodeConfig&) = nullptr;
    int (*convert_sae)(const ConvertSaeConfig&) = nullptr;
    /// Sets libtorch's intra-op threads (n <= 0: all cores).
    void (*set_threads)(int n) = nullptr;
};

/// Adds -v/-q/--verbosity/--threads/--log-file to a subcommand.
void add_common_options(CLI::App& app, CommonOptions& options);
/// Applies logging and thread settings; call first in every run function.
void apply_common_options(const CommonOptions& options);

/// Makes `resume` exclusive with every option in `others` (a resumed run takes its settings from
/// the checkpoint). Checked after parsing rather than with Option::excludes, which would print
/// "Excludes: --resume" on every line of --help.
void exclusive_with_resume(CLI::App& app, CLI::Option* resume, std::vector<CLI::Option*> others);

/// Registers every subcommand on `root`.
std::vector<Command> register_all(CLI::App& root, const TorchRunners* torch);

/// Runs the whole CLI: parse, dispatch, map exceptions to exit codes. `main` is a one-liner.
/// `torch` is nullptr in the libtorch-free `evoscope` binary (model commands are re-executed in
/// `evoscope-torch`), the real runners in `evoscope-torch`.
int main_entry(int argc, char** argv, const TorchRunners* torch = nullptr);

/// Replaces this process with `evoscope-torch` (found beside this executable, or at
/// $EVOSCOPE_TORCH_BIN) run with this process's arguments. Returns only by throwing IoError.
[[noreturn]] void exec_torch_companion();

/// The run function of a libtorch command: the runner in `torch` when there is one, else a
/// re-execution of this command line in `evoscope-torch`. The closure keeps `config` alive
/// (CLI11 writes the parsed options into it).
template <typename Config>
std::function<int()> torch_runner(const TorchRunners* torch, std::shared_ptr<Config> config,
                                  int (*TorchRunners::*member)(const Config&)) {
    if (torch == nullptr || torch->*member == nullptr) {
        return [config]() -> int { exec_torch_companion(); };
    }
    auto fn = torch->*member;
    return [fn, config] { return fn(*config); };
}

/// The command line as typed, quoted where needed (for provenance and the closing line).
const std::string& command_line();

}  // namespace evoscope::pipelines
