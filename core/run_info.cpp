#include "core/run_info.hpp"

#include <utility>

#include <fmt/format.h>

#include <sys/resource.h>

namespace evoscope {

#ifndef EVOSCOPE_VERSION
#define EVOSCOPE_VERSION "0.0.0"
#endif

const char* version_string() {
    return EVOSCOPE_VERSION;
}

namespace {

std::string& command_line_storage() {
    static std::string text;
    return text;
}

}  // namespace

const std::string& command_line() {
    return command_line_storage();
}

void set_command_line(std::string text) {
    command_line_storage() = std::move(text);
}

std::int64_t peak_rss_bytes() {
    rusage usage{};
    if (getrusage(RUSAGE_SELF, &usage) != 0) {
        return 0;
    }
    return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

double cpu_seconds() {
    rusage usage{};
    if (getrusage(RUSAGE_SELF, &usage) != 0) {
        return 0.0;
    }
    const auto secs = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
    };
    return secs(usage.ru_utime) + secs(usage.ru_stime);
}

RunClock::RunClock() : start_(std::chrono::steady_clock::now()) {}

double RunClock::wall_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string RunClock::summary(const std::string& command_line) const {
    return fmt::format(
        "Version: {}; CMD: {}; Real time: {:.3f} sec; CPU: {:.3f} sec; Peak RSS: {:.3f} GB",
        version_string(),
        command_line,
        wall_seconds(),
        cpu_seconds(),
        static_cast<double>(peak_rss_bytes()) / 1e9);
}

}  // namespace evoscope
