/// @file
/// bigWig output through libBigWig: bedGraph-like entries (begin, end, float32 value), written in
/// order and merged on the fly (an entry that touches the previous one with the same value
/// extends it), zoom levels built at close. Positions that are never added are absent from the
/// file (a reader sees no data there, not zero). The chromosome list is given at construction
/// and is the file's whole universe, in the order given: entries must come contig by contig in
/// that order, ascending within a contig (libBigWig does not check; this class does).
/// Memory while writing: two 32 KB buffers and a few bytes of index per 32 KB block; at close
/// libBigWig reads each contig's entries back to build the zoom levels (about 12 bytes per
/// entry of the largest contig, plus the zoom summaries).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "genomics/fasta_reader.hpp"

namespace evoscope::genomics {

/// `contigs` sorted by name in C-locale (strcmp) order, as `LC_ALL=C sort`, UCSC's
/// bedGraphToBigWig and deepTools order them.
std::vector<ContigInfo> sort_contigs_c_locale(std::vector<ContigInfo> contigs);

class BigWigWriter {
public:
    /// Creates `path` (replacing a file there) with the chromosome list `contigs`, in that order.
    /// `zoom_levels` is libBigWig's maximum number of zoom levels (1 to 10; it may make fewer).
    /// @throws InputError for an empty list, a contig longer than 2^32 - 1 bp or a duplicate name;
    ///         IoError when the file cannot be created.
    BigWigWriter(std::filesystem::path path, std::vector<ContigInfo> contigs, int zoom_levels = 10);
    /// Without close(), closes the libBigWig handle and removes the file.
    ~BigWigWriter();
    BigWigWriter(const BigWigWriter&) = delete;
    BigWigWriter& operator=(const BigWigWriter&) = delete;

    /// Adds [begin, end) = value on contigs()[contig] (0-based half-open).
    /// @throws InputError naming the file when the entry is out of order (an earlier contig, or
    ///         begin before the previous entry's end), empty, outside the contig, or not finite.
    void add(std::size_t contig, std::int64_t begin, std::int64_t end, float value);

    /// Writes the last entries, the index and the zoom levels, and checks that the file opens
    /// again as a bigWig. A file with no entry at all is not a valid bigWig for IGV (no zoom
    /// levels): close() then removes it and returns false. @throws IoError.
    bool close();

    const std::filesystem::path& path() const;
    const std::vector<ContigInfo>& contigs() const;
    /// Entries written after merging, and the bases they cover.
    std::int64_t n_entries() const;
    std::int64_t n_bases() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace evoscope::genomics
