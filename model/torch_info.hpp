/// @file
/// Facts about the libtorch this binary was built with, for `evoscope --version`.
#pragma once

#include <string>

namespace evoscope::model {

/// libtorch version, e.g. "1.13.1".
std::string torch_version();
/// Whether this libtorch can run CUDA kernels on this machine.
bool cuda_available();
/// Sets torch's intra-op thread count (n <= 0: all hardware threads).
void set_num_threads(int n);

}  // namespace evoscope::model
