#include "core/log.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "core/error.hpp"

namespace evoscope::log {
namespace {

Level initial_level() {
    return environment_level().value_or(Level::Warn);
}

}  // namespace

std::optional<Level> environment_level() {
    if (const char* env = std::getenv("EVOSCOPE_LOG_LEVEL"); env != nullptr && *env != '\0') {
        try {
            return parse_level(env);
        } catch (const Error&) {
            std::fprintf(stderr, "[W::log] ignoring EVOSCOPE_LOG_LEVEL=%s\n", env);
        }
    }
    return std::nullopt;
}

namespace {

std::atomic<int>& level_storage() {
    static std::atomic<int> value{static_cast<int>(initial_level())};
    return value;
}

struct Sink {
    std::mutex mutex;
    std::string context = "evoscope";
    std::FILE* file = nullptr;
};

Sink& sink() {
    static Sink s;
    return s;
}

char level_letter(Level level) {
    switch (level) {
        case Level::Error:
            return 'E';
        case Level::Warn:
            return 'W';
        case Level::Info:
            return 'I';
        case Level::Debug:
            return 'D';
        case Level::Trace:
            return 'T';
        case Level::Off:
            break;
    }
    return '?';
}

}  // namespace

Level level() {
    return static_cast<Level>(level_storage().load(std::memory_order_relaxed));
}

void set_level(Level l) {
    level_storage().store(static_cast<int>(l), std::memory_order_relaxed);
}

Level level_from_verbosity(int verbosity) {
    const int value = std::clamp(static_cast<int>(Level::Warn) + verbosity,
                                 static_cast<int>(Level::Off),
                                 static_cast<int>(Level::Trace));
    return static_cast<Level>(value);
}

Level parse_level(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    if (lower == "off" || lower == "0")
        return Level::Off;
    if (lower == "error" || lower == "1")
        return Level::Error;
    if (lower == "warn" || lower == "warning" || lower == "2")
        return Level::Warn;
    if (lower == "info" || lower == "3")
        return Level::Info;
    if (lower == "debug" || lower == "4")
        return Level::Debug;
    if (lower == "trace" || lower == "5")
        return Level::Trace;
    throw InputError("unknown log level '" + std::string(text) +
                     "' (expected off, error, warn, info, debug or trace)");
}

void set_context(std::string context) {
    std::lock_guard lock(sink().mutex);
    sink().context = std::move(context);
}

const std::string& context() {
    return sink().context;
}

void write(Level l, std::string_view message) {
    Sink& s = sink();
    std::lock_guard lock(s.mutex);
    const std::string line = fmt::format("[{}::{}] {}\n", level_letter(l), s.context, message);
    std::fwrite(line.data(), 1, line.size(), stderr);
    if (s.file != nullptr) {
        std::fwrite(line.data(), 1, line.size(), s.file);
        std::fflush(s.file);
    }
}

void set_log_file(const std::string& path) {
    Sink& s = sink();
    std::lock_guard lock(s.mutex);
    if (s.file != nullptr) {
        std::fclose(s.file);
        s.file = nullptr;
    }
    if (!path.empty()) {
        s.file = std::fopen(path.c_str(), "a");
        if (s.file == nullptr) {
            throw IoError("cannot open log file '" + path + "'");
        }
    }
}

}  // namespace evoscope::log
