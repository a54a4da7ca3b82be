/// @file
/// Helpers shared by the libFuzzer targets: a per-process scratch folder for readers that take
/// a path, and the rule for what counts as a finding. A reader may reject bad input with an
/// evoscope::Error (FormatError, InputError, IoError...); anything else escapes
/// LLVMFuzzerTestOneInput and aborts the run: a std:: exception, an InternalError (a broken
/// invariant, i.e. a bug even when the input is bad), a crash, a sanitizer report or a hang.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
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

/// /tmp/evoscope-fuzz-<pid>/ (created on first use, reused by every input of the process,
/// removed at a normal exit; a crashed run leaves it behind for a look).
inline const std::filesystem::path& scratch_dir() {
    static const std::filesystem::path dir = [] {
        auto path = std::filesystem::temp_directory_path() /
                    ("evoscope-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(path);
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(scratch_dir(), ec);
        });
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
