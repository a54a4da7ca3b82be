// evoscope: the torch-free command line. Model and SAE commands are handed over to the companion
// `evoscope-torch` (cli/torch/main.cpp), installed beside it.
#include "cli/cli.hpp"

int main(int argc, char** argv) {
    evoscope::cli::MainHooks hooks;
    hooks.extra_versions = "Using libtorch in evoscope-torch (evoscope-torch --version)\n";
    return evoscope::cli::main_entry(argc, argv, hooks);
}
