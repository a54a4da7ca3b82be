#include "model/torch_info.hpp"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <thread>

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

}  // namespace evoscope::model
