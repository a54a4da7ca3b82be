/// @file
/// Variants from VCF/BCF (through htslib) checked against the reference, and the ref/alt
/// sequence windows centred on each of them. Positions are 0-based (`Variant::pos` = VCF POS-1);
/// windows are 0-based half-open Intervals. Multi-allelic records are split into one Variant
/// per ALT allele (REF kept as written, no trimming or left-alignment: run `bcftools norm`
/// first if that matters). htslib types stay in the .cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "genomics/fasta_reader.hpp"
#include "genomics/interval.hpp"

namespace evoscope::genomics {

struct Variant {
    std::string contig;
    std::int64_t pos = 0;  ///< 0-based position of the first REF base
    std::string ref;       ///< upper case
    std::string alt;       ///< one ALT allele (multi-allelic records are split), upper case
    std::string id;        ///< VCF ID column ('.' if none)
    std::int64_t line_or_record = 0;  ///< 1-based record number in the file, for messages
                                      ///< (with regions: among the records the index returned)

    friend bool operator==(const Variant&, const Variant&) = default;
};

struct VcfOptions {
    std::vector<std::string> regions;  ///< "-r" strings (1-based, htslib syntax); needs an index
    bool skip_ref_mismatch = false;    ///< skip and count instead of error
};

/// Counters of a VcfReader. Every ALT allele read (other than a missing '.') lands in exactly
/// one of n_variants, n_symbolic_skipped, n_ref_mismatch_skipped, n_ref_n_skipped.
struct VcfSummary {
    std::int64_t n_records = 0;               ///< VCF records read
    std::int64_t n_variants = 0;              ///< ALT alleles emitted
    std::int64_t n_symbolic_skipped = 0;      ///< <DEL>, <*>, breakends, '*' skipped
    std::int64_t n_ref_mismatch_skipped = 0;  ///< ALT alleles of records whose REF mismatched
    std::int64_t n_ref_n_skipped = 0;         ///< ALT alleles of records whose REF has non-ACGTN
};

/// Reads VCF/BCF (plain, bgzip; indexed when regions are given) through htslib, one
/// (record, ALT) pair per next() call, in file order (with regions: records overlapping any
/// region, each once, bcftools `-r` semantics through htslib's synced reader).
///
/// Per record: the contig must be in the FASTA (else InputError "...: contig 'chr1' is not in
/// the reference ...; closest names: ..."); symbolic ALTs (`<...>`), breakends (`N[chr:pos[`,
/// `]chr:pos]N`, `.A`, `A.`) and the spanning deletion `*` are skipped and counted; a missing
/// ALT ('.') yields nothing. When at least one ALT remains, REF must be A/C/G/T/N (case
/// ignored; else the record's ALTs are skipped and counted in n_ref_n_skipped) and must equal
/// the FASTA bases at [pos, pos+len(REF)) case-insensitively (an IUPAC code in the FASTA
/// matches the bases it stands for). A mismatch or a REF running past the contig end is an
/// InputError "<vcf>:<record>: REF 'A' does not match the reference 'G' at ctg:101" unless
/// `skip_ref_mismatch`, which skips and counts it. ALT alleles with characters other than
/// ACGTN are a FormatError.
///
/// Errors: missing/unreadable file IoError; not VCF/BCF, bad header, malformed record
/// FormatError "<vcf>:<record>: ..." (bcf_read < -1; rec->errcode other than an undefined
/// contig/tag, which htslib tolerates with a warning; and what htslib 1.16 lets through: POS
/// missing, 0 or not a number, no REF column, a space-separated line, a truncated bgzip file);
/// regions on a file without a .tbi/.csi index (or not bgzip-compressed) InputError telling to
/// run `bcftools index`/`tabix`. Regions are parsed by parse_region (regions.hpp: "ctg",
/// "ctg:1,001-2,000", "ctg:pos", "ctg:begin-", "{name}:1-10"), so an unknown contig (with
/// closest names), a reversed or out-of-bounds region is an InputError before htslib sees it.
/// Genotype columns are not parsed in streaming mode. Holds a reference to `fasta` (which must
/// outlive the reader). Not thread safe.
class VcfReader {
public:
    VcfReader(const std::filesystem::path& path, const FastaReader& fasta, VcfOptions options = {});
    ~VcfReader();
    VcfReader(const VcfReader&) = delete;
    VcfReader& operator=(const VcfReader&) = delete;
    VcfReader(VcfReader&&) noexcept;
    VcfReader& operator=(VcfReader&&) noexcept;

