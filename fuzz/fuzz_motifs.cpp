// Motif files (genomics/motifs.hpp): JASPAR bracketed, plain pfm or MEME, detected from the
// content; what is read is written back as MEME and read again (the round trip must hold).
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.hpp"
#include "genomics/motifs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = evoscope::fuzz::write_input(data, size, "input.motifs");
    evoscope::fuzz::guarded([&] {
        const auto file = evoscope::genomics::read_motifs(path);
        if (file.motifs.empty())
            return;
        const auto meme = evoscope::genomics::format_meme(file.motifs);
        const auto again = evoscope::fuzz::write_input(
            reinterpret_cast<const std::uint8_t*>(meme.data()), meme.size(), "again.meme");
        const auto back = evoscope::genomics::read_motifs(again);
        if (back.motifs.size() != file.motifs.size())
            __builtin_trap();  // a MEME file we wrote must read back whole
    });
    return 0;
}
