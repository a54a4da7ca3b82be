// Contig alias files ("chr1 1", UCSC chromAlias lines with more names), then lookups through a
// ContigSet built with them.
#include <cstddef>
#include <cstdint>
#include <utility>

#include "fuzz/fuzz_genomics.hpp"
#include "genomics/regions.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = evoscope::fuzz::write_input(data, size, "aliases.tsv");
    return evoscope::fuzz::guarded([&] {
        auto aliases = evoscope::genomics::ContigAliases::from_file(path);
        for (const char* name : {"chr1", "1", "chrM", "MT", "ctg1", "x"}) {
            (void)aliases.aliases_of(name);
        }
        const evoscope::genomics::ContigSet contigs(
            {{"ctg1", 120}, {"ctg2", 37}, {"MT", 16}, {"1", 25}}, std::move(aliases));
        for (const char* name : {"chr1", "chrM", "chr2", "ctg1", "unknown"}) {
            (void)contigs.resolve(name);
        }
        (void)contigs.require("chr1");
    });
}
