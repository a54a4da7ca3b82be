#include "pipelines/tracks_matrix.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <zlib.h>

#include "core/check.hpp"
#include "core/error.hpp"

namespace evoscope::pipelines {
namespace {

class GzText {
public:
    explicit GzText(const std::filesystem::path& path)
        : path_(path), gz_(gzopen(path.c_str(), "wb6")) {
        EVOSCOPE_CHECK_IO(gz_ != nullptr, "{}: cannot create", path_.string());
    }

    ~GzText() {
        if (gz_ != nullptr) {
            gzclose(gz_);
        }
    }

    GzText(const GzText&) = delete;
    GzText& operator=(const GzText&) = delete;

    void write(const std::string& text) {
        if (text.empty()) {
            return;
        }
        const int n = gzwrite(gz_, text.data(), static_cast<unsigned>(text.size()));
        EVOSCOPE_CHECK_IO(n == static_cast<int>(text.size()), "{}: write failed", path_.string());
    }

    void close() {
        const int rc = gzclose(gz_);
        gz_ = nullptr;
        EVOSCOPE_CHECK_IO(rc == Z_OK, "{}: closing failed", path_.string());
    }

private:
    std::filesystem::path path_;
    gzFile gz_;
};

std::string clean_field(const std::string& text) {
    std::string out = text.empty() ? "." : text;
    std::replace_if(
        out.begin(), out.end(), [](char c) { return c == '\t' || c == '\n' || c == '\r'; }, '_');
    return out;
}

}  // namespace

std::int64_t write_reference_point_matrix(const sae::FeatureStore& store,
                                          const std::vector<MatrixRegion>& regions,
                                          const std::vector<MatrixSample>& samples,
                                          const MatrixParams& p,
                                          const std::filesystem::path& path) {
    EVOSCOPE_CHECK(p.bin_size > 0 && p.upstream >= 0 && p.downstream >= 0 &&
                       p.upstream + p.downstream > 0 && p.upstream % p.bin_size == 0 &&
                       p.downstream % p.bin_size == 0,
                   "matrix: upstream ({}) and downstream ({}) must be multiples of the bin size "
                   "({}), not both 0",
                   p.upstream,
                   p.downstream,
                   p.bin_size);
    EVOSCOPE_CHECK(!regions.empty(), "matrix: no regions");
    EVOSCOPE_CHECK(!samples.empty(), "matrix: no samples");
    const std::int64_t window = p.upstream + p.downstream;
    const std::int64_t n_bins = window / p.bin_size;
    const std::size_t n_samples = samples.size();
    std::vector<std::int32_t> slot(static_cast<std::size_t>(store.d_sae()), -1);
    for (std::size_t s = 0; s < n_samples; ++s) {
        EVOSCOPE_CHECK(static_cast<std::int64_t>(samples[s].feature) < store.d_sae(),
                       "feature {} is not in the store (d_sae = {})",
                       samples[s].feature,
                       store.d_sae());
        slot[samples[s].feature] = static_cast<std::int32_t>(s);
    }
    std::map<std::string, std::int64_t, std::less<>> lengths;
    for (const auto& c : store.contigs()) {
        lengths.emplace(c.name, c.length);
    }

    // The header: deepTools' parameter keys in the order computeMatrix 3.5 writes them.
    using ojson = nlohmann::ordered_json;
    auto per_sample = [&](const ojson& v) {
        return ojson(std::vector<ojson>(n_samples, v));
    };
    ojson h;
    h["upstream"] = per_sample(p.upstream);
    h["downstream"] = per_sample(p.downstream);
    h["body"] = per_sample(0);
    h["bin size"] = per_sample(p.bin_size);
    h["ref point"] = per_sample(p.reference_end ? "TES" : "TSS");
    h["verbose"] = false;
    h["bin avg type"] = "mean";
    h["missing data as zero"] = false;
    h["min threshold"] = nullptr;
    h["max threshold"] = nullptr;
    h["scale"] = 1;
    h["skip zeros"] = false;
    h["nan after end"] = false;
    h["proc number"] = 1;
    h["sort regions"] = "keep";
    h["sort using"] = "mean";
    h["unscaled 5 prime"] = per_sample(0);
    h["unscaled 3 prime"] = per_sample(0);
    std::vector<std::string> labels;
    std::vector<std::int64_t> sample_bounds{0};
    for (const auto& s : samples) {
        labels.push_back(s.label);
        sample_bounds.push_back(sample_bounds.back() + n_bins);
    }
    h["group_labels"] = std::vector<std::string>{p.group_label};
    h["group_boundaries"] = std::vector<std::int64_t>{0, static_cast<std::int64_t>(regions.size())};
    h["sample_labels"] = labels;
    h["sample_boundaries"] = sample_bounds;

    GzText out(path);
    out.write("@" + h.dump() + "\n");
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> values(n_samples * static_cast<std::size_t>(window));
    std::string line;
    for (const auto& r : regions) {
        const bool minus = r.strand == '-';
        std::int64_t ref = 0;
        if (p.reference_end) {
            ref = minus ? r.begin : r.end;
        } else {
            ref = minus ? r.end : r.begin;
        }
        // The window in genomic order; for '-' the downstream flank lies to the left.
        const std::int64_t wb = ref - (minus ? p.downstream : p.upstream);
        const std::int64_t we = wb + window;
        char row_strand = minus ? '-' : '+';
        if (p.antisense) {
            row_strand = row_strand == '+' ? '-' : '+';
        }
        std::fill(values.begin(), values.end(), nan);
        if (const auto it = lengths.find(r.contig); it != lengths.end()) {
            const std::int64_t lo = std::max<std::int64_t>(0, wb);
            const std::int64_t hi = std::min(it->second, we);
            if (lo < hi) {
                const auto rows = store.read_region(r.contig, lo, hi, row_strand);
                for (std::int64_t i = 0; i < hi - lo; ++i) {
                    const auto col = static_cast<std::size_t>(lo - wb + i);
                    if (rows.covered[static_cast<std::size_t>(i)] == 0) {
                        continue;
                    }
                    for (std::size_t s = 0; s < n_samples; ++s) {
                        values[s * static_cast<std::size_t>(window) + col] = 0.0F;
                    }
                    for (auto k = rows.row_ptr[static_cast<std::size_t>(i)];
                         k < rows.row_ptr[static_cast<std::size_t>(i + 1)];
                         ++k) {
                        const std::int32_t sl = slot[rows.ids[static_cast<std::size_t>(k)]];
                        if (sl >= 0) {
                            values[static_cast<std::size_t>(sl) * static_cast<std::size_t>(window) +
                                   col] = rows.values[static_cast<std::size_t>(k)];
                        }
                    }
                }
            }
        }
        line = fmt::format("{}\t{}\t{}\t{}\t.\t{}",
                           r.contig,
                           r.begin,
                           r.end,
                           clean_field(r.name),
                           r.strand == '+' || r.strand == '-' ? r.strand : '.');
        std::vector<double> bins(static_cast<std::size_t>(n_bins));
        for (std::size_t s = 0; s < n_samples; ++s) {
            const float* v = values.data() + s * static_cast<std::size_t>(window);
            for (std::int64_t b = 0; b < n_bins; ++b) {
                double sum = 0.0;
                int n = 0;
                for (std::int64_t k = b * p.bin_size; k < (b + 1) * p.bin_size; ++k) {
                    if (!std::isnan(v[k])) {
                        sum += v[k];
                        ++n;
                    }
                }
                bins[static_cast<std::size_t>(b)] =
                    n > 0 ? sum / n : std::numeric_limits<double>::quiet_NaN();
            }
            if (minus) {
                std::reverse(bins.begin(), bins.end());
            }
            for (const double x : bins) {
                line += std::isnan(x) ? std::string("\tnan") : fmt::format("\t{:.6f}", x);
            }
        }
        line += '\n';
        out.write(line);
    }
    out.close();
    return static_cast<std::int64_t>(regions.size());
}

}  // namespace evoscope::pipelines
