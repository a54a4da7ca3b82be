/// @file
/// Random access to a FASTA file through htslib faidx. Plain and bgzip-compressed files are
/// supported (.fai, plus .gzi for bgzip). A missing index is built next to the file, or in a
/// cache directory when that folder is not writable. Plain gzip is refused with a message that
/// says to run `bgzip`; a record with irregular line lengths is refused with its line number.
/// A FastaReader holds one faidx handle and is NOT thread safe: use `clone()` per thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evoscope::genomics {

struct ContigInfo {
    std::string name;
    std::int64_t length = 0;
};

struct FastaOptions {
    /// Where to build an index when the FASTA's folder is read-only.
    /// Empty: $EVOSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/evoscope, else ~/.cache/evoscope.
    std::filesystem::path index_cache_dir;
    /// Build a missing or stale index beside the FASTA (`x.fa.fai`, `x.fa.gz.gzi`) when that
    /// folder accepts a new file; false builds it in the cache directory straight away (tests
    /// use this to exercise the cache path, since root can write into chmod'ed folders).
    /// An up-to-date index beside the FASTA is used either way.
    bool index_beside_fasta = true;
};

class FastaReader {
public:
    /// Opens `path`, loading or building its index.
    /// @throws IoError (missing/unreadable file, index cannot be written anywhere),
    ///         FormatError (plain gzip; irregular line length, with line number; not FASTA).
    explicit FastaReader(std::filesystem::path path, FastaOptions options = {});
    ~FastaReader();
    FastaReader(FastaReader&&) noexcept;
    FastaReader& operator=(FastaReader&&) noexcept;

    /// A new reader on the same file with its own faidx handle (for another thread).
    FastaReader clone() const;

    const std::filesystem::path& path() const { return path_; }

    /// Where the .fai in use lives (beside the file or in the cache directory).
    const std::filesystem::path& index_path() const { return fai_path_; }

    bool is_bgzf() const { return bgzf_; }

    /// Contigs in file order.
    const std::vector<ContigInfo>& contigs() const { return contigs_; }

    std::optional<std::int64_t> contig_length(std::string_view contig) const;

    /// Bases [begin, end) of `contig`, case preserved, exactly end-begin bytes.
    /// @throws InputError if the contig is unknown or the range is outside [0, length].
    std::string fetch(std::string_view contig, std::int64_t begin, std::int64_t end) const;

private:
    struct Handle;
    FastaReader() = default;
    void open();

    std::filesystem::path path_;
    std::filesystem::path fai_path_;
    std::filesystem::path gzi_path_;
    FastaOptions options_;
    bool bgzf_ = false;
    std::vector<ContigInfo> contigs_;
    std::unique_ptr<Handle> handle_;
};

}  // namespace evoscope::genomics
