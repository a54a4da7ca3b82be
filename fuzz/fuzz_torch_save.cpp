// torch.save checkpoints: the ZIP, the data.pkl pickle machine, storages and views.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "formats/torch_save.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = evoscope::fuzz::write_input(data, size, "input.pt");
    return evoscope::fuzz::guarded([&] {
        evoscope::TorchSaveFile file({path});
        for (const auto& tensor : file.tensors()) {
            (void)file.find(tensor.name);
            (void)tensor.is_contiguous();
            (void)file.mapped_data(tensor);
            const auto bytes = static_cast<std::uint64_t>(tensor.storage_numel) *
                               evoscope::torch_dtype_size(tensor.dtype);
            if (bytes <= (std::uint64_t{1} << 24)) {
                std::vector<std::byte> storage(bytes);
                file.read_storage(tensor, storage);
            }
        }
    });
}
