/// @file
/// UCSC .2bit output (the genome file of a UCSC assembly hub, `twoBitPath`; also read by
/// `twoBitToFa`, py2bit and deepTools). Format version 0, little-endian: header (signature
/// 0x1A412743, version, sequence count, reserved), an index of (name length, name, 32-bit offset)
/// and per sequence: length, N blocks (starts, sizes), mask blocks (lower-case runs), reserved,
/// then the bases packed four to a byte (T=0, C=1, A=2, G=3, first base in the high bits).
/// 2bit has only A/C/G/T/N: every other letter (IUPAC codes) is stored as N; lower case is kept
/// as mask blocks. The FASTA is read twice in 1 Mb pieces (block counts, then the records), so
/// memory is one sequence's block list, not the sequence.
#pragma once

#include <filesystem>

#include "genomics/fasta_reader.hpp"

namespace evoscope::genomics {

/// Writes every contig of `fasta`, in FASTA order, to `path` (atomically: temporary + rename).
/// @throws InputError for a contig name longer than 255 bytes or a genome whose .2bit would pass
///         4 GiB (version 0 has 32-bit offsets); IoError when writing fails.
void write_twobit(const FastaReader& fasta, const std::filesystem::path& path);

}  // namespace evoscope::genomics
