/// @file
/// Facts about the libtorch this binary was built with, for `evoscope --version`.
#pragma once

#include <exception>
#include <string>

namespace evoscope::model {

/// libtorch version, e.g. "1.13.1".
std::string torch_version();
/// Whether this libtorch can run CUDA kernels on this machine.
bool cuda_available();
/// Sets torch's intra-op thread count (n <= 0: all hardware threads).
void set_num_threads(int n);

/// If `e` is a libtorch error (c10::Error), throws it again as an evoscope error with its message
/// and without libtorch's C++ backtrace: DeviceError when a device ran out of memory or failed
/// (the message suggests a smaller --batch), ModelError otherwise. Returns for other exceptions.
void rethrow_torch_error(const std::exception& e);

}  // namespace evoscope::model
