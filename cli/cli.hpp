/// @file
/// The command-line layer: the command table (cli/commands.def), the options every command has
/// (-v, -q, --verbosity, --threads, --log-file), the exit-code policy (0 ok, 1 input error,
/// 2 usage error, 3 bug), deprecated command names, and the hand-over of libtorch commands from
/// `evoscope` to its companion `evoscope-torch`. Commands themselves are one file each in cli/
/// (cli/torch/ for those that need libtorch); the work they start is a library function in
/// pipelines/.
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace evoscope::cli {

enum ExitCode : int { kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitBug = 3 };

/// What a command's setup function returns: runs the command after parsing. Logging and threads
/// are already set up when it is called.
using RunFn = std::function<void()>;

/// A command file's one function: adds the command's options to `app` (created from its table
/// line, common options already added) and returns what runs it.
using SetupFn = RunFn (*)(CLI::App& app);

/// One line of the command table.
struct CommandSpec {
    std::string_view group;    ///< "model", "sae", "variants", or "" for a top-level command
    std::string_view name;     ///< "train"
    bool needs_torch = false;  ///< runs in `evoscope-torch`
    std::string_view summary;  ///< one line for --help
    SetupFn setup = nullptr;   ///< nullptr for torch commands in the torch-free `evoscope`
};

/// The command table of this executable (cli/commands.cpp, compiled once per executable).
const std::vector<CommandSpec>& command_table();

/// What the executable adds to the shared driver.
struct MainHooks {
    /// Sets libtorch's intra-op threads (n <= 0: all cores); nullptr without libtorch.
    void (*set_threads)(int n) = nullptr;
    /// Turns a library exception that is not an evoscope::Error (a c10::Error) into one by
    /// rethrowing; returns normally when it does not know the exception. nullptr: none.
    void (*translate_exception)(const std::exception& e) = nullptr;
    /// Versions of the linked libraries for --version ("Using libtorch ...\n").
    std::string extra_versions;
};

/// Runs the whole CLI: alias rewriting, parse, dispatch (or hand-over to `evoscope-torch`), and
/// exceptions mapped to exit codes. `main` is a one-liner.
int main_entry(int argc, char** argv, const MainHooks& hooks);

/// Makes `resume` exclusive with every option in `others` (a resumed run takes its settings from
/// the checkpoint). Checked after parsing rather than with Option::excludes, which would print
/// "Excludes: --resume" on every line of --help.
void exclusive_with_resume(CLI::App& app, CLI::Option* resume, std::vector<CLI::Option*> others);

/// A deprecated command name and the words that replace it (`train-sae` -> `sae train`).
struct CommandAlias {
    std::string_view old_name;
    std::string_view group;
    std::string_view name;
};

const std::vector<CommandAlias>& command_aliases();

/// Rewrites a deprecated command name in `args` (args[0] is the program) to the current words.
/// Returns the alias applied, or nullptr.
const CommandAlias* rewrite_alias(std::vector<std::string>& args);

}  // namespace evoscope::cli
