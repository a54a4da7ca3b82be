#include "genomics/fasta_reader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <system_error>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include "core/check.hpp"
#include "core/output_file.hpp"
#include "core/strings.hpp"
#include "genomics/detail/hts_handles.hpp"

namespace evoscope::genomics {

namespace fs = std::filesystem;

namespace {

/// One .fai line beyond name and length: where the bases are and how they are wrapped.
struct FaiLayout {
    std::int64_t offset = 0;      ///< byte offset of the first base
    std::int64_t line_bases = 0;  ///< bases per full line
    std::int64_t line_bytes = 0;  ///< bytes per full line, terminator included
};

}  // namespace

struct FastaReader::Handle {
    detail::FaidxPtr fai;
    std::map<std::string, std::size_t, std::less<>> index;  ///< name -> position in contigs_
    std::vector<FaiLayout> layout;                          ///< parallel to contigs_
    int fd = -1;  ///< plain FASTA only: read directly with pread (thread safe, no seek state)

    Handle() = default;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    ~Handle() {
        if (fd >= 0)
            ::close(fd);
    }
};

namespace {

std::string errno_text(int err) {
    return std::string(std::strerror(err));
}

// --- file type --------------------------------------------------------------------------------

enum class Compression { None, Bgzf, Gzip };

/// Looks at the first bytes: gzip magic, and for BGZF the "BC" extra subfield (SAM spec 4.1).
Compression sniff_compression(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw IoError(fmt::format("cannot open FASTA '{}': {}", path.string(), errno_text(errno)));
    }
    std::array<unsigned char, 18> head{};
    std::size_t n_read = 0;
    while (n_read < head.size()) {
        const ssize_t got = ::read(fd, head.data() + n_read, head.size() - n_read);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            const int err = errno;
            ::close(fd);
            throw IoError(
                fmt::format("cannot read FASTA '{}': {}", path.string(), errno_text(err)));
        }
        if (got == 0)
            break;
        n_read += static_cast<std::size_t>(got);
    }
    ::close(fd);
    EVOSCOPE_CHECK_FORMAT(n_read > 0, "FASTA '{}' is empty", path.string());
    if (n_read < 2 || head[0] != 0x1f || head[1] != 0x8b)
        return Compression::None;
    const bool bgzf = n_read >= 16 && (head[3] & 0x04) != 0 && head[12] == 'B' && head[13] == 'C';
    return bgzf ? Compression::Bgzf : Compression::Gzip;
}

[[noreturn]] void throw_plain_gzip(const fs::path& path) {
    throw FormatError(
        fmt::format("FASTA '{}' is compressed with plain gzip, which does not allow random access; "
                    "recompress it with bgzip: `gzip -dc {} | bgzip > new.fa.gz` (or `bgzip` the "
                    "uncompressed file)",
                    path.string(),
                    path.string()));
}

// --- diagnosis of files that htslib refuses to index -------------------------------------------

