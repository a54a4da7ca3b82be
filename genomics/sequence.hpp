/// @file
/// Base-level sequence helpers: IUPAC-aware reverse complement, upper-casing and N counting.
/// Sequences are plain bytes (std::string), as read from the FASTA; case carries soft-masking.
/// All functions are pure and thread safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace evoscope::genomics {

namespace detail {
constexpr std::array<std::uint8_t, 256> make_base_codes() {
    std::array<std::uint8_t, 256> codes{};
    for (auto& c : codes)
        c = 4;
    codes['A'] = codes['a'] = 0;
    codes['C'] = codes['c'] = 1;
    codes['G'] = codes['g'] = 2;
    codes['T'] = codes['t'] = 3;
    return codes;
}

inline constexpr std::array<std::uint8_t, 256> kBaseCodes = make_base_codes();
}  // namespace detail

/// 0, 1, 2, 3 for A, C, G, T in either case; 4 for any other byte (N, IUPAC, gaps).
constexpr std::uint8_t base_code(char c) {
    return detail::kBaseCodes[static_cast<unsigned char>(c)];
}

/// IUPAC-aware reverse complement (A<->T, C<->G, R<->Y, K<->M, B<->V, D<->H, S, W, N unchanged),
/// case preserved (a->t). Uses SeqAn3's dna15 alphabet for the complement table. Any other byte
/// throws InputError naming it.
std::string reverse_complement(std::string_view seq);

/// Reverse complement of `seq` in place; same rules and errors as reverse_complement().
/// With `to_upper`, the result is also upper-cased (one pass instead of two).
void reverse_complement_in_place(std::string& seq, bool to_upper = false);

/// ASCII upper-casing (soft-masked lowercase becomes uppercase); other bytes unchanged.
void to_upper_in_place(std::string& seq);

/// Fraction of bases that are N or n (0 for an empty sequence).
double n_fraction(std::string_view seq);

/// Number of bases that are N or n.
std::int64_t count_n(std::string_view seq);

}  // namespace evoscope::genomics
