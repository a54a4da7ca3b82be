/// @file
/// Logging to stderr in htslib style: `[E::context] message`. The context is the running
/// subcommand (set once by main). Macros test the level before formatting their arguments.
/// Levels (htslib's meanings): Error = the run cannot continue; Warn = something unexpected
/// happened but execution continues, perhaps degraded; Info = progress and summaries;
/// Debug = details for developers; Trace = per-item detail, very verbose.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace evoscope::log {

enum class Level : int { Off = 0, Error = 1, Warn = 2, Info = 3, Debug = 4, Trace = 5 };

/// Current threshold; messages above it are dropped. For library users (tests, benchmarks) the
/// default is Warn, or $EVOSCOPE_LOG_LEVEL; the command line sets Info (see cli/cli.cpp), or
/// $EVOSCOPE_LOG_LEVEL, before -q/-v/--verbosity.
Level level();
/// The level $EVOSCOPE_LOG_LEVEL names, if it is set and valid.
std::optional<Level> environment_level();
void set_level(Level level);
/// Maps a -v count (0 = warnings, 1 = info, 2 = debug, 3+ = trace) to a level.
Level level_from_verbosity(int verbosity);
/// Parses "off|error|warn|info|debug|trace" (case-insensitive) or a digit 0..5.
Level parse_level(std::string_view text);

/// The `[X::context]` part; main sets it to the subcommand name.
void set_context(std::string context);
const std::string& context();

/// Writes one line `[X::context] message` to stderr (and to the log file when one is set).
void write(Level level, std::string_view message);
/// Also copy log lines to this file (appended); empty path closes it.
void set_log_file(const std::string& path);

inline bool enabled(Level l) {
    return static_cast<int>(l) <= static_cast<int>(level());
}

}  // namespace evoscope::log

#define EVOSCOPE_LOG_AT(lvl, ...)                                  \
    do {                                                           \
        if (::evoscope::log::enabled(lvl)) {                       \
            ::evoscope::log::write(lvl, fmt::format(__VA_ARGS__)); \
        }                                                          \
    } while (0)

#define EVOSCOPE_LOG_ERROR(...) EVOSCOPE_LOG_AT(::evoscope::log::Level::Error, __VA_ARGS__)
#define EVOSCOPE_LOG_WARN(...) EVOSCOPE_LOG_AT(::evoscope::log::Level::Warn, __VA_ARGS__)
#define EVOSCOPE_LOG_INFO(...) EVOSCOPE_LOG_AT(::evoscope::log::Level::Info, __VA_ARGS__)
#define EVOSCOPE_LOG_DEBUG(...) EVOSCOPE_LOG_AT(::evoscope::log::Level::Debug, __VA_ARGS__)
#define EVOSCOPE_LOG_TRACE(...) EVOSCOPE_LOG_AT(::evoscope::log::Level::Trace, __VA_ARGS__)
