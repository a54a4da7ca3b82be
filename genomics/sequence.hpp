/// @file
/// Base-level sequence helpers: IUPAC-aware reverse complement, upper-casing and N counting.
/// Sequences are plain bytes (std::string), as read from the FASTA; case carries soft-masking.
/// All functions are pure and thread safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace evoscope::genomics {

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
