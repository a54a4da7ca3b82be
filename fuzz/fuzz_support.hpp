/// @file
/// Helpers shared by the libFuzzer targets: a per-process scratch folder for readers that take
/// a path, and the rule for what counts as a finding. A reader may reject bad input with an
/// evoscope::Error (FormatError, InputError, IoError...); anything else escapes
/// LLVMFuzzerTestOneInput and aborts the run: a std:: exception, an InternalError (a broken
/// invariant, i.e. a bug even when the input is bad), a crash, a sanitizer report or a hang.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <unistd.h>

#include "core/error.hpp"
#include "core/log.hpp"

namespace evoscope::fuzz {

/// /tmp/evoscope-fuzz-<pid>/ (created on first use, reused by every input of the process).
/// libFuzzer ends a run with _Exit (no atexit handlers), so instead of cleaning up at exit each
/// process removes the folders of earlier processes that are gone (no /proc/<pid>).
inline const std::filesystem::path& scratch_dir() {
    static const std::filesystem::path dir = [] {
        namespace fs = std::filesystem;
        const std::string prefix = "evoscope-fuzz-";
        const fs::path tmp = fs::temp_directory_path();
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(tmp, ec)) {
            const std::string name = entry.path().filename().string();
            if (name.starts_with(prefix) && name.size() > prefix.size() &&
                name.find_first_not_of("0123456789", prefix.size()) == std::string::npos &&
                !fs::exists(fs::path("/proc") / name.substr(prefix.size()))) {
                fs::remove_all(entry.path(), ec);
            }
        }
        auto path = tmp / (prefix + std::to_string(::getpid()));
        fs::create_directories(path);
        return path;
    }();
    return dir;
}

/// Writes `data` to `path` (replacing it).
inline void write_file(const std::filesystem::path& path, std::span<const std::uint8_t> data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
}

/// Writes the input to scratch_dir()/name and returns the path.
inline std::filesystem::path write_input(const std::uint8_t* data,
                                         std::size_t size,
                                         std::string_view name) {
    auto path = scratch_dir() / std::string(name);
    write_file(path, {data, size});
    return path;
}

/// Runs `body`, swallowing the errors a reader may raise for bad input.
template <typename Body>
int guarded(Body&& body) {
    static const bool quiet = [] {
        log::set_level(log::Level::Off);  // warnings about skipped lines would flood the run
        return true;
    }();
    (void)quiet;
    try {
        body();
    } catch (const InternalError&) {
        throw;  // an invariant broke: a finding
    } catch (const Error&) {
        // expected for malformed input
    }
    return 0;
}

}  // namespace evoscope::fuzz
