/// @file
/// Process facts for the closing summary line: version, command line, wall and CPU time,
/// peak resident memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace evoscope {

/// evoscope's own version string ("0.1.0").
const char* version_string();

/// The command line of this process as typed, shell-quoted where needed (provenance in outputs,
/// the closing line). Empty until set_command_line() is called (by the CLI's main).
const std::string& command_line();
void set_command_line(std::string text);

/// Peak resident set size of this process in bytes (0 if unknown).
std::int64_t peak_rss_bytes();
/// User + system CPU seconds used by this process so far.
double cpu_seconds();

/// Records the start time; `summary()` gives minimap2-style closing facts.
class RunClock {
public:
    RunClock();
    double wall_seconds() const;
    /// "Version: 0.1.0; CMD: ...; Real time: 1.234 sec; CPU: 2.345 sec; Peak RSS: 0.012 GB"
    std::string summary(const std::string& command_line) const;

private:
    std::chrono::steady_clock::time_point start_;
};

}  // namespace evoscope
