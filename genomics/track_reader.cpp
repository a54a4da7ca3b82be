#include "genomics/track_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include <bigWig.h>
#include <fmt/format.h>

#include "core/check.hpp"
#include "core/error.hpp"
#include "genomics/detail/bigwig_handles.hpp"
#include "genomics/detail/hts_handles.hpp"

namespace evoscope::genomics {
namespace {

std::size_t contig_index(const ContigSet& contigs, const ContigInfo& info) {
    const auto& all = contigs.contigs();
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].name == info.name) {
            return i;
        }
    }
    return all.size();
}

void fill(TrackValues& out,
          const ContigSet& contigs,
          const ContigInfo& info,
          std::int64_t begin,
          std::int64_t end,
          float value,
          const std::string& where) {
    EVOSCOPE_CHECK(begin >= 0 && end >= begin && end <= info.length,
                   "{}: interval {}:{}-{} is outside the contig (length {})",
                   where,
                   info.name,
                   begin,
                   end,
                   info.length);
    auto& v = out[contig_index(contigs, info)];
    if (v.empty()) {
        v.assign(static_cast<std::size_t>(info.length), std::numeric_limits<float>::quiet_NaN());
    }
    std::fill(v.begin() + begin, v.begin() + end, value);
}

TrackValues read_bigwig(const std::filesystem::path& path, const ContigSet& contigs) {
    EVOSCOPE_CHECK_IO(detail::bigwig_library_init() == 0, "libBigWig could not be initialised");
    detail::BigWigPtr bw(bwOpen(path.c_str(), nullptr, "r"));
    EVOSCOPE_CHECK_IO(bw != nullptr, "{}: cannot open as bigWig", path.string());
    TrackValues out(contigs.contigs().size());
    const chromList_t* cl = bw->cl;
    for (std::int64_t i = 0; cl != nullptr && i < cl->nKeys; ++i) {
        const std::string name = cl->chrom[i];
        const ContigInfo& info = contigs.require(name, fmt::format(" in {}", path.string()));
        std::unique_ptr<bwOverlappingIntervals_t, void (*)(bwOverlappingIntervals_t*)> iv(
            bwGetOverlappingIntervals(bw.get(), cl->chrom[i], 0, cl->len[i]),
            bwDestroyOverlappingIntervals);
        EVOSCOPE_CHECK_IO(
            iv != nullptr, "{}: cannot read the intervals of {}", path.string(), name);
        for (std::uint32_t k = 0; k < iv->l; ++k) {
            fill(out,
                 contigs,
                 info,
                 iv->start[k],
                 iv->end[k],
                 iv->value[k],
                 fmt::format("{} ({})", path.string(), name));
        }
    }
    return out;
}

TrackValues read_bedgraph(const std::filesystem::path& path, const ContigSet& contigs) {
    detail::BgzfPtr fp(bgzf_open(path.c_str(), "r"));
    EVOSCOPE_CHECK_IO(fp != nullptr, "{}: cannot open: {}", path.string(), std::strerror(errno));
    TrackValues out(contigs.contigs().size());
    detail::KString buffer;
    kstring_t& line = buffer.ks;
    std::size_t line_no = 0;
    int ret = 0;
    while ((ret = bgzf_getline(fp.get(), '\n', &line)) >= 0) {
        ++line_no;
        std::string_view text(line.s, line.l);
        if (!text.empty() && text.back() == '\r') {
            text.remove_suffix(1);
        }
        if (text.empty() || text.starts_with('#') || text.starts_with("track") ||
            text.starts_with("browser")) {
            continue;
        }
        const std::string where = fmt::format("{}:{}", path.string(), line_no);
        std::vector<std::string_view> f;
        std::size_t start = 0;
        while (f.size() < 4) {
            const std::size_t tab = text.find_first_of("\t ", start);
            f.push_back(text.substr(start, tab == std::string_view::npos ? tab : tab - start));
            if (tab == std::string_view::npos) {
                break;
            }
            start = text.find_first_not_of("\t ", tab);
            if (start == std::string_view::npos) {
                break;
            }
        }
        EVOSCOPE_CHECK_FORMAT(f.size() == 4,
                              "{}: a bedGraph line has 4 columns (contig, begin, "
                              "end, value), got {}",
                              where,
                              f.size());
        std::int64_t b = 0;
        std::int64_t e = 0;
        const bool ok_b =
            std::from_chars(f[1].data(), f[1].data() + f[1].size(), b).ec == std::errc{};
        const bool ok_e =
            std::from_chars(f[2].data(), f[2].data() + f[2].size(), e).ec == std::errc{};
        char* endp = nullptr;
        const std::string value_text(f[3]);
        const double value = std::strtod(value_text.c_str(), &endp);
        EVOSCOPE_CHECK_FORMAT(ok_b && ok_e && endp != value_text.c_str() && *endp == '\0',
                              "{}: bad bedGraph line '{}'",
                              where,
                              text);
        const ContigInfo& info = contigs.require(f[0], fmt::format(" at {}", where));
        fill(out, contigs, info, b, e, static_cast<float>(value), where);
    }
    EVOSCOPE_CHECK_IO(ret == -1, "{}: read error", path.string());
    return out;
}

}  // namespace

TrackValues read_track(const std::filesystem::path& path,
                       const ContigSet& contigs,
                       TrackFormat format) {
    if (format == TrackFormat::Auto) {
        std::string ext = path.extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) {
            return static_cast<char>(std::tolower(c));
        });
        format = (ext == ".bw" || ext == ".bigwig") ? TrackFormat::BigWig : TrackFormat::BedGraph;
    }
    return format == TrackFormat::BigWig ? read_bigwig(path, contigs)
                                         : read_bedgraph(path, contigs);
}

}  // namespace evoscope::genomics