/// Reads the (possibly BGZF-compressed) FASTA line by line and throws FormatError naming the
/// first line that faidx cannot index. htslib's own messages lack the line number for the
/// commonest problem (a line longer than the first line of its record), so we re-check with
/// the same rules (faidx.c fai_build_core): within a record, every sequence line has the byte
/// length of the first one, except the last, which may be shorter; no blank line inside a
/// record; and no sequence name twice (htslib keeps the first record of a name and silently drops
/// the others). Returns normally when it finds nothing wrong.
void diagnose_fasta(const fs::path& path) {
    detail::BgzfPtr fp(bgzf_open(path.c_str(), "r"));
    if (!fp) {
        throw IoError(fmt::format("cannot open FASTA '{}': {}", path.string(), errno_text(errno)));
    }
    if (bgzf_compression(fp.get()) == 1)
        throw_plain_gzip(path);

    const std::string where = path.string();
    std::int64_t line_no = 0;
    bool in_record = false;
    std::string name;
    std::int64_t first_line_no = 0;
    std::size_t first_line_bytes = 0;  // including the newline
    std::int64_t short_line_no = 0;    // a line shorter than the first, if seen
    std::size_t short_line_bytes = 0;
    std::int64_t blank_line_no = 0;  // a blank line after sequence, if seen
    bool have_seq = false;
    std::unordered_map<std::string, std::pair<std::int64_t, std::string>>
        headers;  // name -> line, text

    auto check_line = [&](std::string_view line) {
        ++line_no;
        const std::size_t bytes = line.size() + 1;
        std::string_view content = line;
        if (!content.empty() && content.back() == '\r')
            content.remove_suffix(1);
        if (content.empty()) {
            if (in_record && have_seq && blank_line_no == 0)
                blank_line_no = line_no;
            return;
        }
        if (content.front() == '>') {
            const auto words = split_whitespace(content.substr(1));
            EVOSCOPE_CHECK_FORMAT(
                !words.empty(), "{}:{}: header line has no sequence name", where, line_no);
            name = std::string(words.front());
            const auto [it, inserted] =
                headers.try_emplace(name, line_no, std::string(content.substr(0, 80)));
            if (!inserted) {
                throw FormatError(
                    fmt::format("{}:{}: sequence name '{}' is used twice: line {} '{}' and line {} "
                                "'{}' (an index "
                                "keeps only the first; rename one of them)",
                                where,
                                line_no,
                                name,
                                it->second.first,
                                it->second.second,
                                line_no,
                                content.substr(0, 80)));
            }
            in_record = true;
            have_seq = false;
            first_line_no = short_line_no = blank_line_no = 0;
            first_line_bytes = short_line_bytes = 0;
            return;
        }
        if (!in_record) {
            EVOSCOPE_CHECK_FORMAT(
                content.front() != '@', "{}:{}: this looks like FASTQ, not FASTA", where, line_no);
            throw FormatError(
                fmt::format("{}:{}: not FASTA: expected a '>' header line, found '{}'",
                            where,
                            line_no,
                            content.substr(0, 20)));
        }
        EVOSCOPE_CHECK_FORMAT(blank_line_no == 0,
                              "{}:{}: blank line inside sequence '{}' (faidx cannot index it)",
                              where,
                              blank_line_no,
                              name);
        if (short_line_no != 0) {
            throw FormatError(fmt::format(
                "{}:{}: irregular line length in sequence '{}': line {} has {} bases but the "
                "record's lines have {} (line {}); only the last line of a record may be shorter. "
                "Rewrap the file, e.g. `seqkit seq -w 60` or `samtools faidx --length 60`",
                where,
                short_line_no,
                name,
                short_line_no,
                short_line_bytes - 1,
                first_line_bytes - 1,
                first_line_no));
        }
        have_seq = true;
        if (first_line_no == 0) {
            first_line_no = line_no;
            first_line_bytes = bytes;
        } else if (bytes > first_line_bytes) {
            throw FormatError(fmt::format(
                "{}:{}: irregular line length in sequence '{}': line {} has {} bases but the "
                "record's lines have {} (line {}). Rewrap the file, e.g. `seqkit seq -w 60` or "
                "`samtools faidx --length 60`",
                where,
                line_no,
                name,
                line_no,
                bytes - 1,
                first_line_bytes - 1,
                first_line_no));
        } else if (bytes < first_line_bytes) {
            short_line_no = line_no;
            short_line_bytes = bytes;
        }
    };

    std::string pending;
    std::vector<char> block(1 << 16);
    while (true) {
        const ssize_t got = bgzf_read(fp.get(), block.data(), block.size());
        if (got < 0) {
            throw IoError(fmt::format("cannot read FASTA '{}' (decompression failed)", where));
        }
        if (got == 0)
            break;
        std::string_view data(block.data(), static_cast<std::size_t>(got));
        while (!data.empty()) {
            const std::size_t nl = data.find('\n');
            if (nl == std::string_view::npos) {
                pending.append(data);
                break;
            }
            if (pending.empty()) {
                check_line(data.substr(0, nl));
            } else {
                pending.append(data.substr(0, nl));
                check_line(pending);
                pending.clear();
            }
            data.remove_prefix(nl + 1);
        }
    }
    if (!pending.empty())
        check_line(pending);
    EVOSCOPE_CHECK_FORMAT(in_record, "FASTA '{}' has no records ('>' header lines)", where);
    EVOSCOPE_CHECK_FORMAT(
        have_seq, "{}:{}: the last record '{}' has no sequence", where, line_no, name);
}

