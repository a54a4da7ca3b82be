#include "genomics/bed_writer.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/error.hpp"
#include "genomics/detail/hts_handles.hpp"

namespace evoscope::genomics {

std::string format_bed9(const Bed9Record& r) {
    EVOSCOPE_CHECK(!r.contig.empty() && r.begin >= 0 && r.end >= r.begin,
                   "BED item {}:{}-{} has no valid interval",
                   r.contig,
                   r.begin,
                   r.end);
    EVOSCOPE_CHECK(r.thick_begin >= r.begin && r.thick_end >= r.thick_begin && r.thick_end <= r.end,
                   "BED item {}:{}-{}: thick part {}-{} is outside the item",
                   r.contig,
                   r.begin,
                   r.end,
                   r.thick_begin,
                   r.thick_end);
    EVOSCOPE_CHECK(r.score >= 0 && r.score <= 1000,
                   "BED item {}:{}-{}: score {} is outside 0..1000",
                   r.contig,
                   r.begin,
                   r.end,
                   r.score);
    EVOSCOPE_CHECK(r.strand == '+' || r.strand == '-' || r.strand == '.',
                   "BED item {}:{}-{}: strand '{}' is not +, - or .",
                   r.contig,
                   r.begin,
                   r.end,
                   r.strand);
    EVOSCOPE_CHECK(!r.name.empty() && r.name.find_first_of(" \t\r\n") == std::string::npos,
                   "BED item {}:{}-{}: name '{}' is empty or holds whitespace",
                   r.contig,
                   r.begin,
                   r.end,
                   r.name);
    for (const int c : r.rgb) {
        EVOSCOPE_CHECK(c >= 0 && c <= 255, "BED item {}: colour component {}", r.name, c);
    }
    return fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{},{},{}\n",
                       r.contig,
                       r.begin,
                       r.end,
                       r.name,
                       r.score,
                       r.strand,
                       r.thick_begin,
                       r.thick_end,
                       r.rgb[0],
                       r.rgb[1],
                       r.rgb[2]);
}

std::string format_bedgraph(const std::string& contig,
                            std::int64_t begin,
                            std::int64_t end,
                            float value) {
    return fmt::format("{}\t{}\t{}\t{}\n", contig, begin, end, value);
}

std::filesystem::path bgzip_and_index(const std::filesystem::path& text_path) {
    const std::filesystem::path gz_path = text_path.string() + ".gz";
    {
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(text_path.c_str(), "rb"),
                                                           &std::fclose);
        EVOSCOPE_CHECK_IO(
            in != nullptr, "{}: cannot open: {}", text_path.string(), std::strerror(errno));
        detail::BgzfPtr out(bgzf_open(gz_path.c_str(), "w"));
        EVOSCOPE_CHECK_IO(out != nullptr, "{}: cannot create", gz_path.string());
        std::vector<char> buffer(1 << 16);
        std::size_t n = 0;
        while ((n = std::fread(buffer.data(), 1, buffer.size(), in.get())) > 0) {
            EVOSCOPE_CHECK_IO(bgzf_write(out.get(), buffer.data(), n) == static_cast<ssize_t>(n),
                              "{}: write failed",
                              gz_path.string());
        }
        EVOSCOPE_CHECK_IO(std::ferror(in.get()) == 0, "{}: read failed", text_path.string());
        const int rc = bgzf_close(out.release());
        EVOSCOPE_CHECK_IO(rc == 0, "{}: closing the BGZF file failed", gz_path.string());
    }
    int rc = 0;
    {
        // htslib logs its own reason for a refused index ("unsorted positions"); ours says it.
        const detail::HtsLogSilencer quiet;
        rc = tbx_index_build(gz_path.c_str(), 0, &tbx_conf_bed);
    }
    if (rc != 0) {
        std::error_code ec;
        std::filesystem::remove(gz_path, ec);
        throw InputError(fmt::format(
            "{}: tabix could not index it (code {}); lines must be sorted by contig, then begin",
            text_path.string(),
            rc));
    }
    std::error_code ec;
    std::filesystem::remove(text_path, ec);
    EVOSCOPE_CHECK_IO(!ec, "{}: cannot remove: {}", text_path.string(), ec.message());
    return gz_path;
}

}  // namespace evoscope::genomics
