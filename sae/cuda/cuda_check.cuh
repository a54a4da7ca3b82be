/// @file
/// EVOSCOPE_CUDA_CHECK: turns a failed CUDA runtime call into evoscope::DeviceError carrying
/// the CUDA error name and string, the failing expression, file and line. Private to sae/cuda/
/// (no public header includes it).
#pragma once

#include <string>

#include <cuda_runtime.h>

#include "core/error.hpp"

namespace evoscope::sae::gpu::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t status,
                                          const char* expr,
                                          const char* file,
                                          int line) {
    throw DeviceError(std::string("CUDA error ") + cudaGetErrorName(status) + " (" +
                      cudaGetErrorString(status) + ") in '" + expr + "' at " + file + ":" +
                      std::to_string(line));
}

}  // namespace evoscope::sae::gpu::detail

/// Evaluates a cudaError_t expression once and throws DeviceError unless it is cudaSuccess.
#define EVOSCOPE_CUDA_CHECK(expr)                                  \
    do {                                                           \
        const cudaError_t evoscope_cuda_status_ = (expr);          \
        if (evoscope_cuda_status_ != cudaSuccess) {                \
            ::evoscope::sae::gpu::detail::throw_cuda_error(        \
                evoscope_cuda_status_, #expr, __FILE__, __LINE__); \
        }                                                          \
    } while (0)
