// evoscope-torch: the same CLI as `evoscope`, with the libtorch commands linked in. `evoscope`
// re-executes model commands here so that genomics commands start without loading libtorch.
#include "pipelines/cli.hpp"
#include "pipelines/torch_commands.hpp"

int main(int argc, char** argv) {
    const evoscope::pipelines::TorchRunners runners = evoscope::pipelines::torch_runners();
    return evoscope::pipelines::main_entry(argc, argv, &runners);
}
