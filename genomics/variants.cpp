#include "genomics/variants.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <htslib/bgzf.h>
#include <htslib/hts.h>
#include <htslib/synced_bcf_reader.h>
#include <htslib/vcf.h>

#include "core/check.hpp"
#include "core/strings.hpp"
#include "genomics/detail/hts_handles.hpp"
#include "genomics/regions.hpp"

namespace evoscope::genomics {

namespace {

using detail::BcfHdrPtr;
using detail::BcfRecordPtr;
using detail::BcfSrsPtr;
using detail::HtsFilePtr;

// bcf_sr_get_line is a macro with an old-style cast inside; keep it in one place.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wconversion"

bcf1_t* synced_line(bcf_srs_t* reader) {
    return bcf_sr_get_line(reader, 0);
}

bcf_hdr_t* synced_header(bcf_srs_t* reader) {
    return bcf_sr_get_header(reader, 0);
}

#pragma GCC diagnostic pop

std::string hts_format_text(const htsFormat* format) {
    const detail::CharBufPtr text(hts_format_description(format));
    return text ? std::string(text.get()) : std::string("unknown format");
}

// --- alleles ---------------------------------------------------------------------------------

char upper(char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

std::string to_upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        c = upper(c);
    }
    return out;
}

bool is_acgtn(std::string_view allele) {
    return !allele.empty() && std::all_of(allele.begin(), allele.end(), [](char c) {
        const char u = upper(c);
        return u == 'A' || u == 'C' || u == 'G' || u == 'T' || u == 'N';
    });
}

/// Symbolic (<DEL>, <*>, <NON_REF>), breakend (N[chr:pos[, ]chr:pos]N, single .A / A.) or the
/// spanning deletion '*'.
bool is_symbolic(std::string_view allele) {
    if (allele.empty()) {
        return false;
    }
    if (allele.front() == '<' || allele == "*") {
        return true;
    }
    if (allele.find_first_of("[]") != std::string_view::npos) {
        return true;
    }
    return allele.size() > 1 && (allele.front() == '.' || allele.back() == '.');
}

/// The bases an upper-case IUPAC code stands for (empty for anything else).
std::string_view iupac_bases(char code) {
    switch (code) {
        case 'A':
            return "A";
        case 'C':
            return "C";
        case 'G':
            return "G";
        case 'T':
            return "T";
        case 'U':
            return "T";
        case 'R':
            return "AG";
        case 'Y':
            return "CT";
        case 'S':
            return "CG";
        case 'W':
            return "AT";
        case 'K':
            return "GT";
        case 'M':
            return "AC";
        case 'B':
            return "CGT";
        case 'D':
            return "AGT";
        case 'H':
            return "ACT";
        case 'V':
            return "ACG";
        case 'N':
            return "ACGTN";
        default:
            return "";
    }
}

/// REF (ACGTN, any case) against reference bases (any case, IUPAC allowed): equal ignoring
/// case, or the reference has an ambiguity code covering the REF base (VCF REF must reduce
/// IUPAC codes to a concrete base, so a reference 'R' is matched by 'A' or 'G').
bool ref_matches(std::string_view ref, std::string_view reference) {
    if (ref.size() != reference.size()) {
        return false;
    }
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const char r = upper(ref[i]);
        const char g = upper(reference[i]);
        if (r != g && iupac_bases(g).find(r) == std::string_view::npos) {
            return false;
        }
    }
    return true;
}

/// "ctg:101" for one base, "ctg:101-103" for more (1-based inclusive).
std::string locus_1b(std::string_view contig, std::int64_t pos, std::int64_t length) {
    if (length <= 1) {
        return fmt::format("{}:{}", contig, pos + 1);
    }
    return fmt::format("{}:{}-{}", contig, pos + 1, pos + length);
}

std::vector<std::string> contig_names(const FastaReader& fasta) {
    std::vector<std::string> names;
    names.reserve(fasta.contigs().size());
    for (const auto& contig : fasta.contigs()) {
        names.push_back(contig.name);
    }
    return names;
}

