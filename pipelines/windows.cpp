#include "pipelines/windows.hpp"

#include <memory>
#include <set>

#include <fmt/format.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"
#include "genomics/window.hpp"
#include "pipelines/window_source.hpp"

namespace evoscope::pipelines {
namespace {

void write_window(OutputFile& out,
                  const genomics::Window& w,
                  const WindowsOptions& config,
                  std::string& buf) {
    buf.clear();
    const auto& iv = w.interval;
    const char strand = genomics::strand_char(iv.strand);
    if (config.format == "bed") {
        append_bed6_window(buf, iv);
    } else if (config.format == "tsv") {
        fmt::format_to(std::back_inserter(buf),
                       "{}\t{}\t{}\t{}\t{}\n",
                       iv.contig,
                       iv.begin,
                       iv.end,
                       strand,
                       w.sequence);
    } else {
        fmt::format_to(
            std::back_inserter(buf), ">{}:{}-{}({})\n", iv.contig, iv.begin + 1, iv.end, strand);
        const std::size_t width =
            config.line_width > 0 ? static_cast<std::size_t>(config.line_width) : w.sequence.size();
        for (std::size_t pos = 0; pos < w.sequence.size(); pos += width) {
            buf.append(w.sequence, pos, width);
            buf.push_back('\n');
        }
    }
    out.write(buf);
}

}  // namespace

WindowsResult run_windows(const WindowsOptions& config) {
    WindowSource source(config.source);
    OutputFile out(config.output, config.force);
    if (config.format == "tsv") {
        out.write("contig\tbegin\tend\tstrand\tsequence\n");
    }
    genomics::WindowStream stream = source.stream();
    std::string buf;
    while (auto window = stream.next()) {
        write_window(out, *window, config, buf);
    }
    out.commit();
    EVOSCOPE_LOG_INFO("{} windows written from {} region(s); {} skipped with N fraction above {}",
                      stream.n_emitted(),
                      source.regions().size(),
                      stream.n_skipped_n(),
                      config.source.max_n_fraction);
    return WindowsResult{stream.n_emitted(), stream.n_skipped_n(), source.regions().size()};
}

}  // namespace evoscope::pipelines