    /// The next variant, or std::nullopt at the end of the file (or regions).
    std::optional<Variant> next();
    const VcfSummary& summary() const;
    /// "records 10, variants 12, symbolic skipped 1, REF mismatches skipped 0"
    /// (", REF non-ACGTN skipped N" is appended when N > 0).
    std::string summary_line() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct VariantWindowPair {
    Variant variant;
    Interval ref_window;          ///< interval of the reference window on the contig
    std::string ref_seq;          ///< exactly window_bp bases (upper case)
    std::string alt_seq;          ///< exactly window_bp bases
    std::int64_t ref_offset = 0;  ///< REF starts at ref_seq[ref_offset] (= pos - ref_window.begin)
    std::int64_t alt_offset = 0;  ///< ALT starts at alt_seq[alt_offset] (== ref_offset unless
                                  ///< the alt window was shifted at the contig end, see below)
};

/// Where the windows of a variant lie; the arithmetic of make_variant_windows, exposed so it
/// can be tested and reused without a FASTA. All values 0-based.
struct VariantWindowLayout {
    std::int64_t ref_begin = 0;  ///< ref window = contig[ref_begin, ref_begin + window_bp)
    std::int64_t alt_begin = 0;  ///< alt window = H[alt_begin, alt_begin + window_bp), H below
};

/// The window rule. W = window_bp, n = contig length, p = pos, R = len(REF), A = len(ALT);
/// H = contig[0, p) + ALT + contig[p + R, n) is the alternate haplotype (length n - R + A).
///  1. Centre: left flank L = floor((W - R) / 2), right flank W - R - L (when W - R is odd the
///     extra base goes to the right). An SNV with W = 8 sits at index 3: 3 bases left, 4 right.
///  2. ref_begin = clamp(p - L, 0, n - W): near a contig end the window is shifted to stay
///     inside the contig and the variant is off-centre (it stays fully inside).
///  3. alt_begin = min(ref_begin, (n - R + A) - W): the alt window has the same left flank and
///     the ALT in the same place; to its right it takes H's bases after ALT, so an insertion
///     pushes right flank out and a deletion pulls more right flank in, and both windows are
///     exactly W long. Only when a deletion near the contig end leaves H too short to the right
///     is the alt window shifted left (more left flank). An ALT longer than the room to its
///     right (W - L) is cut at the window end.
/// @throws InputError if W <= 0, R == 0, R > W (the REF would not fit the window), p < 0,
///         p + R > n, or n < W or n - R + A < W (the contig or haplotype is shorter than W).
VariantWindowLayout variant_window_layout(std::int64_t contig_length,
                                          std::int64_t pos,
                                          std::int64_t ref_length,
                                          std::int64_t alt_length,
                                          std::int64_t window_bp);

/// Ref/alt windows of `window_bp` centred on the variant by the rule of variant_window_layout:
/// the REF allele occupies [pos, pos+len(ref)); the ref window is centred on the midpoint of the
/// REF allele with equal flanks; the alt window puts ALT in the same place with the same left
/// flank and takes/cuts right flank so that both are exactly window_bp long. Near contig ends
/// the window is shifted to stay inside the contig (the variant is then off-centre); a contig
/// shorter than window_bp is an InputError. Sequences are upper case. Also InputError when the
/// contig is unknown, REF/ALT are empty or not ACGTN, or REF does not match the FASTA.
VariantWindowPair make_variant_windows(const FastaReader& fasta,
                                       const Variant& variant,
                                       std::int64_t window_bp);

}  // namespace evoscope::genomics
