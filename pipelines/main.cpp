// The evoscope executable: everything lives in evoscope_pipelines so tests can call it in-process.
#include "pipelines/cli.hpp"

int main(int argc, char** argv) {
    return evoscope::pipelines::main_entry(argc, argv);
}
