#include "genomics/sequence.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>
#include <seqan3/alphabet/nucleotide/dna15.hpp>

#include "core/error.hpp"

namespace evoscope::genomics {

namespace {

// SeqAn3's dna15 knows the IUPAC complements but works upper-case only and maps unknown
// characters to N, so we derive a 256-entry byte table from it once: the hot loop is then one
// lookup per base, and bytes outside the 15 IUPAC letters stay detectable (table entry 0).
struct ComplementTable {
    std::array<char, 256> complement{};  ///< 0 = not an IUPAC nucleotide
    std::array<char, 256> complement_upper{};
    std::array<char, 256> upper{};

    ComplementTable() {
        for (std::size_t i = 0; i < upper.size(); ++i) {
            upper[i] = static_cast<char>(std::toupper(static_cast<int>(i)));
        }
        constexpr std::string_view kIupac = "ACGTRYKMBVDHSWN";
        for (const char base : kIupac) {
            seqan3::dna15 letter{};
            letter.assign_char(base);
            const char comp = seqan3::complement(letter).to_char();
            const char comp_lower = static_cast<char>(std::tolower(comp));
            const char base_lower = static_cast<char>(std::tolower(base));
            complement[static_cast<unsigned char>(base)] = comp;
            complement[static_cast<unsigned char>(base_lower)] = comp_lower;
            complement_upper[static_cast<unsigned char>(base)] = comp;
            complement_upper[static_cast<unsigned char>(base_lower)] = comp;
        }
    }
};

const ComplementTable& table() {
    static const ComplementTable t;
    return t;
}

[[noreturn]] void throw_bad_base(char c, std::size_t offset) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isprint(byte) != 0) {
        throw InputError(
            fmt::format("cannot reverse-complement '{}' at offset {}: not an IUPAC nucleotide code",
                        c,
                        offset));
    }
    throw InputError(fmt::format(
        "cannot reverse-complement byte 0x{:02x} at offset {}: not an IUPAC nucleotide code",
        static_cast<unsigned>(byte),
        offset));
}

}  // namespace

std::string reverse_complement(std::string_view seq) {
    std::string out(seq);
    reverse_complement_in_place(out);
    return out;
}

void reverse_complement_in_place(std::string& seq, bool to_upper) {
    const auto& lut = to_upper ? table().complement_upper : table().complement;
    const std::size_t n = seq.size();
    // Swap-and-complement from both ends; a bad byte is reported with its offset in the input.
    for (std::size_t i = 0, j = n; i < j;) {
        --j;
        const char a = lut[static_cast<unsigned char>(seq[i])];
        const char b = lut[static_cast<unsigned char>(seq[j])];
        if (a == 0)
            throw_bad_base(seq[i], i);
        if (b == 0)
            throw_bad_base(seq[j], j);
        seq[i] = b;
        seq[j] = a;
        ++i;
    }
}

void to_upper_in_place(std::string& seq) {
    const auto& lut = table().upper;
    for (char& c : seq)
        c = lut[static_cast<unsigned char>(c)];
}

std::int64_t count_n(std::string_view seq) {
    return static_cast<std::int64_t>(
        std::count_if(seq.begin(), seq.end(), [](char c) { return c == 'N' || c == 'n'; }));
}

double n_fraction(std::string_view seq) {
    if (seq.empty())
        return 0.0;
    return static_cast<double>(count_n(seq)) / static_cast<double>(seq.size());
}

}  // namespace evoscope::genomics