std::string closest_text(std::string_view name, const FastaReader& fasta) {
    const auto names = closest_names(name, contig_names(fasta));
    return names.empty() ? std::string("(the reference has no contigs)")
                         : fmt::format("{}", fmt::join(names, ", "));
}

std::int64_t require_contig_length(const FastaReader& fasta,
                                   std::string_view contig,
                                   std::string_view context) {
    const auto length = fasta.contig_length(contig);
    EVOSCOPE_CHECK(length.has_value(),
                   "{}contig '{}' is not in the reference {}; closest names: {}",
                   context,
                   contig,
                   fasta.path().string(),
                   closest_text(contig, fasta));
    return *length;
}

std::string errcode_text(int errcode) {
    std::vector<std::string> parts;
    if ((errcode & BCF_ERR_NCOLS) != 0) {
        parts.emplace_back("wrong number of columns");
    }
    if ((errcode & BCF_ERR_LIMITS) != 0) {
        parts.emplace_back("a value outside htslib's limits");
    }
    if ((errcode & BCF_ERR_CHAR) != 0) {
        parts.emplace_back("an invalid character");
    }
    if ((errcode & BCF_ERR_CTG_INVALID) != 0) {
        parts.emplace_back("an invalid contig name");
    }
    if ((errcode & BCF_ERR_TAG_INVALID) != 0) {
        parts.emplace_back("an invalid INFO/FORMAT tag");
    }
    if (parts.empty()) {
        parts.push_back(fmt::format("htslib error code {}", errcode));
    }
    return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace

// --- VcfReader -------------------------------------------------------------------------------

struct VcfReader::Impl {
    Impl(const std::filesystem::path& file_path, const FastaReader& reference, VcfOptions opts)
        : path(file_path),
          path_text(file_path.string()),
          fasta(reference),
          options(std::move(opts)) {}

    void open_streaming();
    void open_indexed();
    /// Reads the next record into `record`; false at the end.
    bool read_record();
    /// Turns the current record into pending variants (possibly none).
    void process_record();

    std::filesystem::path path;
    std::string path_text;
    const FastaReader& fasta;
    VcfOptions options;
    VcfSummary summary;

    // Streaming mode owns file, header and record; indexed mode borrows them from `synced`.
    HtsFilePtr file;
    BcfHdrPtr owned_header;
    BcfRecordPtr owned_record;
    BcfSrsPtr synced;
    bcf_hdr_t* header = nullptr;
    bcf1_t* record = nullptr;

    // Cache of the last contig looked up (records come sorted, so this hits almost always).
    int cached_rid = -1;
    std::string cached_contig;
    std::int64_t cached_length = 0;

    std::vector<Variant> pending;
    std::size_t pending_next = 0;
};

void VcfReader::Impl::open_streaming() {
    if (path_text != "-") {
        std::error_code ec;
        EVOSCOPE_CHECK_IO(
            std::filesystem::exists(path, ec), "cannot open VCF '{}': no such file", path_text);
        EVOSCOPE_CHECK_IO(!std::filesystem::is_directory(path, ec),
                          "cannot open VCF '{}': it is a directory",
                          path_text);
    }
    errno = 0;
    file.reset(hts_open(path_text.c_str(), "r"));
    EVOSCOPE_CHECK_IO(file != nullptr,
                      "cannot open VCF '{}': {}",
                      path_text,
                      errno != 0 ? std::strerror(errno) : "htslib could not open it");
    const htsFormat* format = hts_get_format(file.get());
    EVOSCOPE_CHECK_FORMAT(format->category == variant_data,
                          "'{}' is not a VCF or BCF file (htslib sees: {})",
                          path_text,
                          hts_format_text(format));
    owned_header.reset(bcf_hdr_read(file.get()));
    EVOSCOPE_CHECK_FORMAT(owned_header != nullptr, "{}: cannot parse the VCF header", path_text);
    header = owned_header.get();
    // Genotypes are never used: dropping the samples skips parsing them.
    EVOSCOPE_CHECK_FORMAT(bcf_hdr_set_samples(header, nullptr, 0) >= 0,
                          "{}: cannot drop the sample columns of the header",
                          path_text);
    owned_record.reset(bcf_init());
    EVOSCOPE_CHECK_IO(owned_record != nullptr, "{}: out of memory for a VCF record", path_text);
    record = owned_record.get();
}

void VcfReader::Impl::open_indexed() {
    EVOSCOPE_CHECK(path_text != "-",
                   "regions (-r) need an indexed VCF/BCF file, not standard input");
    std::error_code ec;
    EVOSCOPE_CHECK_IO(
        std::filesystem::exists(path, ec), "cannot open VCF '{}': no such file", path_text);
    // Parsed and checked here (contig in the FASTA, 1 <= begin <= end <= length), then handed
    // to htslib in a canonical form: htslib 1.16 aborts on some malformed regions
    // ("ctg:-5"), silently reads nothing for others ("ctg:100-50", "{ctg}:1-10"), and takes
    // the list comma-separated, which clashes with thousands separators.
    const ContigSet contig_set(fasta.contigs());
    std::vector<std::string> canonical;
    for (const auto& region : options.regions) {
        const Interval interval = parse_region(region, contig_set);
        canonical.push_back(
            fmt::format("{}:{}-{}", interval.contig, interval.begin + 1, interval.end));
    }
    synced.reset(bcf_sr_init());
    EVOSCOPE_CHECK_IO(synced != nullptr, "out of memory opening '{}'", path_text);
    EVOSCOPE_ASSERT(bcf_sr_set_opt(synced.get(), BCF_SR_REQUIRE_IDX) == 0);
    const std::string joined = fmt::format("{}", fmt::join(canonical, ","));
    EVOSCOPE_CHECK(bcf_sr_set_regions(synced.get(), joined.c_str(), 0) == 0,
                   "invalid regions '{}' for '{}'",
                   joined,
                   path_text);
    errno = 0;
    int added = 0;
    {
        // htslib prints its own "could not load index" lines; the exception below says more.
        const detail::HtsLogSilencer quiet;
        added = bcf_sr_add_reader(synced.get(), path_text.c_str());
    }
    if (added == 0) {
        const int errnum = synced->errnum;
        const std::string index_hint =
            fmt::format("index it with `bcftools index {0}` (or `tabix -p vcf {0}`)", path_text);
        switch (synced->errnum) {
            case not_bgzf:
                throw InputError(fmt::format(
                    "regions (-r) need an indexed file, but '{}' is not bgzip-compressed; "
                    "compress it with `bgzip` (or `bcftools view -Oz`), then index it with "
                    "`bcftools index` (or `tabix -p vcf`)",
                    path_text));
            case idx_load_failed:
            case noidx_error:
                throw InputError(fmt::format(
                    "regions (-r) need an index (.tbi or .csi), but none was found for '{}'; {}",
                    path_text,
                    index_hint));
            case file_type_error:
            case header_error:
                throw FormatError(fmt::format("'{}' is not a readable VCF or BCF file ({})",
                                              path_text,
                                              bcf_sr_strerror(errnum)));
            default:
                throw IoError(
                    fmt::format("cannot open VCF '{}': {}", path_text, bcf_sr_strerror(errnum)));
        }
    }
    header = synced_header(synced.get());
    EVOSCOPE_CHECK_FORMAT(header != nullptr, "{}: cannot parse the VCF header", path_text);
}

bool VcfReader::Impl::read_record() {
    const std::int64_t record_no = summary.n_records + 1;
    if (synced) {
        if (bcf_sr_next_line(synced.get()) == 0) {
            const int errnum = synced->errnum;
            EVOSCOPE_CHECK_FORMAT(errnum == 0,
                                  "{}:{}: cannot read the record ({}; see htslib's message above)",
                                  path_text,
                                  record_no,
                                  bcf_sr_strerror(errnum));
            return false;
        }
        record = synced_line(synced.get());
        EVOSCOPE_ASSERT(record != nullptr);
    } else {
        const int ret = bcf_read(file.get(), header, record);
        // On a truncated or corrupt compressed file htslib 1.16 can hand back the partial
        // last line as a record (or stop as if at the end); the BGZF error flag tells.
        const BGZF* bgzf = hts_get_bgzfp(file.get());
        EVOSCOPE_CHECK_FORMAT(bgzf == nullptr || bgzf->errcode == 0,
                              "{}:{}: read error: the compressed file is truncated or corrupt",
                              path_text,
                              record_no);
        if (ret == -1) {
            return false;
        }
        EVOSCOPE_CHECK_FORMAT(ret == 0,
                              "{}:{}: malformed VCF/BCF record (see htslib's message above)",
                              path_text,
                              record_no);
    }
    ++summary.n_records;
    // Undefined contigs and tags are tolerated by htslib (it adds them to the header and
    // warns); everything else means the record did not parse.
    const int serious = record->errcode & ~(BCF_ERR_CTG_UNDEF | BCF_ERR_TAG_UNDEF);
    EVOSCOPE_CHECK_FORMAT(serious == 0,
                          "{}:{}: malformed VCF record: {}",
                          path_text,
                          record_no,
                          errcode_text(serious));
    return true;
}

void VcfReader::Impl::process_record() {
    const std::int64_t record_no = summary.n_records;
    // Must be called for VCF too before touching the alleles (htslib fills d lazily).
    EVOSCOPE_CHECK_FORMAT(bcf_unpack(record, BCF_UN_STR) == 0,
                          "{}:{}: cannot unpack the record",
                          path_text,
                          record_no);
    // htslib 1.16 parses VCF text leniently (a missing or non-numeric POS becomes -1, a short
    // line has no alleles, a space-separated line is one long contig name): catch those here.
    EVOSCOPE_CHECK_FORMAT(
        record->pos >= 0, "{}:{}: POS is missing or not a positive integer", path_text, record_no);
    EVOSCOPE_CHECK_FORMAT(record->n_allele >= 1 && record->d.allele[0][0] != '\0',
                          "{}:{}: the record has no REF allele (too few tab-separated columns?)",
                          path_text,
                          record_no);
    if (record->rid != cached_rid) {
        const char* name = bcf_seqname(header, record);
        EVOSCOPE_CHECK_FORMAT(
            name != nullptr, "{}:{}: record has no contig name", path_text, record_no);
        EVOSCOPE_CHECK_FORMAT(std::strpbrk(name, " \t") == nullptr,
                              "{}:{}: contig name '{}' has white space: VCF columns must be "
                              "separated by tabs",
                              path_text,
                              record_no,
                              name);
        cached_contig = name;
        cached_length = require_contig_length(
            fasta, cached_contig, fmt::format("{}:{}: ", path_text, record_no));
        cached_rid = record->rid;
    }
    const std::string& contig = cached_contig;
    const std::int64_t pos = record->pos;
    const int n_allele = record->n_allele;
    if (n_allele < 2) {
        return;  // no ALT: a reference-only site
    }
    std::vector<std::string> alts;
    for (int i = 1; i < n_allele; ++i) {
        const std::string_view alt(record->d.allele[i]);
        if (alt == ".") {
            continue;
        }
        if (is_symbolic(alt)) {
            ++summary.n_symbolic_skipped;
            continue;
        }
        EVOSCOPE_CHECK_FORMAT(is_acgtn(alt),
                              "{}:{}: ALT '{}' at {} has a character other than A, C, G, T, N",
                              path_text,
                              record_no,
                              alt,
                              locus_1b(contig, pos, 1));
        alts.push_back(to_upper(alt));
    }
    if (alts.empty()) {
        return;
    }
    const auto n_alts = static_cast<std::int64_t>(alts.size());
    const std::string_view ref_raw(record->d.allele[0]);
    if (!is_acgtn(ref_raw)) {
        summary.n_ref_n_skipped += n_alts;
        return;
    }
    std::string ref = to_upper(ref_raw);
    const auto ref_length = static_cast<std::int64_t>(ref.size());
    std::string problem;
    if (pos + ref_length > cached_length) {
        problem = fmt::format("{}:{}: REF '{}' at {} runs past the end of the contig ({} bp)",
                              path_text,
                              record_no,
                              ref,
                              locus_1b(contig, pos, ref_length),
                              cached_length);
    } else {
        const std::string reference = fasta.fetch(contig, pos, pos + ref_length);
        if (!ref_matches(ref, reference)) {
            problem = fmt::format("{}:{}: REF '{}' does not match the reference '{}' at {}",
                                  path_text,
                                  record_no,
                                  ref,
                                  reference,
                                  locus_1b(contig, pos, ref_length));
        }
    }
    if (!problem.empty()) {
        if (options.skip_ref_mismatch) {
            summary.n_ref_mismatch_skipped += n_alts;
            return;
        }
        throw InputError(problem + " (the skip-ref-mismatch option skips and counts such records)");
    }
    const char* id = record->d.id;
    const std::string id_text = (id == nullptr || *id == '\0') ? std::string(".") : std::string(id);
    for (auto& alt : alts) {
        pending.push_back(Variant{contig, pos, ref, std::move(alt), id_text, record_no});
    }
    summary.n_variants += n_alts;
}

VcfReader::VcfReader(const std::filesystem::path& path,
                     const FastaReader& fasta,
                     VcfOptions options)
    : impl_(std::make_unique<Impl>(path, fasta, std::move(options))) {
    if (impl_->options.regions.empty()) {
        impl_->open_streaming();
    } else {
        impl_->open_indexed();
    }
}

VcfReader::~VcfReader() = default;

VcfReader::VcfReader(VcfReader&&) noexcept = default;

VcfReader& VcfReader::operator=(VcfReader&&) noexcept = default;

std::optional<Variant> VcfReader::next() {
    Impl& s = *impl_;
    while (s.pending_next == s.pending.size()) {
        s.pending.clear();
        s.pending_next = 0;
        if (!s.read_record()) {
            return std::nullopt;
        }
        s.process_record();
    }
    return std::move(s.pending[s.pending_next++]);
}

const VcfSummary& VcfReader::summary() const {
    return impl_->summary;
}

std::string VcfReader::summary_line() const {
    const VcfSummary& s = impl_->summary;
    std::string line =
        fmt::format("records {}, variants {}, symbolic skipped {}, REF mismatches skipped {}",
                    s.n_records,
                    s.n_variants,
                    s.n_symbolic_skipped,
                    s.n_ref_mismatch_skipped);
    if (s.n_ref_n_skipped > 0) {
        line += fmt::format(", REF non-ACGTN skipped {}", s.n_ref_n_skipped);
    }
    return line;
}

// --- windows ---------------------------------------------------------------------------------

VariantWindowLayout variant_window_layout(std::int64_t contig_length,
                                          std::int64_t pos,
                                          std::int64_t ref_length,
                                          std::int64_t alt_length,
                                          std::int64_t window_bp) {
    EVOSCOPE_CHECK(window_bp > 0, "window length must be positive, got {}", window_bp);
    EVOSCOPE_CHECK(ref_length > 0 && alt_length > 0,
                   "REF and ALT must not be empty (lengths {} and {})",
                   ref_length,
                   alt_length);
    EVOSCOPE_CHECK(ref_length <= window_bp,
                   "the REF allele ({} bp) is longer than the window ({} bp)",
                   ref_length,
                   window_bp);
    EVOSCOPE_CHECK(pos >= 0 && pos + ref_length <= contig_length,
                   "variant at 0-based {} with a {} bp REF lies outside the contig ({} bp)",
                   pos,
                   ref_length,
                   contig_length);
    EVOSCOPE_CHECK(contig_length >= window_bp,
                   "the contig ({} bp) is shorter than the window ({} bp)",
                   contig_length,
                   window_bp);
    const std::int64_t haplotype_length = contig_length - ref_length + alt_length;
    EVOSCOPE_CHECK(haplotype_length >= window_bp,
                   "the contig with the variant applied ({} bp) is shorter than the window ({} bp)",
                   haplotype_length,
                   window_bp);
    const std::int64_t left_flank = (window_bp - ref_length) / 2;
    const std::int64_t ref_begin =
        std::clamp(pos - left_flank, std::int64_t{0}, contig_length - window_bp);
    const std::int64_t alt_begin = std::min(ref_begin, haplotype_length - window_bp);
    return {ref_begin, alt_begin};
}

VariantWindowPair make_variant_windows(const FastaReader& fasta,
                                       const Variant& variant,
                                       std::int64_t window_bp) {
    const std::string context = fmt::format(
        "variant {} {}>{}: ", locus_1b(variant.contig, variant.pos, 1), variant.ref, variant.alt);
    const std::int64_t contig_length = require_contig_length(fasta, variant.contig, context);
    EVOSCOPE_CHECK(is_acgtn(variant.ref) && is_acgtn(variant.alt),
                   "{}REF and ALT must be non-empty A/C/G/T/N sequences",
                   context);
    const std::string ref = to_upper(variant.ref);
    const std::string alt = to_upper(variant.alt);
    const auto ref_length = static_cast<std::int64_t>(ref.size());
    const auto alt_length = static_cast<std::int64_t>(alt.size());
    VariantWindowLayout layout;
    try {
        layout =
            variant_window_layout(contig_length, variant.pos, ref_length, alt_length, window_bp);
    } catch (const InputError& e) {
        throw InputError(context + e.what());
    }
    const std::int64_t pos = variant.pos;
    // The alt window is H[alt_begin, alt_begin + W): contig[alt_begin, pos), then ALT, then
    // `right` bases from contig[pos + R, ...) (none when ALT already reaches the window end).
    const std::int64_t right =
        std::max(std::int64_t{0}, layout.alt_begin + window_bp - (pos + alt_length));
    const std::int64_t span_begin = layout.alt_begin;  // alt_begin <= ref_begin always
    const std::int64_t span_end = std::max(layout.ref_begin + window_bp, pos + ref_length + right);
    const std::string span = to_upper(fasta.fetch(variant.contig, span_begin, span_end));
    const auto at = [&](std::int64_t contig_pos) {
        return static_cast<std::size_t>(contig_pos - span_begin);
    };
    const auto w = static_cast<std::size_t>(window_bp);

    const std::string_view reference =
        std::string_view(span).substr(at(pos), static_cast<std::size_t>(ref_length));
    EVOSCOPE_CHECK(ref_matches(ref, reference),
                   "{}REF does not match the reference '{}' at {}",
                   context,
                   reference,
                   locus_1b(variant.contig, pos, ref_length));

    VariantWindowPair out;
    out.variant = variant;
    out.ref_window =
        Interval{variant.contig, layout.ref_begin, layout.ref_begin + window_bp, Strand::Forward};
    out.ref_seq = span.substr(at(layout.ref_begin), w);
    out.alt_seq.reserve(w + alt.size());
    out.alt_seq.append(
        span, at(layout.alt_begin), static_cast<std::size_t>(pos - layout.alt_begin));
    out.alt_seq += alt;
    out.alt_seq.append(span, at(pos + ref_length), static_cast<std::size_t>(right));
    out.alt_seq.resize(w);  // cuts an ALT that runs past the window end
    out.ref_offset = pos - layout.ref_begin;
    out.alt_offset = pos - layout.alt_begin;
    EVOSCOPE_ASSERT(out.ref_seq.size() == w && out.alt_seq.size() == w);
    return out;
}

}  // namespace evoscope::genomics
