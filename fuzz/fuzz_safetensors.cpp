// safetensors: header length, JSON header, offsets against the data section.
#include <cstddef>
#include <cstdint>

#include "formats/safetensors.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = evoscope::fuzz::write_input(data, size, "input.safetensors");
    return evoscope::fuzz::guarded([&] {
        evoscope::SafetensorsReader reader(path);
        for (const auto& entry : reader.entries()) {
            (void)reader.at(entry.name);
            (void)reader.bytes(entry);
        }
    });
}