/// htslib would happily index FASTQ (and fai_load would then read it as FASTA), so look at the
/// first non-blank byte ourselves; anything but '>' gets the full diagnosis.
void check_starts_like_fasta(const fs::path& path) {
    detail::BgzfPtr fp(bgzf_open(path.c_str(), "r"));
    if (!fp) {
        throw IoError(fmt::format("cannot open FASTA '{}': {}", path.string(), errno_text(errno)));
    }
    std::array<char, 4096> head{};
    const ssize_t got = bgzf_read(fp.get(), head.data(), head.size());
    EVOSCOPE_CHECK_IO(got >= 0, "cannot read FASTA '{}' (decompression failed)", path.string());
    for (std::size_t i = 0; i < static_cast<std::size_t>(got); ++i) {
        const char c = head[i];
        if (c == '\n' || c == '\r' || c == ' ' || c == '\t')
            continue;
        if (c == '>')
            return;
        break;
    }
    diagnose_fasta(path);
    throw FormatError(fmt::format("'{}' is not a FASTA file (no '>' header line)", path.string()));
}

// --- index location ---------------------------------------------------------------------------

std::string hex_fnv1a(std::string_view text) {
    std::uint64_t h = 14695981039346656037ULL;
    for (const char c : text) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    return fmt::format("{:016x}", h);
}

fs::path default_cache_dir() {
    const auto env = [](const char* name) -> std::string {
        const char* v = std::getenv(name);
        return v == nullptr ? std::string() : std::string(v);
    };
    if (auto dir = env("EVOSCOPE_CACHE_DIR"); !dir.empty())
        return dir;
    if (auto dir = env("XDG_CACHE_HOME"); !dir.empty())
        return fs::path(dir) / "evoscope";
    if (auto dir = env("HOME"); !dir.empty())
        return fs::path(dir) / ".cache" / "evoscope";
    return {};
}

fs::path with_suffix(const fs::path& path, const char* suffix) {
    fs::path out = path;
    out += suffix;
    return out;
}

/// True when `index` exists and is not older than the FASTA.
bool is_fresh(const fs::path& index, fs::file_time_type fasta_mtime) {
    std::error_code ec;
    const auto t = fs::last_write_time(index, ec);
    return !ec && t >= fasta_mtime;
}

struct IndexPaths {
    fs::path fai;
    fs::path gzi;  ///< empty for an uncompressed FASTA
};

bool index_is_fresh(const IndexPaths& p, fs::file_time_type fasta_mtime) {
    return is_fresh(p.fai, fasta_mtime) && (p.gzi.empty() || is_fresh(p.gzi, fasta_mtime));
}

/// Builds the index into temporaries beside `dest` and renames them into place. Returns false
/// (with `why` set) when no file can be created in that folder; throws on any other failure.
bool try_build_index(const fs::path& fasta, const IndexPaths& dest, std::string& why) {
    const fs::path fai_tmp = temp_path_for(dest.fai);
    const fs::path gzi_tmp = dest.gzi.empty() ? fs::path() : temp_path_for(dest.gzi);
    // Probe by creating the file rather than access(W_OK): root passes access() on folders it
    // cannot really write (read-only mounts, /proc), and a probe is what the build will do anyway.
    const int fd = ::open(fai_tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        why = fmt::format("'{}': {}", dest.fai.parent_path().string(), errno_text(errno));
        return false;
    }
    ::close(fd);

    struct Cleanup {
        const fs::path& a;
        const fs::path& b;
        bool active = true;

        ~Cleanup() {
            if (!active)
                return;
            std::error_code ec;
            fs::remove(a, ec);
            if (!b.empty())
                fs::remove(b, ec);
        }
    } cleanup{fai_tmp, gzi_tmp};

    int rc = 0;
    int err = 0;
    {
        const detail::HtsLogSilencer quiet;
        errno = 0;
        rc =
            fai_build3(fasta.c_str(), fai_tmp.c_str(), gzi_tmp.empty() ? nullptr : gzi_tmp.c_str());
        err = errno;
    }
    if (rc != 0) {
        diagnose_fasta(fasta);  // throws FormatError with the line when the content is at fault
        throw IoError(fmt::format("cannot build the FASTA index of '{}' in '{}'{}",
                                  fasta.string(),
                                  dest.fai.parent_path().string(),
                                  err != 0 ? ": " + errno_text(err) : std::string()));
    }
    // faidx accepted it, but it drops records whose name repeats: check the names (and lines)
    // once, when the index is built, before the index is kept.
    diagnose_fasta(fasta);
    if (!gzi_tmp.empty())
        commit_temp_file(gzi_tmp, dest.gzi);
    commit_temp_file(fai_tmp, dest.fai);
    cleanup.active = false;
    return true;
}

