#include "genomics/twobit_writer.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/error.hpp"
#include "core/output_file.hpp"

namespace evoscope::genomics {
namespace {

constexpr std::uint32_t kSignature = 0x1A412743;
constexpr std::int64_t kPiece = 1 << 20;

/// Runs of N (any letter other than A/C/G/T in either case) and of lower case, as (start, size).
struct Blocks {
    std::vector<std::uint32_t> n_starts, n_sizes, mask_starts, mask_sizes;
};

bool is_n(char c) {
    switch (c) {
        case 'A':
        case 'C':
        case 'G':
        case 'T':
        case 'a':
        case 'c':
        case 'g':
        case 't':
            return false;
        default:
            return true;
    }
}

bool is_lower(char c) {
    return c >= 'a' && c <= 'z';
}

/// Appends position `pos` to a run list (extending the last run when it touches it).
void extend(std::vector<std::uint32_t>& starts,
            std::vector<std::uint32_t>& sizes,
            std::int64_t pos) {
    const auto p = static_cast<std::uint32_t>(pos);
    if (!starts.empty() && starts.back() + sizes.back() == p) {
        ++sizes.back();
        return;
    }
    starts.push_back(p);
    sizes.push_back(1);
}

Blocks blocks_of(const FastaReader& fasta, const ContigInfo& contig) {
    Blocks b;
    for (std::int64_t begin = 0; begin < contig.length; begin += kPiece) {
        const std::int64_t end = std::min(contig.length, begin + kPiece);
        const std::string seq = fasta.fetch(contig.name, begin, end);
        for (std::size_t i = 0; i < seq.size(); ++i) {
            const auto pos = begin + static_cast<std::int64_t>(i);
            if (is_n(seq[i])) {
                extend(b.n_starts, b.n_sizes, pos);
            }
            if (is_lower(seq[i])) {
                extend(b.mask_starts, b.mask_sizes, pos);
            }
        }
    }
    return b;
}

std::uint8_t code_of(char c) {
    switch (c) {
        case 'C':
        case 'c':
            return 1;
        case 'A':
        case 'a':
            return 2;
        case 'G':
        case 'g':
            return 3;
        default:  // T, and N (stored as T under an N block, as UCSC's faToTwoBit does)
            return 0;
    }
}

class Writer {
public:
    explicit Writer(OutputFile& out) : out_(out) {}

    void u32(std::uint32_t v) {
        // 2bit readers detect the byte order from the signature; write little-endian always.
        const unsigned char b[4] = {static_cast<unsigned char>(v & 0xFFU),
                                    static_cast<unsigned char>((v >> 8) & 0xFFU),
                                    static_cast<unsigned char>((v >> 16) & 0xFFU),
                                    static_cast<unsigned char>((v >> 24) & 0xFFU)};
        bytes(b, 4);
    }

    void u32s(const std::vector<std::uint32_t>& v) {
        for (const auto x : v) {
            u32(x);
        }
    }

    void bytes(const void* data, std::size_t n) {
        out_.write(std::string_view(static_cast<const char*>(data), n));
    }

private:
    OutputFile& out_;
};

}  // namespace

void write_twobit(const FastaReader& fasta, const std::filesystem::path& path) {
    const auto& contigs = fasta.contigs();
    // Pass 1: record sizes, for the offsets of the index.
    std::uint64_t offset = 16;
    for (const auto& c : contigs) {
        EVOSCOPE_CHECK(!c.name.empty() && c.name.size() <= 255,
                       "contig name '{}' cannot go into a .2bit file (1 to 255 bytes)",
                       c.name);
        offset += 1 + c.name.size() + 4;
    }
    std::vector<std::uint64_t> offsets;
    for (const auto& c : contigs) {
        EVOSCOPE_CHECK(c.length <= std::numeric_limits<std::uint32_t>::max(),
                       "contig '{}' ({} bp) is too long for a .2bit file",
                       c.name,
                       c.length);
        offsets.push_back(offset);
        const Blocks b = blocks_of(fasta, c);
        offset += 4 + 4 + 8 * b.n_starts.size() + 4 + 8 * b.mask_starts.size() + 4 +
                  (static_cast<std::uint64_t>(c.length) + 3) / 4;
    }
    EVOSCOPE_CHECK(offsets.empty() || offsets.back() <= std::numeric_limits<std::uint32_t>::max(),
                   "the genome's .2bit would be {} bytes; format version 0 stops at 4 GiB",
                   offset);

    OutputFile out(path.string());
    Writer w(out);
    w.u32(kSignature);
    w.u32(0);  // version
    w.u32(static_cast<std::uint32_t>(contigs.size()));
    w.u32(0);  // reserved
    for (std::size_t i = 0; i < contigs.size(); ++i) {
        const auto n = static_cast<unsigned char>(contigs[i].name.size());
        w.bytes(&n, 1);
        w.bytes(contigs[i].name.data(), contigs[i].name.size());
        w.u32(static_cast<std::uint32_t>(offsets[i]));
    }
    // Pass 2: the records.
    std::vector<unsigned char> packed;
    for (const auto& c : contigs) {
        const Blocks b = blocks_of(fasta, c);
        w.u32(static_cast<std::uint32_t>(c.length));
        w.u32(static_cast<std::uint32_t>(b.n_starts.size()));
        w.u32s(b.n_starts);
        w.u32s(b.n_sizes);
        w.u32(static_cast<std::uint32_t>(b.mask_starts.size()));
        w.u32s(b.mask_starts);
        w.u32s(b.mask_sizes);
        w.u32(0);  // reserved
        // Pieces are multiples of 4 bases, so bytes never straddle two pieces.
        for (std::int64_t begin = 0; begin < c.length; begin += kPiece) {
            const std::int64_t end = std::min(c.length, begin + kPiece);
            const std::string seq = fasta.fetch(c.name, begin, end);
            packed.assign((seq.size() + 3) / 4, 0);
            for (std::size_t i = 0; i < seq.size(); ++i) {
                const auto shift = static_cast<unsigned>(6 - 2 * (i % 4));
                packed[i / 4] =
                    static_cast<unsigned char>(packed[i / 4] | (code_of(seq[i]) << shift));
            }
            w.bytes(packed.data(), packed.size());
        }
    }
    out.commit();
}

}  // namespace evoscope::genomics
