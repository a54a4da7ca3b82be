#include "genomics/bigwig_writer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/error.hpp"
#include "genomics/detail/bigwig_handles.hpp"

namespace evoscope::genomics {

std::vector<ContigInfo> sort_contigs_c_locale(std::vector<ContigInfo> contigs) {
    std::sort(contigs.begin(), contigs.end(), [](const ContigInfo& a, const ContigInfo& b) {
        return std::strcmp(a.name.c_str(), b.name.c_str()) < 0;
    });
    return contigs;
}

namespace {

// Entries are handed to libBigWig in batches of this many (one bwAdd/bwAppend call each).
constexpr std::size_t kBatch = 4096;

}  // namespace

struct BigWigWriter::State {
    std::filesystem::path path;
    std::vector<ContigInfo> contigs;
    detail::BigWigPtr bw;
    bool closed = false;

    // The entry being extended (merging equal touching neighbours).
    bool has_pending = false;
    std::size_t pending_contig = 0;
    std::uint32_t pending_begin = 0;
    std::uint32_t pending_end = 0;
    float pending_value = 0.0F;

    // Entries of `batch_contig` not yet handed over.
    std::size_t batch_contig = 0;
    bool contig_started = false;  // bwAddIntervals done for batch_contig
    std::vector<std::uint32_t> begins;
    std::vector<std::uint32_t> ends;
    std::vector<float> values;

    std::int64_t n_entries = 0;
    std::int64_t n_bases = 0;
    double min_value = std::numeric_limits<double>::infinity();
    double max_value = -std::numeric_limits<double>::infinity();

    void flush_batch() {
        if (begins.empty()) {
            return;
        }
        const char* name = contigs[batch_contig].name.c_str();
        std::size_t from = 0;
        if (!contig_started) {
            const int rc =
                bwAddIntervals(bw.get(), &name, begins.data(), ends.data(), values.data(), 1);
            EVOSCOPE_CHECK_IO(
                rc == 0, "{}: libBigWig could not add an entry (code {})", path.string(), rc);
            contig_started = true;
            from = 1;
        }
        if (from < begins.size()) {
            const int rc = bwAppendIntervals(bw.get(),
                                             begins.data() + from,
                                             ends.data() + from,
                                             values.data() + from,
                                             static_cast<std::uint32_t>(begins.size() - from));
            EVOSCOPE_CHECK_IO(
                rc == 0, "{}: libBigWig could not add entries (code {})", path.string(), rc);
        }
        begins.clear();
        ends.clear();
        values.clear();
    }