/// Reads a .fai (columns: name, length, offset, line bases, line bytes).
std::vector<ContigInfo> read_fai(const fs::path& fai, std::vector<FaiLayout>& layout) {
    std::ifstream in(fai, std::ios::binary);
    if (!in) {
        throw IoError(
            fmt::format("cannot read FASTA index '{}': {}", fai.string(), errno_text(errno)));
    }
    std::vector<ContigInfo> out;
    std::string line;
    std::int64_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (trim(line).empty())
            continue;
        const auto fields = split(line, '\t');
        EVOSCOPE_CHECK_FORMAT(fields.size() >= 5,
                              "{}:{}: malformed FASTA index line (expected 5 tab-separated "
                              "columns); delete the index to have it rebuilt",
                              fai.string(),
                              line_no);
        auto number = [&](std::size_t column) {
            std::int64_t value = -1;
            try {
                value = parse_int64(fields[column], "number");
            } catch (const InputError&) {
            }
            EVOSCOPE_CHECK_FORMAT(value >= 0,
                                  "{}:{}: invalid number '{}' in column {} of the FASTA index; "
                                  "delete the index to have it rebuilt",
                                  fai.string(),
                                  line_no,
                                  fields[column],
                                  column + 1);
            return value;
        };
        out.push_back(ContigInfo{std::string(fields[0]), number(1)});
        layout.push_back(FaiLayout{number(2), number(3), number(4)});
    }
    return out;
}

/// `quiet` silences htslib's logging during the call; clone() passes false because the log
/// level is one process-wide variable and clones are made from worker threads.
detail::FaidxPtr load_faidx(const fs::path& fasta,
                            const fs::path& fai,
                            const fs::path& gzi,
                            bool quiet) {
    std::optional<detail::HtsLogSilencer> silencer;
    if (quiet)
        silencer.emplace();
    errno = 0;
    detail::FaidxPtr handle(
        fai_load3(fasta.c_str(), fai.c_str(), gzi.empty() ? nullptr : gzi.c_str(), 0));
    if (!handle) {
        const int err = errno;
        throw IoError(fmt::format("cannot open FASTA '{}' with index '{}'{}",
                                  fasta.string(),
                                  fai.string(),
                                  err != 0 ? ": " + errno_text(err) : std::string()));
    }
    return handle;
}

int open_for_pread(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EVOSCOPE_CHECK_IO(fd >= 0, "cannot open FASTA '{}': {}", path.string(), errno_text(errno));
    return fd;
}

