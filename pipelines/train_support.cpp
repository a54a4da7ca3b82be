#include "pipelines/train_support.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <limits>

#include <fmt/format.h>

#include <unistd.h>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"

namespace evoscope::pipelines {

namespace fs = std::filesystem;

std::string nice_number(double v) {
    const double a = std::abs(v);
    if (a >= 1e9)
        return fmt::format("{:.3g}G", v / 1e9);
    if (a >= 1e6)
        return fmt::format("{:.3g}M", v / 1e6);
    if (a >= 1e3)
        return fmt::format("{:.3g}k", v / 1e3);
    return fmt::format("{:.3g}", v);
}

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0)
        return "?";
    const auto s = static_cast<std::int64_t>(seconds + 0.5);
    if (s >= 3600)
        return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
    if (s >= 60)
        return fmt::format("{}m{:02d}s", s / 60, s % 60);
    return fmt::format("{}s", s);
}

std::optional<fs::path> latest_checkpoint(const fs::path& dir) {
    std::optional<fs::path> best;
    std::int64_t best_step = -1;
    if (!fs::is_directory(dir / "checkpoints"))
        return best;
    for (const auto& e : fs::directory_iterator(dir / "checkpoints")) {
        const std::string name = e.path().filename().string();
        if (!e.is_directory() || !name.starts_with("step-") || !fs::exists(e.path() / "state.json"))
            continue;
        try {
            const std::int64_t step = std::stoll(name.substr(5));
            if (step > best_step) {
                best_step = step;
                best = e.path();
            }
        } catch (const std::exception&) {
        }
    }
    return best;
}

ResumePoint open_resume_point(
    const std::string& run_dir,
    int version,
    const std::string& what,
    const std::function<void(const nlohmann::json& options)>& read_options) {
    const auto ckpt = latest_checkpoint(run_dir);
    EVOSCOPE_CHECK(ckpt.has_value(),
                   "--resume {}: no checkpoint found (expected {}/checkpoints/step-N/state.json)",
                   run_dir,
                   run_dir);
    ResumePoint r{*ckpt, {}};
    const fs::path file = r.dir / "state.json";
    std::ifstream in(file);
    EVOSCOPE_CHECK_IO(in.good(), "cannot read {}", file.string());
    try {
        r.state = nlohmann::json::parse(in);
        EVOSCOPE_CHECK_FORMAT(r.state.at("version").get<int>() == version,
                              "unsupported state version");
        read_options(r.state.at("options"));
        EVOSCOPE_LOG_INFO(
            "resuming from {} (step {})", r.dir.string(), r.state.at("step").get<std::int64_t>());
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(fmt::format("{}: not a valid {}: {}", file.string(), what, e.what()));
    }
    return r;
}

fs::path write_checkpoint(const fs::path& run_dir,
                          std::int64_t step,
                          const nlohmann::json& state,
                          const std::function<void(const fs::path& tmp)>& write_files) {
    const fs::path final_dir = run_dir / "checkpoints" / fmt::format("step-{}", step);
    const fs::path tmp = run_dir / "checkpoints" / fmt::format(".step-{}.tmp-{}", step, ::getpid());
    fs::remove_all(tmp);
    create_output_dir(tmp);
    write_files(tmp);
    write_file_atomic(tmp / "state.json", state.dump(1) + "\n");
    fs::remove_all(final_dir);
    fs::rename(tmp, final_dir);
    return final_dir;
}

RunFolderGuard::RunFolderGuard(fs::path run_dir)
    : dir_(std::move(run_dir)),
      existed_(fs::exists(dir_)),
      uncaught_at_start_(std::uncaught_exceptions()) {}

RunFolderGuard::~RunFolderGuard() {
    if (std::uncaught_exceptions() <= uncaught_at_start_ || existed_) {
        return;
    }
    std::error_code ec;
    if (latest_checkpoint(dir_).has_value()) {
        EVOSCOPE_LOG_WARN("the run failed; its checkpoints are kept in {} (continue with --resume)",
                          dir_.string());
        return;
    }
    fs::remove_all(dir_, ec);  // best effort: we are unwinding an exception already
}

void RunFolderGuard::open() {
    create_output_dir(dir_ / "checkpoints");
}

ProgressLine::ProgressLine(std::string tag)
    : tag_(std::move(tag)),
      enabled_(log::enabled(log::Level::Info)),
      tty_(::isatty(::fileno(stderr)) != 0),
      last_(std::chrono::steady_clock::now()) {}

ProgressLine::~ProgressLine() {
    if (open_)
        fmt::print(stderr, "\n");
}