    void emit_pending() {
        if (!has_pending) {
            return;
        }
        if (pending_contig != batch_contig) {
            flush_batch();
            batch_contig = pending_contig;
            contig_started = false;
        }
        begins.push_back(pending_begin);
        ends.push_back(pending_end);
        values.push_back(pending_value);
        ++n_entries;
        n_bases += pending_end - pending_begin;
        min_value = std::min(min_value, static_cast<double>(pending_value));
        max_value = std::max(max_value, static_cast<double>(pending_value));
        has_pending = false;
        if (begins.size() >= kBatch) {
            flush_batch();
        }
    }
};

BigWigWriter::BigWigWriter(std::filesystem::path path,
                           std::vector<ContigInfo> contigs,
                           int zoom_levels)
    : state_(std::make_unique<State>()) {
    State& s = *state_;
    s.path = std::move(path);
    s.contigs = std::move(contigs);
    EVOSCOPE_CHECK(!s.contigs.empty(), "{}: a bigWig needs at least one contig", s.path.string());
    EVOSCOPE_CHECK(zoom_levels >= 1 && zoom_levels <= 10,
                   "{}: zoom levels must be 1 to 10, got {}",
                   s.path.string(),
                   zoom_levels);
    std::set<std::string> seen;
    std::vector<const char*> names;
    std::vector<std::uint32_t> lengths;
    for (const auto& c : s.contigs) {
        EVOSCOPE_CHECK(
            seen.insert(c.name).second, "{}: contig '{}' given twice", s.path.string(), c.name);
        EVOSCOPE_CHECK(c.length > 0 && c.length <= std::numeric_limits<std::uint32_t>::max(),
                       "{}: contig '{}' has length {}; bigWig needs 1 to 4,294,967,295 bp",
                       s.path.string(),
                       c.name,
                       c.length);
        names.push_back(c.name.c_str());
        lengths.push_back(static_cast<std::uint32_t>(c.length));
    }
    EVOSCOPE_CHECK_IO(detail::bigwig_library_init() == 0, "libBigWig could not be initialised");
    s.bw.reset(bwOpen(s.path.c_str(), nullptr, "w"));
    EVOSCOPE_CHECK_IO(s.bw != nullptr, "{}: cannot create bigWig file", s.path.string());
    int rc = bwCreateHdr(s.bw.get(), zoom_levels);
    EVOSCOPE_CHECK_IO(rc == 0, "{}: libBigWig header failed (code {})", s.path.string(), rc);
    // libBigWig copies the names and lengths.
    s.bw->cl =
        bwCreateChromList(names.data(), lengths.data(), static_cast<std::int64_t>(names.size()));
    EVOSCOPE_CHECK_IO(s.bw->cl != nullptr, "{}: libBigWig chromosome list failed", s.path.string());
    rc = bwWriteHdr(s.bw.get());
    EVOSCOPE_CHECK_IO(
        rc == 0, "{}: writing the bigWig header failed (code {})", s.path.string(), rc);
    s.begins.reserve(kBatch);
    s.ends.reserve(kBatch);
    s.values.reserve(kBatch);
}

BigWigWriter::~BigWigWriter() {
    if (state_ && !state_->closed) {
        state_->bw.reset();
        std::error_code ec;
        std::filesystem::remove(state_->path, ec);
    }
}

void BigWigWriter::add(std::size_t contig, std::int64_t begin, std::int64_t end, float value) {
    State& s = *state_;
    EVOSCOPE_CHECK(!s.closed, "{}: add() after close()", s.path.string());
    EVOSCOPE_CHECK(contig < s.contigs.size(),
                   "{}: contig index {} is not in the file's {} contigs",
                   s.path.string(),
                   contig,
                   s.contigs.size());
    const ContigInfo& info = s.contigs[contig];
    EVOSCOPE_CHECK(begin >= 0 && begin < end && end <= info.length,
                   "{}: entry {}:{}-{} is empty or outside the contig (length {})",
                   s.path.string(),
                   info.name,
                   begin,
                   end,
                   info.length);
    EVOSCOPE_CHECK(std::isfinite(value),
                   "{}: entry {}:{}-{} has value {}",
                   s.path.string(),
                   info.name,
                   begin,
                   end,
                   value);
    const auto b = static_cast<std::uint32_t>(begin);
    const auto e = static_cast<std::uint32_t>(end);
    if (s.has_pending) {
        const bool same_contig = contig == s.pending_contig;
        EVOSCOPE_CHECK(contig > s.pending_contig || (same_contig && b >= s.pending_end),
                       "{}: entry {}:{}-{} comes after {}:{}-{}; entries must follow the contig "
                       "order of the file and ascend within a contig",
                       s.path.string(),
                       info.name,
                       begin,
                       end,
                       s.contigs[s.pending_contig].name,
                       s.pending_begin,
                       s.pending_end);
        if (same_contig && b == s.pending_end && value == s.pending_value) {
            s.pending_end = e;
            return;
        }
        s.emit_pending();
    }
    s.has_pending = true;
    s.pending_contig = contig;
    s.pending_begin = b;
    s.pending_end = e;
    s.pending_value = value;
}

bool BigWigWriter::close() {
    State& s = *state_;
    if (s.closed) {
        return s.n_entries > 0;
    }
    s.emit_pending();
    s.flush_batch();
    if (s.n_entries == 0) {
        s.bw.reset();
        s.closed = true;
        std::error_code ec;
        std::filesystem::remove(s.path, ec);
        return false;
    }
    // libBigWig 0.4.7 updates the header's maximum only for values that are not a new minimum,
    // so a descending track would report a wrong maximum: set both from what was written.
    s.bw->hdr->minVal = s.min_value;
    s.bw->hdr->maxVal = s.max_value;
    // bwClose() finalises (index, zoom levels) but cannot report failure: reopen to check.
    s.bw.reset();
    s.closed = true;
    detail::BigWigPtr check(bwOpen(s.path.c_str(), nullptr, "r"));
    if (check == nullptr || check->hdr == nullptr || check->hdr->nLevels == 0) {
        check.reset();
        std::error_code ec;
        std::filesystem::remove(s.path, ec);
        throw IoError(fmt::format("{}: writing the bigWig failed (the file does not read back)",
                                  s.path.string()));
    }
    return true;
}

const std::filesystem::path& BigWigWriter::path() const {
    return state_->path;
}

const std::vector<ContigInfo>& BigWigWriter::contigs() const {
    return state_->contigs;
}

std::int64_t BigWigWriter::n_entries() const {
    return state_->n_entries;
}

std::int64_t BigWigWriter::n_bases() const {
    return state_->n_bases;
}

}  // namespace evoscope::genomics