/// Bases [begin, end) of an uncompressed FASTA straight from the file: one pread of the byte
/// span, then the line terminators are cut out. htslib 1.16's faidx_fetch_seq64 goes through
/// bgzf_getc byte by byte, about ten times slower for the megabase chunks that windowing reads.
/// Each skipped terminator must end in '\n', which catches an index that no longer fits the file.
std::string read_plain(int fd,
                       const FaiLayout& layout,
                       std::int64_t begin,
                       std::int64_t end,
                       const std::string& contig,
                       const fs::path& path,
                       const fs::path& fai) {
    const std::int64_t lb = layout.line_bases;
    const std::int64_t terminator = layout.line_bytes - lb;
    const auto byte_of = [&](std::int64_t pos) {
        return layout.offset + (pos / lb) * layout.line_bytes + pos % lb;
    };
    const std::int64_t first = byte_of(begin);
    const std::int64_t last = byte_of(end - 1) + 1;
    std::string raw(static_cast<std::size_t>(last - first), '\0');
    std::size_t done = 0;
    while (done < raw.size()) {
        const ssize_t got = ::pread(fd,
                                    raw.data() + done,
                                    raw.size() - done,
                                    static_cast<off_t>(first + static_cast<std::int64_t>(done)));
        if (got < 0 && errno == EINTR)
            continue;
        EVOSCOPE_CHECK_IO(got >= 0, "cannot read FASTA '{}': {}", path.string(), errno_text(errno));
        EVOSCOPE_CHECK_IO(got > 0,
                          "FASTA '{}' ends before {}:{}-{}; is the index '{}' out of date?",
                          path.string(),
                          contig,
                          begin + 1,
                          end,
                          fai.string());
        done += static_cast<std::size_t>(got);
    }
    std::string out(static_cast<std::size_t>(end - begin), '\0');
    std::size_t src = 0;
    std::size_t dst = 0;
    std::int64_t pos = begin;
    while (pos < end) {
        const std::int64_t n = std::min(lb - pos % lb, end - pos);
        std::memcpy(out.data() + dst, raw.data() + src, static_cast<std::size_t>(n));
        dst += static_cast<std::size_t>(n);
        src += static_cast<std::size_t>(n);
        pos += n;
        if (pos < end) {
            src += static_cast<std::size_t>(terminator);
            EVOSCOPE_CHECK_IO(raw[src - 1] == '\n',
                              "FASTA '{}' does not match its index '{}' near {}:{}; delete the "
                              "index to have it rebuilt",
                              path.string(),
                              fai.string(),
                              contig,
                              pos + 1);
        }
    }
    return out;
}

}  // namespace

FastaReader::FastaReader(std::filesystem::path path, FastaOptions options)
    : path_(std::move(path)), options_(std::move(options)) {
    open();
}

FastaReader::~FastaReader() = default;
FastaReader::FastaReader(FastaReader&&) noexcept = default;
FastaReader& FastaReader::operator=(FastaReader&&) noexcept = default;

void FastaReader::open() {
    std::error_code ec;
    const auto status = fs::status(path_, ec);
    if (!fs::exists(status)) {
        throw IoError(fmt::format(
            "cannot open FASTA '{}': {}", path_.string(), ec ? ec.message() : errno_text(ENOENT)));
    }
    EVOSCOPE_CHECK_IO(
        !fs::is_directory(status), "cannot open FASTA '{}': it is a directory", path_.string());

    const Compression compression = sniff_compression(path_);
    if (compression == Compression::Gzip)
        throw_plain_gzip(path_);
    bgzf_ = compression == Compression::Bgzf;
    check_starts_like_fasta(path_);

    const auto fasta_mtime = fs::last_write_time(path_, ec);
    EVOSCOPE_CHECK_IO(!ec, "cannot stat FASTA '{}': {}", path_.string(), ec.message());

    const IndexPaths beside{with_suffix(path_, ".fai"),
                            bgzf_ ? with_suffix(path_, ".gzi") : fs::path()};
    // The cache name is unique per absolute FASTA path (hash) and readable (file name).
    fs::path cache_dir =
        options_.index_cache_dir.empty() ? default_cache_dir() : options_.index_cache_dir;
    IndexPaths cached;
    if (!cache_dir.empty()) {
        const std::string stem = hex_fnv1a(fs::absolute(path_).lexically_normal().string()) + "-" +
                                 path_.filename().string();
        cached.fai = cache_dir / (stem + ".fai");
        if (bgzf_)
            cached.gzi = cache_dir / (stem + ".gzi");
    }

    IndexPaths chosen;
    if (index_is_fresh(beside, fasta_mtime)) {
        chosen = beside;
    } else if (!cached.fai.empty() && index_is_fresh(cached, fasta_mtime)) {
        chosen = cached;
    } else {
        std::string why_beside;
        if (options_.index_beside_fasta && try_build_index(path_, beside, why_beside)) {
            chosen = beside;
        } else {
            if (why_beside.empty())
                why_beside = "disabled by FastaOptions::index_beside_fasta";
            EVOSCOPE_CHECK_IO(!cache_dir.empty(),
                              "cannot write a FASTA index beside '{}' ({}) and no cache directory "
                              "is set (set EVOSCOPE_CACHE_DIR or HOME)",
                              path_.string(),
                              why_beside);
            fs::create_directories(cache_dir, ec);
            std::string why_cache;
            if (ec) {
                why_cache = fmt::format("'{}': {}", cache_dir.string(), ec.message());
            } else if (try_build_index(path_, cached, why_cache)) {
                chosen = cached;
            }
            EVOSCOPE_CHECK_IO(!chosen.fai.empty(),
                              "cannot write a FASTA index for '{}' beside it ({}) nor in the cache "
                              "directory ({}); set EVOSCOPE_CACHE_DIR to a writable folder",
                              path_.string(),
                              why_beside,
                              why_cache);
        }
    }
    fai_path_ = chosen.fai;
    gzi_path_ = chosen.gzi;

    auto handle = std::make_unique<Handle>();
    contigs_ = read_fai(fai_path_, handle->layout);
    handle->fai = load_faidx(path_, fai_path_, gzi_path_, true);
    if (!bgzf_)
        handle->fd = open_for_pread(path_);
    EVOSCOPE_CHECK_FORMAT(
        faidx_nseq(handle->fai.get()) >= 0 &&
            static_cast<std::size_t>(faidx_nseq(handle->fai.get())) == contigs_.size(),
        "FASTA index '{}' lists a sequence name twice; delete it and check the "
        "FASTA for duplicate names",
        fai_path_.string());
    for (std::size_t i = 0; i < contigs_.size(); ++i)
        handle->index.emplace(contigs_[i].name, i);
    handle_ = std::move(handle);
}

