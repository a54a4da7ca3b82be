/// @file
/// Outputs that are never half-written. `OutputFile` writes to a temporary file beside the
/// destination and renames it into place on `commit()`; if the object is destroyed without a
/// commit (an exception unwound past it) the temporary is removed and the destination is left
/// untouched. The path "-" means standard output, written directly.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace evoscope {

class OutputFile {
public:
    /// Opens a temporary file next to `path` (or stdout for "-").
    /// @throws InputError when the destination exists and `overwrite` is false,
    ///         IoError when the temporary cannot be created.
    explicit OutputFile(std::string path, bool overwrite = true);
    ~OutputFile();
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    /// Buffered writes; errors are detected at commit.
    void write(std::string_view text);

    /// The FILE* being written (stdout for "-"), for C APIs.
    std::FILE* handle() { return file_; }

    bool is_stdout() const { return to_stdout_; }

    const std::string& path() const { return path_; }

    /// Flushes, closes, checks for write errors and renames into place.
    /// @throws IoError on any write, close or rename failure (the temporary is removed).
    void commit();

private:
    std::string path_;
    std::string temp_path_;
    std::FILE* file_ = nullptr;
    bool to_stdout_ = false;
    bool committed_ = false;
};

/// Creates the output folder `dir` and its parents (nothing when it exists).
/// @throws IoError naming `dir` when it cannot be made (a parent is a file, no permission).
void create_output_dir(const std::filesystem::path& dir);

/// Writes `content` to `path` atomically (temporary + rename).
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

/// A temporary path next to `path`, unique to this process and call, for writers that need
/// a file name (htslib, libBigWig) and do their own writing; see `commit_temp_file`.
std::filesystem::path temp_path_for(const std::filesystem::path& path);
/// Renames `temp` onto `path`, or removes `temp` and throws IoError.
void commit_temp_file(const std::filesystem::path& temp, const std::filesystem::path& path);
/// Moves a finished output folder `temp` into place at `dir`, replacing what is there (the
/// caller checked --force). @throws IoError naming both paths; `temp` is left for the caller's
/// clean-up.
void commit_temp_dir(const std::filesystem::path& temp, const std::filesystem::path& dir);

}  // namespace evoscope
