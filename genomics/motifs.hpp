/// @file
/// DNA motif matrices and their files. A Motif is a W x 4 matrix (rows = positions, columns
/// A C G T) of counts (JASPAR) or probabilities (MEME), with an id, an alternative name and the
/// number of sites behind it. Readers (format detected from the content):
///   - JASPAR bracketed `.jaspar`: `>MA0001.3 AGL3` then rows `A [ 3 1 ... ]`, `C [...]`, ...
///   - JASPAR plain pfm: `>ID name` then 4 unlabelled rows of counts (A, C, G, T)
///   - MEME minimal motif format (meme-suite.org/meme/doc/meme-format.html): `MEME version 4`,
///     optional `ALPHABET= ACGT`, `strands:`, `Background letter frequencies` (+ one line of
///     letter/frequency pairs), then per motif `MOTIF id [alt]`,
///     `letter-probability matrix: alength= 4 w= W nsites= N E= e` and W rows of 4 numbers.
/// Errors: FormatError "path:line: what", IoError for an unreadable file.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evoscope::genomics {

enum class MotifFormat { Jaspar, Pfm, Meme };

/// "jaspar", "pfm" or "meme".
std::string_view motif_format_name(MotifFormat format);

struct Motif {
    std::string id;   ///< "MA0004.1"
    std::string alt;  ///< alternative name ("Arnt"), may be empty
    /// W rows of A C G T: counts when `is_counts`, otherwise probabilities (rows sum to 1).
    std::vector<std::array<double, 4>> matrix;
    bool is_counts = false;
    /// Sites behind the matrix: the largest column sum of a count matrix, MEME's nsites= (20
    /// when the file does not say, MEME's default).
    double nsites = 20.0;

    std::size_t width() const { return matrix.size(); }

    /// Rows normalised to sum to 1 (no pseudocount).
    std::vector<std::array<double, 4>> probabilities() const;
};

/// Consensus letters: the most probable base per position, lower case when its probability is
/// below 0.5 (upper case otherwise), as a quick human-readable summary.
std::string consensus(const std::vector<std::array<double, 4>>& probabilities);

/// A motif file's content.
struct MotifFile {
    MotifFormat format = MotifFormat::Meme;
    std::vector<Motif> motifs;
    /// MEME's `Background letter frequencies` (A C G T) when the file has them.
    std::optional<std::array<double, 4>> background;
};

/// Detects the format from the first non-blank line (`MEME version` -> MEME; `>` then a row
/// starting with a letter and '[' or a letter -> JASPAR, numbers -> pfm) and parses `text`.
/// `source` names the input in errors. @throws FormatError "source:line: what".
MotifFile parse_motifs(std::string_view text, std::string_view source);

/// The widest motif a MEME file may declare (w=).
inline constexpr std::int64_t kMaxMotifWidth = 100000;

/// Reads and parses a motif file. @throws IoError (unreadable), FormatError (as parse_motifs,
/// also for a file with no motif).
MotifFile read_motifs(const std::filesystem::path& path);

/// The motifs in MEME minimal format (version 4, ACGT, both strands, the given background or
/// uniform), probabilities with 6 decimals.
std::string format_meme(const std::vector<Motif>& motifs,
                        const std::array<double, 4>& background = {0.25, 0.25, 0.25, 0.25});

}  // namespace evoscope::genomics