FastaReader FastaReader::clone() const {
    FastaReader copy;
    copy.path_ = path_;
    copy.fai_path_ = fai_path_;
    copy.gzi_path_ = gzi_path_;
    copy.options_ = options_;
    copy.bgzf_ = bgzf_;
    copy.contigs_ = contigs_;
    auto handle = std::make_unique<Handle>();
    handle->fai = load_faidx(path_, fai_path_, gzi_path_, false);
    handle->index = handle_->index;
    handle->layout = handle_->layout;
    if (!bgzf_)
        handle->fd = open_for_pread(path_);
    copy.handle_ = std::move(handle);
    return copy;
}

std::optional<std::int64_t> FastaReader::contig_length(std::string_view contig) const {
    const auto it = handle_->index.find(contig);
    if (it == handle_->index.end())
        return std::nullopt;
    return contigs_[it->second].length;
}

std::string FastaReader::fetch(std::string_view contig,
                               std::int64_t begin,
                               std::int64_t end) const {
    const auto it = handle_->index.find(contig);
    if (it == handle_->index.end()) {
        std::vector<std::string> names;
        names.reserve(contigs_.size());
        for (const auto& c : contigs_)
            names.push_back(c.name);
        throw InputError(fmt::format("unknown contig '{}' in FASTA '{}'; closest names: {}",
                                     contig,
                                     path_.string(),
                                     fmt::join(closest_names(contig, names), ", ")));
    }
    const ContigInfo& info = contigs_[it->second];
    EVOSCOPE_CHECK(0 <= begin && begin <= end && end <= info.length,
                   "range [{}, {}) is outside contig '{}' (length {}) of FASTA '{}'",
                   begin,
                   end,
                   info.name,
                   info.length,
                   path_.string());
    if (begin == end)
        return {};
    const FaiLayout& layout = handle_->layout[it->second];
    if (handle_->fd >= 0 && layout.line_bases > 0 && layout.line_bytes > layout.line_bases) {
        return read_plain(handle_->fd, layout, begin, end, info.name, path_, fai_path_);
    }
    hts_pos_t got = 0;
    // faidx_fetch_seq64 takes an inclusive end and silently clamps; check the length we get.
    const detail::CharBufPtr buf(
        faidx_fetch_seq64(handle_->fai.get(), info.name.c_str(), begin, end - 1, &got));
    EVOSCOPE_CHECK_IO(buf != nullptr && got == end - begin,
                      "cannot read {}:{}-{} from FASTA '{}' (got {} of {} bases); is the index "
                      "'{}' out of date?",
                      info.name,
                      begin + 1,
                      end,
                      path_.string(),
                      got,
                      end - begin,
                      fai_path_.string());
    return std::string(buf.get(), static_cast<std::size_t>(got));
}

}  // namespace evoscope::genomics
