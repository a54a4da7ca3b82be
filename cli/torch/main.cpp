// evoscope-torch: the same command line as `evoscope`, with the libtorch commands linked in.
// `evoscope` hands those commands over to this binary, so that genomics commands start without
// loading libtorch.
#include "cli/cli.hpp"
#include "model/torch_info.hpp"

int main(int argc, char** argv) {
    evoscope::cli::MainHooks hooks;
    hooks.set_threads = &evoscope::model::set_num_threads;
    hooks.translate_exception = &evoscope::model::rethrow_torch_error;
    hooks.extra_versions = "Using libtorch " + evoscope::model::torch_version() +
                           (evoscope::model::cuda_available() ? " (CUDA available)\n" : " (CPU)\n");
    return evoscope::cli::main_entry(argc, argv, hooks);
}
