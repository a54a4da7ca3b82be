// .npy: the header parser on the raw bytes, then the file reader (header, one row, whole array).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "formats/npy.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    evoscope::fuzz::guarded([&] {
        (void)evoscope::parse_npy_header(std::as_bytes(std::span(data, size)), "fuzz.npy");
    });
    const auto path = evoscope::fuzz::write_input(data, size, "input.npy");
    return evoscope::fuzz::guarded([&] {
        evoscope::NpyInfo info = evoscope::read_npy_header(path);
        if (!info.shape.empty() && info.shape[0] > 0) {
            std::size_t row_bytes = evoscope::npy_itemsize(info.dtype);
            for (std::size_t d = 1; d < info.shape.size(); ++d) {
                row_bytes *= static_cast<std::size_t>(info.shape[d]);
            }
            if (row_bytes <= (1u << 20)) {
                std::vector<std::byte> row(row_bytes);
                evoscope::read_npy_rows(path, info, info.shape[0] - 1, 1, row);
            }
        }
        (void)evoscope::read_npy_float32(path);
    });
}
