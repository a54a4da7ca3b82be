// ZIP (the container of torch.save and .npz): central directory, local headers, ZIP64, stored
// and deflated members.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "formats/zip.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = evoscope::fuzz::write_input(data, size, "input.zip");
    return evoscope::fuzz::guarded([&] {
        evoscope::ZipReader zip({path});
        for (const auto& entry : zip.entries()) {
            (void)zip.find(entry.name);
            evoscope::fuzz::guarded([&] {
                if (entry.is_stored()) {
                    (void)zip.data(entry);
                }
            });
            if (entry.size <= (std::uint64_t{1} << 24)) {
                evoscope::fuzz::guarded([&] { (void)zip.read(entry); });
            }
        }
    });
}
