/// @file
/// Child processes for the stages that orchestrate commands (`evoscope run`): runs an argument
/// vector (no shell), copies the child's stderr to ours and to a log file line by line, and
/// returns its exit status, wall time and peak resident memory (wait4's rusage).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace evoscope {

struct ChildResult {
    int exit_code = -1;       ///< the child's exit status; 128 + N when killed by signal N
    double wall_seconds = 0;  ///< from spawn to exit
    double cpu_seconds = 0;   ///< user + system of the child
    std::int64_t peak_rss_bytes = 0;
    std::string last_error_line;  ///< the first stderr line starting with "[E::" (empty if none)
};

struct ChildOptions {
    std::filesystem::path stdout_path;  ///< empty: /dev/null
    std::filesystem::path log_path;     ///< stderr copied here too (truncated first); empty: none
    bool echo_stderr = true;            ///< copy the child's stderr to ours
};

/// Runs argv[0] (a path, or a name looked up in PATH) with `argv` and waits for it.
/// @throws IoError when the process cannot be started or the log cannot be written.
ChildResult run_child(const std::vector<std::string>& argv, const ChildOptions& options = {});

/// Runs `fn` in a forked copy of this process and waits for it; an evoscope::Error it throws
/// is rethrown here with the same class and message. For work whose memory should not count
/// against this process: Linux carries a process's peak RSS into every child it spawns later
/// (the high-water mark survives exec), so a parent that stays small keeps its children's
/// peak-memory figures true.
void run_in_fork(const std::function<void()>& fn);

/// Quotes `argv` for a shell (provenance, messages).
std::string shell_join(const std::vector<std::string>& argv);

/// The path of the running executable (/proc/self/exe), or `fallback` when it cannot be read.
std::filesystem::path self_executable(const std::filesystem::path& fallback = {});

}  // namespace evoscope
