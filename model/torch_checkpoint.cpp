#include "model/torch_checkpoint.hpp"

#include <cstdint>

#include <torch/torch.h>

namespace evoscope::model {

c10::ScalarType scalar_type(TorchDtype dtype) {
    // In TorchDtype's order.
    constexpr c10::ScalarType kTypes[] = {c10::kDouble,
                                          c10::kFloat,
                                          c10::kHalf,
                                          c10::kBFloat16,
                                          c10::kLong,
                                          c10::kInt,
                                          c10::kShort,
                                          c10::kChar,
                                          c10::kByte,
                                          c10::kBool,
                                          c10::kComplexFloat,
                                          c10::kComplexDouble};
    return kTypes[static_cast<std::size_t>(dtype)];
}

at::Tensor TorchCheckpoint::tensor(const CheckpointTensor& t) const {
    const auto options = at::TensorOptions().dtype(scalar_type(t.dtype)).device(at::kCPU);
    const std::byte* data = storage_data(t);
    at::Tensor storage;
    if (data != nullptr &&
        reinterpret_cast<std::uintptr_t>(data) % torch_dtype_size(t.dtype) == 0) {
        // Read-only mapping: the tensor must not be written to (it would fault).
        storage = at::from_blob(const_cast<std::byte*>(data), {t.storage_numel}, options);
    } else {
        storage = at::empty({t.storage_numel}, options);
        read_storage(t, {static_cast<std::byte*>(storage.data_ptr()), storage.nbytes()});
    }
    return storage.as_strided(t.shape, t.stride, t.storage_offset);
}

}  // namespace evoscope::model