bool ProgressLine::due(bool keep) {
    if (!enabled_)
        return false;
    const auto now = std::chrono::steady_clock::now();
    if (!keep && std::chrono::duration<double>(now - last_).count() < (tty_ ? 0.5 : 10.0))
        return false;
    last_ = now;
    return true;
}

void ProgressLine::print(const std::string& line, bool keep) {
    if (tty_ && !keep) {
        fmt::print(stderr, "\r[{}] {}\033[K", tag_, line);
        open_ = true;
    } else {
        fmt::print(stderr, "{}[{}] {}\n", open_ ? "\r\033[K" : "", tag_, line);
        open_ = false;
    }
}

std::string line_chart_svg(const std::string& title,
                           const std::string& x_label,
                           const std::string& y_label,
                           const std::vector<ChartSeries>& series,
                           bool log_y) {
    const double W = 720, H = 420, left = 70, right = 20, top = 30, bottom = 55;
    auto ty = [log_y](double y) {
        return log_y ? (y > 0 ? std::log10(y) : std::numeric_limits<double>::quiet_NaN()) : y;
    };
    double x_max = 1, y_min = std::numeric_limits<double>::infinity(), y_max = -y_min;
    for (const auto& s : series) {
        for (const auto& [x, y] : s.xy) {
            const double v = ty(y);
            if (std::isnan(v))
                continue;
            x_max = std::max(x_max, x);
            y_min = std::min(y_min, v);
            y_max = std::max(y_max, v);
        }
    }
    if (!std::isfinite(y_min)) {
        y_min = 0;
        y_max = 1;
    }
    if (y_max - y_min < 1e-9)
        y_max = y_min + 1;
    const double pad = 0.05 * (y_max - y_min);
    y_min -= pad;
    y_max += pad;
    auto px = [&](double x) {
        return left + (W - left - right) * x / x_max;
    };
    auto py = [&](double y) {
        return top + (H - top - bottom) * (y_max - y) / (y_max - y_min);
    };
    std::string s = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
        "{1}\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n"
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        "<text x=\"{2}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">{3}</text>\n",
        W,
        H,
        W / 2,
        title);
    s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n",
                     left,
                     H - bottom,
                     W - right);
    s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n",
                     left,
                     top,
                     H - bottom);
    for (int i = 0; i <= 5; ++i) {
        const double xv = x_max * i / 5.0;
        const double yv = y_min + (y_max - y_min) * i / 5.0;
        s += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"black\"/>"
            "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
            px(xv),
            H - bottom,
            H - bottom + 5,
            H - bottom + 19,
            nice_number(xv));
        const std::string label =
            log_y ? fmt::format("{:.3g}", std::pow(10.0, yv)) : fmt::format("{:.3f}", yv);
        s += fmt::format(
            "<line x1=\"{0}\" y1=\"{2:.1f}\" x2=\"{1}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
            "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
            left,
            W - right,
            py(yv),
            left - 6,
            py(yv) + 4,
            label);
    }
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     (left + W - right) / 2,
                     H - 15,
                     x_label);
    s += fmt::format(
        "<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 18 "
        "{0})\">{1}</text>\n",
        (top + H - bottom) / 2,
        y_label);
    int legend = 0;
    for (const auto& ser : series) {
        std::string pts;
        std::string marks;
        std::size_t n = 0;
        for (const auto& [x, y] : ser.xy)
            n += std::isnan(ty(y)) ? 0 : 1;
        const std::size_t every = std::max<std::size_t>(1, n / 2000);
        std::size_t i = 0;
        for (std::size_t j = 0; j < ser.xy.size(); ++j) {
            const double v = ty(ser.xy[j].second);
            if (std::isnan(v) || (i++ % every != 0 && j + 1 != ser.xy.size()))
                continue;
            const double x = px(ser.xy[j].first);
            const double y = py(v);
            pts += fmt::format("{:.1f},{:.1f} ", x, y);
            if (ser.dots)
                marks += fmt::format(
                    "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>", x, y, ser.colour);
        }
        s += fmt::format(
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>{}\n",
            ser.colour,
            pts,
            marks);
        s += fmt::format(
            "<rect x=\"{0}\" y=\"{1}\" width=\"14\" height=\"3\" fill=\"{2}\"/>"
            "<text x=\"{3}\" y=\"{4}\">{5}</text>\n",
            W - right - 150,
            top + 8 + 18 * legend,
            ser.colour,
            W - right - 130,
            top + 12 + 18 * legend,
            ser.name);
        ++legend;
    }
    s += "</svg>\n";
    return s;
}

}  // namespace evoscope::pipelines
