// .npz: a ZIP archive of .npy members (read_npz copies and CRC-checks every member).
#include <cstddef>
#include <cstdint>

#include "formats/npz.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = evoscope::fuzz::write_input(data, size, "input.npz");
    return evoscope::fuzz::guarded([&] {
        for (const auto& array : evoscope::read_npz(path)) {
            (void)array.itemsize();
            (void)array.n_elements();
        }
    });
}
