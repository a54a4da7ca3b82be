#include "model/torch_info.hpp"

#include <string>
#include <string_view>
#include <thread>

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "core/error.hpp"

namespace evoscope::model {

std::string torch_version() {
    return TORCH_VERSION;
}

bool cuda_available() {
    return torch::cuda::is_available();
}

void set_num_threads(int n) {
    if (n <= 0) {
        n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    }
    at::set_num_threads(n);
}

void rethrow_torch_error(const std::exception& e) {
    const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
    if (torch_error == nullptr) {
        return;
    }
    std::string message = torch_error->what_without_backtrace();
    // The first line is the message; the rest is libtorch's source location and context.
    if (const auto eol = message.find('\n'); eol != std::string::npos) {
        message.resize(eol);
    }
    const bool device = message.find("out of memory") != std::string::npos ||
                        message.find("CUDA error") != std::string::npos ||
                        message.find("CUDA driver") != std::string::npos;
    if (device) {
        throw DeviceError(
            "device failure in libtorch: " + message +
            " (for out of memory, try a smaller --batch or --window, or --device cpu)");
    }
    throw ModelError("libtorch refused the operation: " + message);
}

}  // namespace evoscope::model
