// The command table of one executable, from cli/commands.def. Compiled into each executable on
// its own: with EVOSCOPE_CLI_TORCH=1 (evoscope-torch) every command has its setup function; in the
// torch-free `evoscope` the libtorch commands have none (they are never named, so never linked)
// and are handed over to evoscope-torch.
#include "cli/cli.hpp"

#ifndef EVOSCOPE_CLI_TORCH
#define EVOSCOPE_CLI_TORCH 0
#endif

#define EVOSCOPE_NEEDS_TORCH_light false
#define EVOSCOPE_NEEDS_TORCH_torch true
#define EVOSCOPE_LINKED_light(setup) &setup
#if EVOSCOPE_CLI_TORCH
#define EVOSCOPE_LINKED_torch(setup) &setup
#else
#define EVOSCOPE_LINKED_torch(setup) nullptr
#endif

namespace evoscope::cli {

// The setup functions (declaring one that is not linked is harmless).
#define EVOSCOPE_COMMAND(group, name, setup, kind, summary) RunFn setup(CLI::App& app);
#include "cli/commands.def"
#undef EVOSCOPE_COMMAND

const std::vector<CommandSpec>& command_table() {
#define EVOSCOPE_COMMAND(group, name, setup, kind, summary) \
    CommandSpec{group, name, EVOSCOPE_NEEDS_TORCH_##kind, summary, EVOSCOPE_LINKED_##kind(setup)},
    static const std::vector<CommandSpec> table = {
#include "cli/commands.def"
    };
#undef EVOSCOPE_COMMAND
    return table;
}

}  // namespace evoscope::cli
